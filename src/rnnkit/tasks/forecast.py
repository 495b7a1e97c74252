"""Forecasting: a CSV time series -> a :class:`~rnnkit.models.forecaster.Forecaster`, scored beside
the naive baselines.

Python API::

    import rnnkit

    run = rnnkit.train("forecast", {"data": {"train": "temps.csv", "target": "Temp"}})
    print(run.reports[-1].rows["MAE"])      # {"model": 1.69, "persistence": 2.04, ...}
    model = rnnkit.load("runs/forecast")
    rnnkit.predict(model, "recent.csv")     # the next ``horizon`` values, with their dates

What :meth:`ForecastTask.setup` does:

1. read the CSV (:func:`rnnkit.data.timeseries.read_series`) and build the inputs: the target
   first, then the ``features`` columns, then (``calendar``) the season's position as sin/cos;
2. split by time (train / validation / test, :func:`~rnnkit.data.timeseries.chronological_split`)
   and fit the scaling on the training steps only (stored in the model config);
3. train on shuffled training windows (MSE in standardised units; autoregressive mode learns
   one-step forecasts at every step of a window);
4. report the validation and test windows with MAE, RMSE, MAPE, sMAPE and MASE, each beside
   persistence (the last known value) and seasonal naive (the value one period earlier).

The checkpoint's task state holds the config, the input column names, the seasonal period, the
MASE scale (the in-sample MAE of persistence on the training target) and the date column.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from rnnkit.data.batching import ShuffledBatches
from rnnkit.data.timeseries import (
    StandardScaler,
    calendar_features,
    make_windows,
    next_dates,
    window_starts,
)
from rnnkit.errors import RnnkitError
from rnnkit.export import forecaster_spec
from rnnkit.formatting import count
from rnnkit.metrics.forecasting import (
    mae,
    mape,
    persistence_forecast,
    rmse,
    seasonal_naive_forecast,
    smape,
)
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.tasks import base
from rnnkit.tasks.base import Task, TrainedModel, register
from rnnkit.tasks.forecast_config import (
    ForecastConfig,
    ForecastData,
    ForecastModel,
    is_panel,
    panel_defaults,
)
from rnnkit.tasks.forecast_panel import PanelInfo, build_model, panel_score, panel_setup
from rnnkit.tasks.forecast_panel_io import panel_evaluate, panel_predict, panel_views
from rnnkit.tasks.forecast_series import (  # noqa: F401 - build_inputs: its home before
    CALENDAR_NAMES,
    Prepared,
    _read,
    _read_split,
    _stored_test,
    _test_part,
    build_inputs,
)
from rnnkit.tasks.inspecting import store_sample
from rnnkit.training.settings import StepOutput

__all__ = ["ForecastConfig", "ForecastData", "ForecastModel", "ForecastTask", "forecast_windows"]


@dataclass
class ForecastState:
    input_names: list[str]
    period: int  # of the seasonal naive baseline
    mase_scale: float | None  # in-sample MAE of persistence on the training target
    date_column: str | None  # of the training file (None: it had none)
    sample: dict[str, Any] | None = None  # what plot and inspect read (see store_sample)
    panel: PanelInfo | None = None  # a many-series run's (rnnkit.tasks.forecast_panel)

    def to_dict(self) -> dict[str, Any]:
        return {
            "input_names": list(self.input_names),
            "period": self.period,
            "mase_scale": self.mase_scale,
            "date_column": self.date_column,
            **({"sample": self.sample} if self.sample else {}),
            **({"panel": self.panel.to_dict()} if self.panel else {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> ForecastState:
        scale = data["mase_scale"]
        return cls(
            [str(n) for n in data["input_names"]],
            int(data["period"]),
            None if scale is None else float(scale),
            data["date_column"],
            data.get("sample"),
            PanelInfo.from_dict(data["panel"]) if data.get("panel") else None,
        )


def forecast_windows(
    model: Forecaster,
    prepared: Prepared,
    start: int = 0,
    end: int | None = None,
    batch_size: int = 1024,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(forecasts (N, K), actuals (N, K), first target steps (N,))`` of every window whose
    targets lie in ``[start, end)``, in original units, ``batch_size`` windows at a time."""
    c = model.config
    inputs, actuals, first = make_windows(
        prepared.inputs, prepared.target, c.lookback, c.horizon, start, end
    )
    if len(first) == 0:
        raise RnnkitError(
            f"no complete window (lookback {c.lookback} + horizon {c.horizon}) in "
            f"steps {start}..{(end or len(prepared.target)) - 1}"
        )
    future = None
    if c.mode == "autoregressive" and c.horizon > 1:  # the inputs of the steps after the first
        future = prepared.inputs[first[:, None] + 1 + np.arange(c.horizon - 1)[None, :]]
    chunks = [
        model.predict(
            inputs[i : i + batch_size], None if future is None else future[i : i + batch_size]
        )
        for i in range(0, len(first), batch_size)
    ]
    return np.concatenate(chunks, axis=0), actuals, first


