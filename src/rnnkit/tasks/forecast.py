"""Forecasting task: a CSV series -> a trained :class:`~rnnkit.models.forecaster.Forecaster`, scored
on the test period beside the naive baselines.

Steps of :func:`train_forecast`:

1. read the CSV (:func:`rnnkit.data.timeseries.read_series`), build the inputs: the target first,
   then the ``features`` columns, then (``calendar=True``) the season's position as sin/cos;
2. split by time (train / validation / test, :func:`~rnnkit.data.timeseries.chronological_split`);
   fit the scaler on the training steps only and store it in the model config;
3. train with the shared :class:`~rnnkit.training.Trainer` on shuffled training windows (MSE in
   standardised units; autoregressive mode learns one-step forecasts at every step of a window);
   the weights of the best validation loss are kept;
4. score the test windows with MAE, RMSE, MAPE, sMAPE and MASE, each beside persistence (the last
   known value) and seasonal naive (the value one period earlier).

``evaluate_command`` and ``predict_command`` are what ``rnnkit evaluate`` and ``rnnkit predict``
call for a checkpoint whose ``task`` is ``"forecast"``.
"""

from __future__ import annotations

import copy
import datetime
import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import torch
from torch.nn import functional as F

from rnnkit.data.timeseries import (
    FILL_METHODS,
    StandardScaler,
    TimeSeries,
    calendar_features,
    chronological_split,
    make_windows,
    next_dates,
    read_series,
    window_starts,
)
from rnnkit.errors import RnnkitError
from rnnkit.metrics.forecasting import (
    mae,
    mape,
    persistence_forecast,
    rmse,
    seasonal_naive_forecast,
    smape,
)
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.training import (
    ShuffledBatches,
    StepOutput,
    TrainConfig,
    Trainer,
    TrainResult,
    model_device,
)

__all__ = [
    "ForecastEvaluation",
    "ForecastTaskConfig",
    "PreparedSeries",
    "evaluate_command",
    "evaluate_forecaster",
    "format_evaluation",
    "predict_command",
    "prepare_series",
    "train_forecast",
]

TASK = "forecast"
CALENDAR_NAMES = ("season_sin", "season_cos")


@dataclass
class ForecastTaskConfig:
    """What data the forecaster learns from (shared by the Python API and ``rnnkit train forecast``).

    Attributes:
        csv: the series file.
        target: the column to forecast.
        features: other value columns fed as inputs beside the target (their future is unknown,
            so they need ``mode="direct"``).
        date_column: the date column (default the first column).
        fill: ``None``, ``"ffill"`` or ``"interpolate"`` for missing values.
        lookback: input window length L.
        horizon: steps K forecast at once.
        calendar: add the season's position (day of year / month of year as sin, cos) as inputs.
        val_size, test_size: the last steps held out for validation and test (a fraction below 1,
            else a number of steps).
        period: season length for the seasonal naive baseline; 0 picks it from the dates
            (365 for daily dates, 12 for monthly, 52 for weekly, else 1).

    The batch size (training windows per step) is the Trainer's ``TrainConfig.batch_size``.
    """

    csv: str
    target: str
    features: list[str] = field(default_factory=list)
    date_column: str | None = None
    fill: str | None = None
    lookback: int = 30
    horizon: int = 1
    calendar: bool = False
    val_size: float = 0.1
    test_size: float = 0.2
    period: int = 0

    def __post_init__(self) -> None:
        if self.fill is not None and self.fill not in FILL_METHODS:
            raise RnnkitError(f"fill must be one of {', '.join(FILL_METHODS)}, got {self.fill!r}")
        for name in ("lookback", "horizon"):
            if getattr(self, name) < 1:
                raise RnnkitError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.period < 0:
            raise RnnkitError(f"period must be >= 0 (0 = from the dates), got {self.period}")
        if self.target in self.features:
            raise RnnkitError(f"the target {self.target!r} is always an input; do not list it in features")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ForecastTaskConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class PreparedSeries:
    """A series turned into model inputs (original units).

    Attributes:
        series: the parsed file.
        inputs: ``(T, F)`` the target, the feature columns, then the calendar columns.
        target: ``(T,)`` the target column.
        input_names: the names of the F input columns.
        period: the seasonal naive period in use.
    """

    series: TimeSeries
    inputs: np.ndarray
    target: np.ndarray
    input_names: list[str]
    period: int


