"""Many series, one global probabilistic model: the forecast task's path for panels.

What a many-series run does (see :mod:`rnnkit.tasks.forecast_config` for when a run is one):

1. read the series (:func:`rnnkit.data.panel.read_panel`: a long file with ``--series-col``, a
   wide file with ``--wide``, or one series; ``--test-data`` continues each series with its test
   steps, as M4's test files do);
2. split every series by time (:func:`~rnnkit.data.panel_windows.panel_split`: the last
   ``test_size`` steps are the test part, the ``val_size`` steps before them validation) and
   scale each series by its training part only;
3. train :class:`~rnnkit.models.panel_forecaster.PanelForecaster` (DeepAR) on windows sampled
   across all series, selecting the checkpoint by the validation windows' loss;
4. report the validation and test windows: sMAPE, MASE, OWA, MAE, RMSE, wQL, CRPS and the 80%
   interval's coverage and width, beside naive, seasonal naive (with its quantiles), Naive2 and,
   when statsmodels is installed (``rnnkit[forecast]``), ETS and Theta.

The task state's ``panel`` entry (:class:`PanelInfo`) holds what forecasting new data needs:
the layout read, the training series' ids (their embeddings), the channels, the frequency, the
feature scales, the static vocabularies and a few test windows for ``rnnkit plot``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from rnnkit.data.batching import ShuffledBatches
from rnnkit.data.panel import Panel, concat_panels, read_panel
from rnnkit.data.panel_table import table_columns
from rnnkit.data.panel_time import Frequency, time_text
from rnnkit.data.panel_windows import PanelSplit, Scales, WindowBatch, WindowSampler, panel_split
from rnnkit.errors import RnnkitError
from rnnkit.formatting import count
from rnnkit.metrics.panel_scores import Candidate, baseline_candidates, panel_rows
from rnnkit.metrics.probabilistic import DEFAULT_LEVELS, wql
from rnnkit.models.panel_forecaster import PanelForecaster, PanelForecasterConfig
from rnnkit.tasks import base
from rnnkit.tasks.base import TrainedModel
from rnnkit.training.settings import StepOutput

__all__ = ["PanelInfo", "PanelPart", "panel_setup", "read_like_training"]

ONE_SERIES = "__series__"  # the series column given to a single series read as a panel
STORED_SERIES = 50  # test windows kept in the run for ``rnnkit plot``


@dataclass
class PanelInfo:
    """What a many-series run keeps (plain data, in the checkpoint's task state)."""

    ids: list[str]  # the training series: embedding row i is series ids[i]
    channels: list[str]
    past_channels: int
    freq: str
    step: int
    period: int
    calendar: bool
    feature_scales: dict[str, Any] | None
    static_vocab: dict[str, list[str]]
    time_col: str | None
    sample: dict[str, Any] | None = None  # test windows for the views (see _store_windows)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PanelInfo:
        return cls(**data)

    @property
    def frequency(self) -> Frequency:
        return Frequency(self.freq, self.period, self.step)

    def scales(self) -> Scales | None:
        return None if self.feature_scales is None else Scales.from_dict(self.feature_scales)


@dataclass
class PanelPart:
    """One scored data set: the windows of ``part`` in ``sampler``'s panel, with each series'
    embedding row (``-1``: unseen in training) and static codes."""

    sampler: WindowSampler
    part: str
    title: str
    embed: np.ndarray  # (S,) int64
    static: np.ndarray  # (S, Z) int64


# ----------------------------------------------------------------------------- reading
def _read(d, source: Any, *, target: str | None, log=None) -> Panel:
    """``source`` read in the layout of the data section ``d``; a single series (no series
    column, not wide) becomes a panel of one series named after the target. ``target`` None:
    the known features over a forecast horizon (series, time and known columns only)."""
    columns: Any = source
    series_col = d.series_col
    if not d.series_col and not d.wide:
        _, columns = table_columns(source)
        rows = len(next(iter(columns.values()))) if columns else 0
        columns = {**columns, ONE_SERIES: np.full(rows, d.target, dtype=object)}
        series_col = ONE_SERIES
    return read_panel(
        columns,
        series_col=series_col,
        time_col=d.date_col,
        target=target,
        features=d.features if target else (),
        known_features=d.known_features,
        static=d.static_features if target else (),
        wide=d.wide,
        period=d.period or None,
        fill=d.fill,
        log=log,
    )


def read_training(d, log) -> tuple[Panel, PanelSplit]:
    """The training panel (with ``test_data`` appended to each series) and its split."""
    panel = _read(d, d.train, target=d.target, log=log)
    test = int(d.test_size)
    if d.test_data:
        more = _read(d, d.test_data, target=d.target, log=log)
        lengths = dict(zip(more.ids, more.lengths.tolist()))
        if len(set(lengths.values())) != 1:
            raise RnnkitError(
                f"test_data: expected the same number of test steps in every series, got "
                f"{min(lengths.values())} to {max(lengths.values())}"
            )
        test = next(iter(lengths.values()))
        panel = concat_panels(panel, more)
    split = panel_split(panel, d.horizon, val=int(d.val_size), test=test)
    return panel, split


def read_like_training(trained: TrainedModel, data: Any, *, target: bool = True) -> Panel:
    """``data`` read in the run's layout; the run's frequency is required of it."""
    info: PanelInfo = trained.state.panel
    d = trained.config.data
    panel = _read(d, data, target=d.target if target else None)
    if panel.freq.name != info.freq and len(panel.times) > len(panel.ids):
        raise RnnkitError(
            f"data: expected {info.freq} times as in training, got {panel.freq.name} times"
        )
    panel.freq = info.frequency
    return panel


def _codes(panel: Panel, info: PanelInfo) -> tuple[np.ndarray, np.ndarray]:
    """``(embedding rows (S,), static codes (S, Z))`` of ``panel``'s series in the training
    run's numbering; ``-1`` for a series or category unseen in training."""
    rows = {name: i for i, name in enumerate(info.ids)}
    embed = np.array([rows.get(name, -1) for name in panel.ids], dtype=np.int64)
    static = np.full((len(panel.ids), len(info.static_vocab)), -1, dtype=np.int64)
    for j, (column, names) in enumerate(info.static_vocab.items()):
        where = {v: i for i, v in enumerate(names)}
        static[:, j] = [where.get(v, -1) for v in panel.static[column]]
    return embed, static


def _mapped(batch: WindowBatch, part: PanelPart) -> tuple[WindowBatch, torch.Tensor | None]:
    """The batch with the series' embedding rows in place of panel indices, and static codes."""
    which = batch.series.numpy()
    mapped = WindowBatch(
        batch.inputs, torch.from_numpy(part.embed[which]), batch.first, batch.loc, batch.scale
    )
    static = torch.from_numpy(part.static[which]) if part.static.shape[1] else None
    return mapped, static


# ----------------------------------------------------------------------------- training
def model_sizes(config, info: PanelInfo) -> dict[str, Any]:
    """The model's settings that come from the data and the task's options."""
    d, m = config.data, config.model
    lags = list(m.lags) or ([info.period] if 1 < info.period <= d.lookback else [])
    return {
        "channels": len(info.channels),
        "past_channels": info.past_channels,
        "horizon": d.horizon,
        "lookback": d.lookback,
        "likelihood": m.likelihood,
        "quantiles": list(m.quantiles),
        "lags": lags,
        "num_series": len(info.ids) if m.series_dim else 0,
        "series_dim": max(m.series_dim, 1),
        "static_cardinalities": [len(v) for v in info.static_vocab.values()],
        "static_dim": m.static_dim,
    }


def build_model(config, info: PanelInfo, model_config=None) -> PanelForecaster:
    """The untrained model: from a checkpoint's ``model_config``, or from the config's model
    options and the data's sizes (:func:`model_sizes`)."""
    if model_config is not None:
        return PanelForecaster(PanelForecasterConfig.from_dict(dict(model_config)))
    sizes = model_sizes(config, info)
    names = {f.name for f in dataclasses.fields(PanelForecasterConfig)} - set(sizes)
    options = {k: v for k, v in config.model.to_dict().items() if k in names}
    return PanelForecaster(PanelForecasterConfig(**options, **sizes))


def auto_lookback(split: PanelSplit, horizon: int, period: int) -> int:
    """The default history length of a many-series run: ``max(2 K, 7 m)`` (two horizons, or a
    week of hours, seven seasons), but at most the median training part less the horizon, so
    that most series give training windows (Australian tourism's 20 training quarters: 12)."""
    wanted = max(2 * horizon, 7 * max(period, 1))
    room = int(np.median(split.train_end)) - horizon
    return max(1, min(wanted, room))


def _info(panel: Panel, sampler: WindowSampler, d, calendar: bool) -> PanelInfo:
    _, vocab = panel.static_codes()
    return PanelInfo(
        ids=list(panel.ids),
        channels=list(sampler.channels),
        past_channels=len(sampler.past_channels),
        freq=panel.freq.name,
        step=int(panel.freq.step),
        period=int(panel.freq.period),
        calendar=calendar,
        feature_scales=None if sampler.feature_scales is None else sampler.feature_scales.to_dict(),
        static_vocab=vocab,
        time_col=d.date_col,
    )


def _collate(sampler: WindowSampler, weighting: str, part: PanelPart) -> Callable:
    """Batch of training windows ``indices`` (a permutation's share): the windows themselves
    (``windows``), or series drawn in turn with a window of each picked by a hash of the index
    (``series``: every series as often, whatever its length)."""
    starts, series = sampler.train_starts, sampler.train_series
    counts = np.bincount(series, minlength=len(sampler.panel))
    eligible = np.flatnonzero(counts)
    first = np.cumsum(counts) - counts

    def collate(indices: list[int]):
        index = np.asarray(indices, dtype=np.int64)
        if weighting == "series":
            s = eligible[index % eligible.shape[0]]
            index = first[s] + (index * 2654435761) % counts[s]
        return _mapped(sampler.batch(starts[index], series[index]), part)

    return collate


def panel_setup(task, config, saved: Any, log) -> base.Setup:
    """The :class:`~rnnkit.tasks.base.Setup` of a many-series run (see the module's docstring)."""
    from rnnkit.tasks.forecast import ForecastState

    d, settings = config.data, config.train
    panel, split = read_training(d, log)
    if d.lookback is None:  # chosen from the data, and kept in the run's config
        d.lookback = auto_lookback(split, d.horizon, panel.freq.period)
    _check_counts(panel, config.model.likelihood)
    calendar = bool(panel.freq.calendar_names) if d.calendar is None else d.calendar
    if calendar and not panel.freq.calendar_names:
        raise RnnkitError(
            f"calendar: expected times with a calendar (dates, or steps with a period above 1), "
            f"got {panel.freq}"
        )
    sampler = WindowSampler(
        panel,
        d.lookback,
        d.horizon,
        split=split,
        scaler=d.scaler,
        calendar=calendar,
        weighting=d.weighting,
        log=log,
    )
    if len(sampler) == 0:
        raise RnnkitError(
            f"no training window: every series' training part is shorter than lookback + "
            f"horizon ({d.lookback} + {d.horizon}); use a shorter lookback or fewer test steps"
        )
    state = ForecastState.from_dict(saved) if saved is not None else None
    if state is None:
        info = _info(panel, sampler, d, calendar)
        state = ForecastState(info.channels, info.period, None, d.date_col, panel=info)
    model = build_model(config, state.panel)
    own = PanelPart(sampler, "train", "train", *_codes(panel, state.panel))
    batches = ShuffledBatches(
        len(sampler),
        min(settings.batch_size, len(sampler)),
        _collate(sampler, d.weighting, own),
        seed=settings.seed,
    )
    parts = _parts(sampler, own, log)
    state.panel.sample = _store_windows(parts.get("test"))
    _log_setup(log, panel, split, sampler, d)
    return task.scored_setup(
        config,
        model,
        batches,
        loss,
        state,
        state.to_dict(),
        parts.get("val"),
        list(parts.values()),
    )


def _check_counts(panel: Panel, likelihood: str) -> None:
    """negbin is a distribution of counts: a negative value is refused before training."""
    if likelihood != "negbin" or not (panel.values < 0).any():
        return
    at = int(np.flatnonzero(panel.values < 0)[0])
    s = int(np.searchsorted(panel.offsets, at, side="right") - 1)
    raise RnnkitError(
        f"likelihood negbin: expected counts (values >= 0), got {panel.values[at]:g} in series "
        f"{panel.ids[s]!r} at {time_text(panel.times[at])}; use gaussian or studentt"
    )


def _parts(sampler: WindowSampler, own: PanelPart, log) -> dict[str, PanelPart]:
    parts = {}
    for part, title in (("val", "validation"), ("test", "test")):
        if sampler.windows(part)[0].shape[0]:
            parts[part] = PanelPart(sampler, part, title, own.embed, own.static)
        else:
            log(f"note: no series has a complete {title} window, so there is no {title} report")
    return parts


def _log_setup(log, panel: Panel, split: PanelSplit, sampler: WindowSampler, d) -> None:
    test = split.lengths - split.val_end
    log(
        f"forecast: {count(len(panel), 'series', 'series')} of {d.target!r}, {int(panel.offsets[-1]):,} "
        f"steps ({panel.freq}); inputs {', '.join(sampler.channels)}; test {int(test.max())} "
        f"and validation {int((split.val_end - split.train_end).max())} steps at the end of each "
        f"series; lookback {d.lookback}; {len(sampler):,} training windows ({d.weighting} weighted)"
    )


def loss(model: PanelForecaster, batch) -> StepOutput:
    """The model's loss of a training batch ``(windows, static codes)``: the negative
    log-likelihood (a likelihood), the pinball loss (quantiles) or the squared error (a point
    forecast), over every step of each window (DeepAR's teacher forcing)."""
    windows, static = batch
    device = next(model.parameters()).device
    static = None if static is None else static.to(device)
    return StepOutput(model.loss(_on(windows, device), static), items=int(windows.inputs.shape[0]))


# ----------------------------------------------------------------------------- scoring
def _windows(part: PanelPart, batch_size: int):
    for batch in part.sampler.epoch(batch_size, part=part.part):
        yield _mapped(batch, part)


def _actual_and_history(part: PanelPart) -> tuple[np.ndarray, list[np.ndarray]]:
    """``(actual (N, K), history)``: each window's horizon values and its series' whole past."""
    sampler = part.sampler
    starts, series = sampler.windows(part.part)
    values = sampler.panel.values.astype(np.float64)
    first = starts + sampler.lookback
    actual = values[first[:, None] + np.arange(sampler.horizon)[None, :]]
    offsets = sampler.panel.offsets
    history = [values[offsets[s] : f] for s, f in zip(series, first)]
    return actual, history


@contextlib.contextmanager
def seeded(trained: TrainedModel) -> Iterator[None]:
    """Sample paths drawn inside come from torch's generator seeded with the run's seed (one
    seed, the same forecasts); the global generator is restored after."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(trained.config.train.seed)
        yield


def forecast_batch(trained: TrainedModel, batch: WindowBatch, static, samples: int | None = None):
    """The model's forecast of ``batch`` on the model's device, with ``samples`` paths (default
    the run's ``--samples``)."""
    device = trained.device
    static = None if static is None else static.to(device)
    num_samples = samples or trained.config.model.samples
    return trained.model.forecast(_on(batch, device), static, num_samples=num_samples)


def forecasts(trained: TrainedModel, part: PanelPart, batch_size: int = 512, samples=None):
    """The model's :class:`~rnnkit.models.panel_forecaster.ForecastOutput` of every window of
    ``part``, the sample paths (``samples``, default the run's) drawn :func:`seeded`."""
    with seeded(trained):
        outs = [forecast_batch(trained, w, s, samples) for w, s in _windows(part, batch_size)]
    return _joined(outs)


CALIBRATION_SAMPLES = 50
SPREAD_RANGE = (0.05, 20.0)  # a fitted spread outside is clipped (a degenerate validation part)


def _interval_pair(levels: np.ndarray) -> tuple[int, int] | None:
    """Indices of the levels bounding the calibrated interval: 0.1 and 0.9 (80%) when present,
    else the outermost symmetric pair; ``None`` without one."""
    levels = [round(float(v), 6) for v in levels]
    for low in [0.1, *sorted(v for v in levels if v < 0.5)]:
        high = round(1 - low, 6)
        if low in levels and high in levels:
            return levels.index(low), levels.index(high)
    return None


def calibrate(trained: TrainedModel, part: PanelPart, batch_size: int = 512) -> dict[str, float]:
    """Fit the model's ``spread`` on the windows of ``part`` (validation): the factor by which
    the quantiles' distances from the median make the 80% interval (levels 0.1 and 0.9, or the
    outermost symmetric pair) cover 80% of the values there.

    Each validation value needs a factor ``f_i`` to fall inside its stretched interval (its
    error over the interval's half on its side); the spread is their conformal quantile, the
    ``ceil((n + 1) 0.8) / n`` quantile of the ``n`` factors, which covers at least 80% of new
    values from the same distribution (split conformal prediction). A model trained by maximum
    likelihood grows too sure of itself as training goes on: on M4 Hourly its 80% interval
    covered 66% of the validation values and 68% of the test values after 10,000 steps. Returns
    the validation ``coverage`` and ``wql`` at the fitted factor and the ``spread``; nothing
    for a point model.
    """
    model: PanelForecaster = trained.model
    c = model.config
    if c.likelihood == "none" and not c.quantiles:
        return {}
    samples = min(CALIBRATION_SAMPLES, trained.config.model.samples)
    out = forecasts(trained, part, batch_size, samples)
    pair = _interval_pair(out.levels)
    if pair is None:
        return {}
    actual, _ = _actual_and_history(part)
    offsets = (out.quantiles - out.point[..., None]) / c.spread  # at spread 1
    low, high = -offsets[..., pair[0]], offsets[..., pair[1]]  # both >= 0
    error = actual - out.point
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(error > 0, error / high, np.where(error < 0, -error / low, 0.0))
    needed = np.nan_to_num(needed, nan=np.inf).reshape(-1)
    nominal = float(out.levels[pair[1]] - out.levels[pair[0]])
    rank = min(1.0, np.ceil((needed.size + 1) * nominal) / needed.size)
    c.spread = float(np.clip(np.quantile(needed, rank, method="higher"), *SPREAD_RANGE))
    scaled = out.point[..., None] + c.spread * offsets
    return {
        "coverage": float(np.mean(needed <= c.spread)),
        "wql": wql(actual, scaled, out.levels),
        "spread": c.spread,
    }


def _on(batch: WindowBatch, device: torch.device) -> WindowBatch:
    if device.type == "cpu":
        return batch
    return WindowBatch(*(getattr(batch, f.name).to(device) for f in dataclasses.fields(batch)))


def _joined(outs: list) -> Any:
    first = outs[0]

    def cat(name: str):
        parts = [getattr(o, name) for o in outs]
        return None if parts[0] is None else np.concatenate(parts, axis=0)

    return type(first)(cat("point"), cat("quantiles"), cat("samples"), first.levels)


def panel_score(trained: TrainedModel, part: PanelPart, *, baselines=True, batch_size=None):
    """The validation loss (without ``baselines``) or the whole report of one part."""
    model: PanelForecaster = trained.model
    total, n = 0.0, 0
    for windows, static in _windows(part, batch_size or 512):
        size = int(windows.inputs.shape[0])
        total += float(model.loss(windows, static)) * size
        n += size
    metrics = {"loss": total / max(n, 1)}
    if part.part == "val":  # validation fits the interval's spread (and the report re-fits it
        metrics.update(calibrate(trained, part, batch_size or 512))  # for the best weights)
    if not baselines:
        return base.Scores(metrics)
    out = forecasts(trained, part, batch_size or 512)
    actual, history = _actual_and_history(part)
    info: PanelInfo = trained.state.panel
    model_candidate = Candidate(out.point, out.quantiles, out.levels, out.samples)
    levels = DEFAULT_LEVELS if out.quantiles is None else out.levels
    candidates = {
        "model": model_candidate,
        **baseline_candidates(history, actual.shape[1], info.period, levels),
    }
    details = _classical(candidates, history, actual.shape[1], info.period, levels, part)
    rows = panel_rows(actual, candidates, history, info.period)
    metrics["mae"] = rows["MAE"]["model"]
    metrics["smape"] = rows["sMAPE %"]["model"]
    return base.Scores(metrics, base.Report(_title(part, actual), rows, details=details))


def _classical(candidates, history, horizon, period, levels, part) -> list[str]:
    """ETS and Theta on the test part when statsmodels is installed, else a note saying so."""
    if part.part != "test":
        return []
    try:
        from rnnkit.metrics.classical import classical_candidates

        found, notes = classical_candidates(history, horizon, period, levels, time_limit=120.0)
    except RnnkitError as error:  # the extra is missing
        return [f"(ETS and Theta not computed: {error})"]
    candidates.update(found)
    return notes


def _title(part: PanelPart, actual: np.ndarray) -> str:
    sampler = part.sampler
    series = np.unique(sampler.windows(part.part)[1]).shape[0]
    return (
        f"{part.title}: {count(actual.shape[0], 'window')} of {count(series, 'series', 'series')}, "
        f"horizon {actual.shape[1]}; seasonal naive with period {sampler.panel.freq.period}"
    )


def _store_windows(part: PanelPart | None, limit: int | None = STORED_SERIES) -> dict | None:
    """The last window of ``part`` in up to ``limit`` series (None: all), as plain data for the
    views."""
    if part is None:
        return None
    sampler = part.sampler
    starts, series = sampler.windows(part.part)
    last = np.flatnonzero(np.r_[series[1:] != series[:-1], True])[:limit]
    batch = sampler.batch(starts[last], series[last])
    times = sampler.panel.times
    span = starts[last][:, None] + np.arange(sampler.lookback + sampler.horizon)[None, :]
    return {
        "ids": [sampler.panel.ids[s] for s in series[last]],
        "inputs": batch.inputs,
        "loc": batch.loc,
        "scale": batch.scale,
        "embed": torch.from_numpy(part.embed[series[last]]),
        "static": torch.from_numpy(part.static[series[last]]),
        "times": [[time_text(t) for t in row] for row in times[span]],
        "values": torch.from_numpy(sampler.panel.values[span].astype(np.float64)),
    }