def _candidates(
    forecasts: np.ndarray, first: np.ndarray, prepared: Prepared
) -> dict[str, np.ndarray]:
    """The model's ``(N, K)`` forecasts beside persistence and (given a season of history before
    every window) seasonal naive, for the windows whose targets start at ``first``."""
    horizon, target = forecasts.shape[1], prepared.target
    candidates = {"model": forecasts, "persistence": persistence_forecast(target, first, horizon)}
    try:
        candidates["seasonal naive"] = seasonal_naive_forecast(
            target, first, horizon, prepared.period
        )
    except ValueError:
        pass  # too little history for one season: n/a
    return candidates


def _report(
    title: str,
    forecasts: np.ndarray,
    actuals: np.ndarray,
    first: np.ndarray,
    prepared: Prepared,
    mase_scale: float | None,
) -> base.Report:
    horizon, period = actuals.shape[1], prepared.period
    candidates = _candidates(forecasts, first, prepared)
    metrics = {"MAE": mae, "RMSE": rmse}
    if not np.any(actuals == 0):
        metrics["MAPE %"] = mape
    metrics["sMAPE %"] = smape
    if mase_scale:
        metrics["MASE"] = lambda y, f: mae(y, f) / mase_scale
    if horizon > 1:
        for k in (0, horizon - 1):
            metrics[f"MAE step {k + 1}"] = lambda y, f, k=k: mae(y[:, k], f[:, k])
    rows = {
        name: {who: metric(actuals, f) for who, f in candidates.items()}
        for name, metric in metrics.items()
    }
    dates = prepared.series.dates
    details = (
        []
        if "seasonal naive" in candidates
        else [f"(seasonal naive needs {period} steps of history before each window)"]
    )
    return base.Report(
        f"{title}: {count(len(first), 'window')}, targets {dates[int(first[0])]} .. "
        f"{dates[int(first[-1]) + horizon - 1]}, horizon {horizon}; seasonal naive with "
        f"period {period}",
        rows,
        details=details,
    )