def _auto_period(dates: list[str]) -> int:
    """Season length from the dates: 12 for monthly, 365 for daily, 52 for weekly, else 1."""
    following = next_dates(dates, 1)[0]
    if following.startswith("+"):
        return 1
    if len(following) == 7:  # YYYY-MM: monthly
        return 12
    try:
        previous = datetime.date.fromisoformat(next_dates(dates[:-1], 1)[0])
        gap = (datetime.date.fromisoformat(following) - previous).days
    except ValueError:
        return 1
    return {1: 365, 7: 52}.get(gap, 1)


def build_inputs(series: TimeSeries, task: ForecastTaskConfig) -> PreparedSeries:
    """The ``(T, F)`` inputs of a series for ``task`` (target, features, calendar)."""
    target = series.column(task.target)
    parts = [target[:, None]]
    names = [task.target]
    if task.features:
        parts.append(series.select(task.features))
        names += list(task.features)
    if task.calendar:
        parts.append(calendar_features(series.dates))
        names += list(CALENDAR_NAMES)
    period = task.period or _auto_period(series.dates)
    return PreparedSeries(series, np.concatenate(parts, axis=1), target, names, period)


def prepare_series(task: ForecastTaskConfig) -> PreparedSeries:
    """Read ``task.csv`` and build its inputs; checks that the windows fit in the series."""
    columns = [task.target, *task.features]
    if len(set(columns)) != len(columns):
        raise RnnkitError(f"a column is listed twice in target + features: {columns}")
    series = read_series(task.csv, date_column=task.date_column, columns=columns, fill=task.fill)
    window_starts(len(series), task.lookback, task.horizon)  # lookback + horizon vs the series
    return build_inputs(series, task)


# ---------------------------------------------------------------------------- evaluation


@dataclass
class ForecastEvaluation:
    """Scores of a forecaster and the baselines on one set of windows (original units).

    ``rows`` maps a metric name to ``{"model": x, "persistence": y, "seasonal naive": z}`` (a
    baseline is missing where it cannot be computed, e.g. too little history for its period).
    """

    windows: int
    horizon: int
    period: int
    first_date: str
    last_date: str
    rows: dict[str, dict[str, float]]
    forecasts: np.ndarray  # (N, K)
    actuals: np.ndarray  # (N, K)


def _future_inputs(inputs: np.ndarray, first_steps: np.ndarray, horizon: int) -> np.ndarray | None:
    """Inputs of the forecast steps after the first, ``(N, K-1, F)`` (autoregressive mode)."""
    if horizon <= 1:
        return None
    steps = first_steps[:, None] + 1 + np.arange(horizon - 1)[None, :]  # (N, K-1)
    return inputs[steps]


def evaluate_forecaster(
    model: Forecaster,
    prepared: PreparedSeries,
    start: int = 0,
    end: int | None = None,
    *,
    mase_scale: float | None = None,
    batch_size: int = 1024,
) -> ForecastEvaluation:
    """Score ``model`` on every window whose targets lie in ``[start, end)``, beside persistence and
    seasonal naive forecasts of the same steps.

    ``mase_scale`` is the in-sample MAE of persistence on the training target (MASE's denominator).
    """
    config = model.config
    if len(prepared.input_names) != config.input_size:
        raise RnnkitError(
            f"the model reads {config.input_size} input column(s), the data gives "
            f"{len(prepared.input_names)} ({', '.join(prepared.input_names)})"
        )
    inputs, actuals, first = make_windows(prepared.inputs, prepared.target, config.lookback,
                                          config.horizon, start, end)
    if len(first) == 0:
        raise RnnkitError(
            f"no complete window (lookback {config.lookback} + horizon {config.horizon}) to evaluate "
            f"in steps {start}..{(end or len(prepared.target)) - 1}"
        )
    future = _future_inputs(prepared.inputs, first, config.horizon) if config.mode == "autoregressive" else None
    chunks = []
    for i in range(0, len(first), batch_size):
        part_future = None if future is None else future[i : i + batch_size]
        chunks.append(model.predict(inputs[i : i + batch_size], part_future))
    forecasts = np.concatenate(chunks, axis=0)  # (N, K)

    candidates: dict[str, np.ndarray | None] = {"model": forecasts}
    candidates["persistence"] = persistence_forecast(prepared.target, first, config.horizon)
    try:
        candidates["seasonal naive"] = seasonal_naive_forecast(prepared.target, first, config.horizon,
                                                               prepared.period)
    except ValueError:
        candidates["seasonal naive"] = None  # not enough history for one season
    metrics: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {"MAE": mae, "RMSE": rmse}
    if not np.any(actuals == 0):
        metrics["MAPE %"] = mape
    metrics["sMAPE %"] = smape
    rows: dict[str, dict[str, float]] = {}
    for name, metric in metrics.items():
        rows[name] = {who: metric(actuals, f) for who, f in candidates.items() if f is not None}
    if mase_scale:
        rows["MASE"] = {who: mae(actuals, f) / mase_scale for who, f in candidates.items() if f is not None}
    if config.horizon > 1:
        for k in (0, config.horizon - 1):
            rows[f"MAE step {k + 1}"] = {
                who: mae(actuals[:, k], f[:, k]) for who, f in candidates.items() if f is not None
            }
    dates = prepared.series.dates
    return ForecastEvaluation(
        windows=len(first), horizon=config.horizon, period=prepared.period,
        first_date=dates[int(first[0])], last_date=dates[int(first[-1]) + config.horizon - 1],
        rows=rows, forecasts=forecasts, actuals=actuals,
    )


def format_evaluation(evaluation: ForecastEvaluation, title: str = "test") -> str:
    """A table of the model's scores beside the baselines."""
    who = ["model", "persistence", "seasonal naive"]
    header = ["metric", "model", "persistence", f"seasonal naive (period {evaluation.period})"]
    lines = [
        (f"{title}: {evaluation.windows} windows, targets {evaluation.first_date} .. "
        f"{evaluation.last_date}, horizon {evaluation.horizon}"),
        f"{header[0]:<12} {header[1]:>10} {header[2]:>12} {header[3]:>28}",
    ]
    for name, values in evaluation.rows.items():
        cells = [f"{values[w]:.4f}" if w in values else "n/a" for w in who]
        lines.append(f"{name:<12} {cells[0]:>10} {cells[1]:>12} {cells[2]:>28}")
    if "seasonal naive" not in next(iter(evaluation.rows.values())):
        lines.append(f"(seasonal naive needs {evaluation.period} steps of history before each window)")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- training


@dataclass
class ForecastRun:
    """What :func:`train_forecast` returns."""

    model: Forecaster
    prepared: PreparedSeries
    result: TrainResult
    test: ForecastEvaluation | None
    validation: ForecastEvaluation | None
    task_state: dict[str, Any]


def _task_state(task: ForecastTaskConfig, prepared: PreparedSeries, mase_scale: float | None) -> dict[str, Any]:
    return {
        "task_config": asdict(task),
        "input_names": list(prepared.input_names),
        "period": int(prepared.period),
        "mase_scale": None if mase_scale is None else float(mase_scale),
        "date_column": prepared.series.date_column,
    }