def _training_windows(
    model: Forecaster, prepared: Prepared, starts: np.ndarray, lookback: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Standardised training windows ``(N, L, F)`` and their targets: the K steps after each
    window (direct), or the next step after every window step (autoregressive), ``(N, K or L)``."""
    x_all = torch.as_tensor(model.input_scaler.transform(prepared.inputs), dtype=torch.float32)
    y_all = torch.as_tensor(
        model.target_scaler.transform(prepared.target[:, None])[:, 0], dtype=torch.float32
    )  # (T,)
    first = torch.as_tensor(starts)[:, None]
    offsets = (
        torch.arange(1, lookback + 1)
        if model.config.mode == "autoregressive"
        else lookback + torch.arange(model.config.horizon)
    )
    return x_all[first + torch.arange(lookback)[None, :]], y_all[first + offsets[None, :]]


def _end_to_end(first: np.ndarray, horizon: int) -> np.ndarray:
    """Indices of the windows (their first forecast steps ``first``, increasing) that cover the
    period without overlap, counted back from the last window, in time order."""
    picked, start = [], None
    for i in range(len(first) - 1, -1, -1):
        if start is None or first[i] + horizon <= start:
            picked.append(i)
            start = first[i]
    return np.array(picked[::-1], dtype=np.int64)


class ForecastTask(Task):
    name = "forecast"
    config_class = ForecastConfig
    model_class = Forecaster
    model_config_class = ForecasterConfig
    state_class = ForecastState
    view_data = True
    help = "forecaster on a CSV time series, or one probabilistic model of many series"
    description = (
        "Train a recurrent forecaster on a CSV file with a header: a date column (the first "
        "unless named) and value columns. The series is split by time (train, validation, then "
        "the last test part; nothing shuffled across time), scaled with training statistics only, "
        "and the validation and test windows are scored with MAE, RMSE, MAPE, sMAPE and MASE "
        "beside persistence and seasonal naive. Many series (--series-col for a long file, --wide "
        "for a column per series) train one global probabilistic model (DeepAR), scored with "
        "wQL, CRPS, interval coverage, sMAPE, MASE and OWA beside naive, seasonal naive, Naive2 "
        "and, with rnnkit[forecast], ETS and Theta; see docs/forecasting-many.md."
    )
    examples = """examples:
  rnnkit train forecast --data daily-min-temperatures.csv --target Temp --calendar --cell gru
  rnnkit train forecast --data airline-passengers.csv --target Passengers --lookback 24 \\
      --test-size 24 --val-size 12 --residual
  rnnkit evaluate runs/forecast --data recent.csv
  (head -n 1 recent.csv; tail -n 40 recent.csv) | rnnkit predict runs/forecast --input -
  rnnkit train forecast --data Hourly-train-long.csv --test-data Hourly-test-long.csv \\
      --series-col series --target value --horizon 48 --period 24 --out runs/m4
  rnnkit predict runs/m4 --input Hourly-train-long.csv --output forecasts.csv"""
    unit = "window"
    one_record_per_input = False  # predict gives the steps after the whole history
    predict_hint = (
        "a CSV of recent history with the training columns and its header line (at "
        "least lookback rows); outputs the next horizon values with their dates (many series: "
        "one record per series and step with its quantiles; --future for known features)"
    )

    def defaults(self, given) -> dict[str, Any]:
        return panel_defaults(super().defaults(given), given)

    def restore(self, config: ForecastConfig, saved, model_config):
        if not saved.get("panel"):
            return super().restore(config, saved, model_config)
        state = ForecastState.from_dict(saved)
        return build_model(config, state.panel, model_config), state

    def setup(self, config: ForecastConfig, saved: Any, log) -> base.Setup:
        if is_panel(config):
            return panel_setup(self, config, saved, log)
        d, settings = config.data, config.train
        prepared, train_end, starts, parts = _read_split(d, log)
        train_target = prepared.target[:train_end]
        scale = float(np.mean(np.abs(np.diff(train_target)))) if train_end > 1 else 0.0
        state = (
            ForecastState.from_dict(saved)
            if saved is not None
            else ForecastState(
                prepared.names, prepared.period, scale or None, prepared.series.date_column
            )
        )
        model, _ = self.restore(config, state.to_dict(), None)
        model.set_scaling(
            StandardScaler.fit(prepared.inputs[:train_end]), StandardScaler.fit(train_target)
        )
        x_train, y_train = _training_windows(model, prepared, starts, d.lookback)

        batch_size = min(settings.batch_size, len(starts))
        batches = ShuffledBatches(
            len(starts), batch_size, lambda i: (x_train[i], y_train[i]), seed=settings.seed
        )
        state.sample = store_sample(batches, test=_test_part(prepared, parts, d))
        sets = {part: (prepared, bounds, part) for part, bounds in parts.items()}
        val, reported = sets.get("validation"), list(sets.values())
        return self.scored_setup(
            config, model, batches, self.loss(config), state, state.to_dict(), val, reported
        )

    def loss(self, config: ForecastConfig) -> Callable[[Forecaster, Any], StepOutput]:
        """Mean squared error of a batch ``(windows (N, L, F), targets (N, K or L))`` of
        standardised values: the K steps after each window, or (autoregressive) every next step."""
        autoregressive = config.model.mode == "autoregressive"

        def loss_fn(model: Forecaster, batch) -> StepOutput:
            x, y = batch
            prediction = model.step_predictions(x) if autoregressive else model(x)
            return StepOutput(F.mse_loss(prediction, y), items=len(x))

        return loss_fn

    def sizes(self, config, state) -> dict[str, Any]:
        d = config.data
        return {"input_size": len(state.input_names), "horizon": d.horizon, "lookback": d.lookback}

    def evaluate(
        self, trained: TrainedModel, data: Any = None, *, batch_size=None
    ) -> list[base.Report]:
        """Scores of every complete window of ``data`` beside persistence and seasonal naive.

        ``data``: a CSV file with the training columns and a header line (``"-"``: standard
        input), or a :class:`~rnnkit.data.timeseries.TimeSeries` holding those columns.
        ``batch_size``: windows per batch (default 1024).
        """
        if trained.state.panel is not None:
            return panel_evaluate(trained, data, batch_size)
        prepared, name = _read(trained, data)
        c = trained.model.config
        window_starts(len(prepared.target), c.lookback, c.horizon)
        return [self.score(trained, (prepared, (0, None), name), batch_size=batch_size).report]

    def score(self, trained: TrainedModel, data, *, baselines=True, batch_size=None) -> base.Scores:
        """``data``: ``(prepared series, (start, end) of the scored targets, title)``;
        ``batch_size``: windows a batch (default 1024). The loss is the mean squared error in
        standardised units."""
        if trained.state.panel is not None:
            return panel_score(trained, data, baselines=baselines, batch_size=batch_size)
        prepared, bounds, title = data
        model = trained.model
        found = forecast_windows(model, prepared, *bounds, batch_size=batch_size or 1024)
        forecasts, actuals, _ = found
        errors = (forecasts - actuals) / model.target_scaler.divisor[0]
        metrics = {"loss": float(np.mean(errors**2)), "mae": mae(actuals, forecasts)}
        if not baselines:
            return base.Scores(metrics)
        return base.Scores(metrics, _report(title, *found, prepared, trained.state.mase_scale))

    def views(
        self, trained: TrainedModel, data: Any = None, *, evals=(), series=None
    ) -> list[base.View]:
        """The actual series against the model's forecasts, persistence and seasonal naive (the
        report's baselines) over the test period, or over every window of ``data`` (as for
        :meth:`evaluate`). With a horizon above 1, whole windows are drawn end to end (the last
        window, the one ``horizon`` steps before it, ...), so each line shows forecasts 1 to
        ``horizon`` steps ahead, and one test window shows its whole horizon."""
        if trained.state.panel is not None:
            return panel_views(trained, data, series)
        if data is None:
            prepared, bounds = _stored_test(trained)
            title = "test period"
        else:
            (prepared, title), bounds = _read(trained, data), (0, None)
        forecasts, actuals, first = forecast_windows(trained.model, prepared, *bounds)
        candidates = _candidates(forecasts, first, prepared)
        horizon = actuals.shape[1]
        picked = _end_to_end(first, horizon)
        steps = (first[picked, None] + np.arange(horizon)).reshape(-1)
        lines = {"actual": actuals[picked].reshape(-1)}
        lines.update({k: v[picked].reshape(-1) for k, v in candidates.items()})
        step = "" if horizon == 1 else f" (windows of {horizon} steps, end to end)"
        return [
            base.View(
                "series",
                f"forecasts{step} of {trained.config.data.target}: {title}",
                [prepared.series.dates[int(t)] for t in steps],
                {name: [float(v) for v in values] for name, values in lines.items()},
                xlabel="date",
                ylabel=str(trained.config.data.target),
            )
        ]

    def inspect(self, trained: TrainedModel, text: str | None = None, *, chars: int = 2000):
        """The inspect page's views: the test forecasts that ``rnnkit plot`` draws (with their
        intervals for a probabilistic run); none when the run has no test part."""
        try:
            return {"views": self.views(trained)}
        except RnnkitError:
            return {}

    def export_spec(self, trained: TrainedModel) -> base.ExportSpec:
        if trained.state.panel is not None:
            raise RnnkitError(
                "export: a many-series (DeepAR) run samples its forecasts step by step and is not "
                "exported; export a single-series run"
            )
        c = trained.model.config
        metadata = {"lookback": str(c.lookback), "horizon": str(c.horizon), "mode": c.mode}
        return forecaster_spec(trained.model, self.name, metadata)

    def example(self, folder: Path) -> base.Example:
        days = [datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in range(120)]
        rows = [f"{d},{10 + 5 * np.sin(i / 6):.3f}" for i, d in enumerate(days)]
        (folder / "temps.csv").write_text("Date,Temp\n" + "\n".join(rows) + "\n", "utf-8")
        (folder / "bad.csv").write_text("Date,Rain\n2020-01-01,3\n", encoding="utf-8")
        data = {"csv": str(folder / "temps.csv"), "target": "Temp", "lookback": 10}  # older name
        return base.Example(
            {
                "data": data,
                "model": {"hidden_size": 8},
                "train": {"max_steps": 4, "eval_every": 2, "save_every": 2, "batch_size": 8},
            },
            data["csv"],
            data["csv"],
            {"data": {**data, "csv": str(folder / "bad.csv")}},
        )

    def predict(
        self, trained: TrainedModel, inputs: Any, *, future: Any = None
    ) -> list[dict[str, Any]]:
        """The ``horizon`` values after the end of ``inputs``: the recent history (a CSV file with
        the training columns and a header line, at least ``lookback`` rows; ``"-"``: standard
        input; or a :class:`~rnnkit.data.timeseries.TimeSeries`).

        One record per forecast step ``k`` (1..horizon): ``{"line": k, "date", "step": k,
        "forecast"}`` (6 significant digits). The whole input is one history, so ``"line"`` here
        is the output line, the step, not an input line.
        """
        if trained.state.panel is not None:
            return panel_predict(trained, inputs, future)
        if future is not None:
            raise RnnkitError(
                "future: expected none for a single-series run (it has no known features), got "
                f"{future!r}"
            )
        prepared, name = _read(trained, inputs)
        c = trained.model.config
        if len(prepared.target) < c.lookback:
            raise RnnkitError(
                f"{name} has {len(prepared.target)} steps, fewer than the lookback "
                f"of {c.lookback} the model reads"
            )
        dates = next_dates(prepared.series.dates, c.horizon)
        future = None
        if c.mode == "autoregressive" and c.input_size > 1 and c.horizon > 1:
            # Only calendar inputs can be fed ahead (features need mode direct).
            future = np.zeros((c.horizon - 1, c.input_size))
            future[:, 1:] = calendar_features(dates[:-1])
        values = trained.model.predict(prepared.inputs[-c.lookback :], future)  # (K,)
        return [
            {"line": k, "date": date, "step": k, "forecast": float(f"{value:.6g}")}
            for k, (date, value) in enumerate(zip(dates, values), start=1)
        ]


register(ForecastTask())