def train_forecast(
    task: ForecastTaskConfig,
    model_config: ForecasterConfig,
    train_config: TrainConfig,
    *,
    log: Callable[[str], None] | None = None,
    resume: dict[str, Any] | None = None,
) -> ForecastRun:
    """Train a forecaster on ``task.csv`` and score it on the test period (see the module docstring).

    ``model_config`` gives the architecture (cell, hidden size, mode...); its ``input_size``,
    ``horizon``, ``lookback``, ``target_index`` and scaling are filled in from ``task`` and the data.
    """
    say = log or (lambda message: print(message, file=sys.stderr))
    prepared = prepare_series(task)
    n = len(prepared.target)
    split = chronological_split(n, val_size=task.val_size, test_size=task.test_size)
    if task.features and model_config.mode == "autoregressive":
        raise RnnkitError(
            "autoregressive mode feeds its own forecasts back and cannot know the future of "
            f"--features {','.join(task.features)}; use --mode direct or drop --features"
        )
    train_starts = window_starts(n, task.lookback, task.horizon, 0, split.train_end)
    if len(train_starts) == 0:
        raise RnnkitError(
            f"the training part ({split.train_end} steps) is shorter than lookback + horizon "
            f"({task.lookback} + {task.horizon}); use a shorter lookback or smaller validation/test parts"
        )

    # Scaling from the training steps only: nothing of the validation or test period leaks in.
    input_scaler = StandardScaler.fit(prepared.inputs[: split.train_end])
    target_scaler = StandardScaler.fit(prepared.target[: split.train_end])
    config = ForecasterConfig.from_dict({
        **asdict(model_config), "input_size": len(prepared.input_names), "horizon": task.horizon,
        "lookback": task.lookback, "target_index": 0, "input_mean": [], "input_std": [],
    })
    torch.manual_seed(train_config.seed)  # the initial weights: one seed, same numbers
    model = Forecaster(config)
    model.set_scaling(input_scaler, target_scaler)
    train_target = prepared.target[: split.train_end]
    mase_scale = float(np.mean(np.abs(np.diff(train_target)))) if split.train_end > 1 else None
    mase_scale = mase_scale or None

    x_all = torch.as_tensor(input_scaler.transform(prepared.inputs), dtype=torch.float32)  # (T, F)
    y_all = torch.as_tensor(target_scaler.transform(prepared.target[:, None])[:, 0], dtype=torch.float32)  # (T,)
    steps_in = torch.as_tensor(train_starts)[:, None] + torch.arange(task.lookback)[None, :]  # (N, L)
    autoregressive = config.mode == "autoregressive"
    # Direct: the K steps after the window. Autoregressive: the next step after every window step.
    offsets = torch.arange(1, task.lookback + 1) if autoregressive else task.lookback + torch.arange(task.horizon)
    steps_out = torch.as_tensor(train_starts)[:, None] + offsets[None, :]  # (N, L or K)
    x_train, y_train = x_all[steps_in], y_all[steps_out]  # (N, L, F), (N, L or K)

    def collate(indices: list[int]):
        index = torch.as_tensor(indices)
        return x_train[index], y_train[index]

    def loss_fn(model: Forecaster, batch) -> StepOutput:
        x, y = batch
        prediction = model.step_predictions(x) if autoregressive else model(x)
        return StepOutput(F.mse_loss(prediction, y), items=len(x))

    val_starts = window_starts(n, task.lookback, task.horizon, split.train_end, split.val_end)
    eval_fn = None
    best: dict[str, Any] = {"loss": float("inf"), "state": None}
    if len(val_starts):
        x_val, y_val, first_val = make_windows(prepared.inputs, prepared.target, task.lookback, task.horizon,
                                               split.train_end, split.val_end)
        future_val = _future_inputs(prepared.inputs, first_val, task.horizon) if autoregressive else None
        y_val_z = torch.as_tensor(target_scaler.transform(y_val[..., None])[..., 0], dtype=torch.float32)
        xv = torch.as_tensor(input_scaler.transform(x_val), dtype=torch.float32)
        fv = None if future_val is None else torch.as_tensor(input_scaler.transform(future_val), dtype=torch.float32)

        def eval_fn(model: Forecaster) -> dict[str, float]:
            device = model_device(model)
            z = model(xv.to(device), None if fv is None else fv.to(device))  # (N, K)
            loss = float(F.mse_loss(z, y_val_z.to(device)))
            scale = model.config.target_std
            errors = (z.cpu().double() - y_val_z.double()).abs().mean().item() * scale
            if loss < best["loss"]:  # keep the best weights in memory for the test report
                best["loss"] = loss
                best["state"] = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
            return {"loss": loss, "mae": errors}
    else:
        say(f"note: the validation part holds no complete window (lookback {task.lookback} + horizon "
            f"{task.horizon}); training without validation")

    state = _task_state(task, prepared, mase_scale)
    batches = ShuffledBatches(len(train_starts), min(train_config.batch_size, len(train_starts)), collate,
                              seed=train_config.seed)
    say(f"forecast: {n} steps of {task.target!r} ({prepared.series.source}); inputs "
        f"{', '.join(prepared.input_names)}; train {split.train_end} / val {split.val_end - split.train_end} / "
        f"test {n - split.val_end} steps; {len(train_starts)} training windows")
    trainer = Trainer(model, train_config, batches, loss_fn, eval_fn=eval_fn, task=TASK,
                      model_config=asdict(model.config), task_state=state, unit="window", log=log)
    result = trainer.fit(resume=resume)
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.cpu()

    test = validation = None
    if split.val_end < n and len(window_starts(n, task.lookback, task.horizon, split.val_end, n)):
        test = evaluate_forecaster(model, prepared, split.val_end, n, mase_scale=mase_scale)
    if len(val_starts):
        validation = evaluate_forecaster(model, prepared, split.train_end, split.val_end, mase_scale=mase_scale)
    return ForecastRun(model, prepared, result, test, validation, state)


# ---------------------------------------------------------------------------- checkpoints and commands


def load_forecaster(checkpoint: dict[str, Any]) -> tuple[Forecaster, dict[str, Any]]:
    """Rebuild the trained model and its task state from a loaded checkpoint."""
    try:
        config = ForecasterConfig.from_dict(dict(checkpoint["model_config"]))
        model = Forecaster(config)
        model.load_state_dict(checkpoint["model_state"])
        state = dict(checkpoint["task_state"])
        ForecastTaskConfig.from_dict(dict(state["task_config"]))
        list(state["input_names"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        where = checkpoint.get("path", "the checkpoint")
        raise RnnkitError(f"{where} is not a valid forecast checkpoint: {' '.join(str(error).split())[:200]}") from error
    model.eval()
    return model, state


def _read_like_training(path: str, state: dict[str, Any], *, stdin: TextIO | None = None) -> PreparedSeries:
    """Read a series file with the columns, date column, fill and calendar of the training run."""
    task = ForecastTaskConfig.from_dict(dict(state["task_config"]))
    columns = [task.target, *task.features]
    if path == "-":
        import tempfile

        text = (stdin or sys.stdin).read()
        with tempfile.TemporaryDirectory() as folder:
            file = Path(folder) / "stdin.csv"
            file.write_text(text, encoding="utf-8")
            series = read_series(file, date_column=state.get("date_column") or task.date_column,
                                 columns=columns, fill=task.fill)
        series.source = "<stdin>"
    else:
        series = read_series(path, date_column=state.get("date_column") or task.date_column,
                             columns=columns, fill=task.fill)
    task.period = int(state.get("period") or task.period)
    return build_inputs(series, task)


def evaluate_command(args: Any, checkpoint: dict[str, Any]) -> int:
    """``rnnkit evaluate DIR --data FILE`` for a forecaster: score every complete window of FILE
    (a CSV with the training columns) beside persistence and seasonal naive; prints the table."""
    model, state = load_forecaster(checkpoint)
    data = getattr(args, "data", None)
    if not data:
        raise RnnkitError("a forecast checkpoint needs --data FILE: a CSV series with the training columns")
    prepared = _read_like_training(str(data), state)
    window_starts(len(prepared.target), model.config.lookback, model.config.horizon)
    evaluation = evaluate_forecaster(model, prepared, mase_scale=state.get("mase_scale"))
    print(format_evaluation(evaluation, title=str(Path(str(data)).name)))
    return 0


def forecast_next(model: Forecaster, prepared: PreparedSeries) -> list[dict[str, Any]]:
    """Forecast the ``horizon`` steps after the end of ``prepared``: one dict per step with its date."""
    config = model.config
    n = len(prepared.target)
    if n < config.lookback:
        raise RnnkitError(
            f"the input has {n} steps, fewer than the lookback of {config.lookback} the model reads"
        )
    window = prepared.inputs[-config.lookback:]  # (L, F)
    dates = next_dates(prepared.series.dates, config.horizon)
    future = None
    if config.mode == "autoregressive" and config.input_size > 1 and config.horizon > 1:
        # Only calendar features can be fed ahead (training refused other features in this mode).
        future = np.zeros((config.horizon - 1, config.input_size))
        future[:, 1:] = calendar_features(dates[:-1])
    values = model.predict(window, future)  # (K,)
    return [
        {"date": date, "step": k + 1, "forecast": float(value)}
        for k, (date, value) in enumerate(zip(dates, values))
    ]


def predict_command(args: Any, checkpoint: dict[str, Any]) -> int:
    """``rnnkit predict DIR --input FILE|-`` for a forecaster: read the recent history (a CSV with the
    training columns, at least ``lookback`` rows) and write the next ``horizon`` forecasts as JSON
    lines ``{"date", "step", "forecast"}`` to ``--output`` or stdout."""
    model, state = load_forecaster(checkpoint)
    source = getattr(args, "input", None)
    if not source:
        raise RnnkitError("a forecast checkpoint needs --input FILE (or - for stdin): a CSV of recent history")
    prepared = _read_like_training(str(source), state)
    rows = forecast_next(model, prepared)
    text = "".join(json.dumps(row) + "\n" for row in rows)
    output = getattr(args, "output", None)
    if output and output != "-":
        from rnnkit.checkpoint import atomic_write

        atomic_write(output, lambda file: file.write(text.encode("utf-8")))
    else:
        sys.stdout.write(text)
    return 0
