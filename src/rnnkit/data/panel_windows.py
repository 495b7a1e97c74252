"""Training windows over many series: the time split, per-series scaling and the window sampler.

1. :func:`panel_split`: in every series the last ``test`` steps are the test part and the ``val``
   steps before them the validation part (both default to the horizon, as in M4); the training
   part is everything earlier.
2. :func:`fit_scales`: one scale per series, fitted on that series' *training part only*:
   ``"mean"`` divides by the mean absolute value (DeepAR's scaling, loc 0) and ``"standard"``
   subtracts the mean and divides by the standard deviation. A scale of 0 (an all-zero or constant
   training part) becomes 1. The model may be given ``log(scale)`` as an input, as DeepAR does.
3. :class:`WindowSampler`: the windows ``lookback + horizon`` long whose targets lie in a part,
   built once as index arrays (one global start per window) into the panel's concatenated steps;
   a batch is one gather from a ``torch.unfold`` view of the panel, no copy per sample.

A window's tensor is ``(N, L + K, C)``: ``C`` channels, in this order: the scaled target, the
past-only features, the known features, the calendar features (``channels`` names them). Steps
``[0, L)`` are the history, ``[L, L + K)`` the horizon; a model must read only the known and
calendar channels of the horizon.

Feature channels (past-only and known) are standardised per column over the training parts of
all series (:func:`fit_feature_scales`); calendar channels lie in [-1, 1] already.
:func:`forecast_inputs` lays out the inputs of a forecast past the end of each series the same way.

Weighting: ``"windows"`` (default) visits every training window once per epoch, so a long series
counts more; ``"series"`` draws as many windows per epoch, each from a series drawn uniformly,
then a window drawn uniformly in it, so every series counts the same.

Legend: S = series, N = windows (batch), L = lookback, K = horizon, C = channels.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rnnkit.data.panel import Panel
from rnnkit.errors import RnnkitError, shown, shown_names

__all__ = [
    "SCALERS",
    "PanelSplit",
    "Scales",
    "WindowBatch",
    "WindowSampler",
    "fit_feature_scales",
    "fit_scales",
    "forecast_inputs",
    "panel_channels",
    "panel_split",
]

SCALERS = ("mean", "standard")
WEIGHTINGS = ("windows", "series")
PARTS = ("train", "val", "test")


@dataclass(frozen=True)
class PanelSplit:
    """Per series ``s``: train ``[0, train_end[s])``, validation ``[train_end[s], val_end[s])``,
    test ``[val_end[s], length[s])`` (positions within the series)."""

    lengths: np.ndarray  # (S,)
    train_end: np.ndarray  # (S,)
    val_end: np.ndarray  # (S,)

    def bounds(self, part: str) -> tuple[np.ndarray, np.ndarray]:
        """``(start (S,), end (S,))`` of ``"train"``, ``"val"`` or ``"test"`` in each series."""
        if part == "train":
            return np.zeros_like(self.train_end), self.train_end
        if part == "val":
            return self.train_end, self.val_end
        if part == "test":
            return self.val_end, self.lengths
        raise RnnkitError(f"part: expected one of {', '.join(PARTS)}, got {part!r}")


def panel_split(panel: Panel, horizon: int, *, val: int | None = None, test: int | None = None):
    """The time split of every series: test = the last ``test`` steps (default ``horizon``),
    validation = the ``val`` steps before (default ``horizon``; 0: none). A series too short to
    keep a training step gets an empty training part (the sampler skips it and says so)."""
    if horizon < 1:
        raise RnnkitError(f"horizon: expected >= 1, got {horizon}")
    val = horizon if val is None else val
    test = horizon if test is None else test
    for name, value in (("val", val), ("test", test)):
        if value < 0:
            raise RnnkitError(f"{name}: expected >= 0 steps, got {value}")
    lengths = panel.lengths
    val_end = np.maximum(lengths - test, 0)
    return PanelSplit(lengths, np.maximum(val_end - val, 0), val_end)


@dataclass(frozen=True)
class Scales:
    """``x_scaled = (x - loc[s]) / scale[s]`` for series ``s``; ``(S,)`` float32 each."""

    kind: str
    loc: np.ndarray
    scale: np.ndarray

    def transform(self, series: int | np.ndarray, values: np.ndarray) -> np.ndarray:
        return (values - self.loc[series]) / self.scale[series]

    def inverse(self, series: int | np.ndarray, values: np.ndarray) -> np.ndarray:
        return values * self.scale[series] + self.loc[series]

    def to_dict(self) -> dict[str, Any]:
        """Plain lists of floats, for checkpoints loaded with ``weights_only=True``."""
        return {"kind": self.kind, "loc": self.loc.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Scales:
        try:
            loc = np.asarray(data["loc"], dtype=np.float32)
            return cls(str(data["kind"]), loc, np.asarray(data["scale"], dtype=np.float32))
        except (KeyError, TypeError, ValueError) as error:
            raise RnnkitError(
                f"scales: expected keys 'kind', 'loc' and 'scale', got {shown(data)}"
            ) from error


def _training_steps(panel: Panel, split: PanelSplit) -> tuple[np.ndarray, np.ndarray]:
    """``(series (total,), train (total,) bool)``: each step's series and whether it lies in its
    series' training part."""
    series = np.repeat(np.arange(len(panel)), panel.lengths)
    position = np.arange(panel.values.shape[0]) - panel.offsets[:-1][series]
    return series, position < split.train_end[series]


def _safe(scale: np.ndarray, loc: np.ndarray) -> np.ndarray:
    """A scale of (about) 0 becomes 1: a constant stays a constant, and nothing divides by 0."""
    return np.where(scale > 1e-8 * np.maximum(1.0, np.abs(loc)), scale, 1.0)


def fit_scales(panel: Panel, split: PanelSplit, kind: str = "mean") -> Scales:
    """One scale per series from its training part only (see the module's docstring)."""
    if kind not in SCALERS:
        raise RnnkitError(f"scaler: expected one of {', '.join(SCALERS)}, got {kind!r}")
    counts = split.train_end.astype(np.int64)
    series, train = _training_steps(panel, split)
    values = panel.values.astype(np.float64)
    n = np.maximum(counts, 1)

    def per_series(x: np.ndarray) -> np.ndarray:
        return np.bincount(series[train], weights=x[train], minlength=len(panel)) / n

    if kind == "mean":
        loc = np.zeros(len(panel))
        scale = per_series(np.abs(values))
    else:
        loc = per_series(values)
        scale = np.sqrt(np.maximum(per_series(values**2) - loc**2, 0.0))
    scale = np.where(counts > 0, _safe(scale, loc), 1.0)
    return Scales(kind, loc.astype(np.float32), scale.astype(np.float32))


def fit_feature_scales(panel: Panel, split: PanelSplit) -> Scales:
    """One standardisation per feature column (past-only, then known), over the training parts
    of all series: ``(F + K,)`` loc and scale. Calendar features need none (they lie in [-1, 1])."""
    matrix = np.concatenate([panel.features, panel.known], axis=1).astype(np.float64)
    _, train = _training_steps(panel, split)
    rows = matrix[train] if train.any() else matrix
    loc = rows.mean(axis=0) if rows.shape[0] else np.zeros(matrix.shape[1])
    scale = _safe(rows.std(axis=0), loc) if rows.shape[0] else np.ones(matrix.shape[1])
    return Scales("standard", loc.astype(np.float32), scale.astype(np.float32))


def panel_channels(
    panel: Panel, calendar: bool, feature_scales: Scales | None
) -> tuple[np.ndarray, list[str]]:
    """``(data (total, C) float32, names)``: the target (unscaled), the past-only features, the
    known features (standardised with ``feature_scales``), the calendar features."""
    features = np.concatenate([panel.features, panel.known], axis=1)
    if feature_scales is not None and features.shape[1]:
        features = (features - feature_scales.loc) / feature_scales.scale
    cal = panel.calendar() if calendar else np.zeros((panel.values.shape[0], 0), np.float32)
    names = [panel.target, *panel.feature_names, *panel.known_names]
    names += list(panel.freq.calendar_names) if calendar else []
    data = np.concatenate([panel.values[:, None], features, cal], axis=1).astype(np.float32)
    return data, names


@dataclass
class WindowBatch:
    """A batch of windows: ``inputs (N, L + K, C)`` float32 (target scaled), ``series (N,)``
    int64, ``first (N,)`` int64 the position of the first horizon step in its series,
    ``loc``/``scale`` ``(N,)`` float32 to turn the target channel back into its units."""

    inputs: torch.Tensor
    series: torch.Tensor
    first: torch.Tensor
    loc: torch.Tensor
    scale: torch.Tensor


def _warn(message: str) -> None:
    warnings.warn(message, stacklevel=3)


class WindowSampler:
    """The ``lookback -> horizon`` windows of a panel, as index arrays into one ``(total, C)``
    tensor (built once) whose ``unfold`` view gives every window without copying.

    Args:
        panel: the series.
        lookback, horizon: ``L`` history steps, ``K`` forecast steps.
        split: the time split (default :func:`panel_split` with ``horizon``).
        scaler: ``"mean"`` or ``"standard"`` (see :func:`fit_scales`), or fitted :class:`Scales`.
        calendar: add the panel frequency's calendar features as channels.
        scale_features: standardise the feature channels (see :func:`fit_feature_scales`), or
            the fitted :class:`Scales` to use (those of the training panel, when scoring another).
        weighting: ``"windows"`` or ``"series"`` (see the module's docstring).
        log: called with the line naming the series skipped for training (default: a warning).

    Attributes:
        channels: the ``C`` channel names; ``past_channels`` / ``known_channels`` their indices.
        scales, feature_scales: the target's per-series and the features' per-column scales.
        train_starts, train_series: ``(N,)`` int64 global start and series of each training window.
        skipped: ids of the series without a training window.
    """

    def __init__(
        self,
        panel: Panel,
        lookback: int,
        horizon: int,
        *,
        split: PanelSplit | None = None,
        scaler: str | Scales = "mean",
        calendar: bool = True,
        scale_features: bool | Scales = True,
        weighting: str = "windows",
        log: Callable[[str], None] | None = None,
    ) -> None:
        for name, value in (("lookback", lookback), ("horizon", horizon)):
            if value < 1:
                raise RnnkitError(f"{name}: expected >= 1, got {value}")
        if weighting not in WEIGHTINGS:
            raise RnnkitError(
                f"weighting: expected one of {', '.join(WEIGHTINGS)}, got {weighting!r}"
            )
        self.panel, self.lookback, self.horizon, self.weighting = (
            panel,
            lookback,
            horizon,
            weighting,
        )
        self.split = split or panel_split(panel, horizon)
        self.scales = (
            scaler if isinstance(scaler, Scales) else fit_scales(panel, self.split, scaler)
        )
        if isinstance(scale_features, Scales):
            self.feature_scales: Scales | None = scale_features
        else:
            self.feature_scales = fit_feature_scales(panel, self.split) if scale_features else None
        data, self.channels = panel_channels(panel, calendar, self.feature_scales)
        n_past = 1 + len(panel.feature_names)
        self.past_channels = list(range(n_past))
        self.known_channels = list(range(n_past, len(self.channels)))
        self.data = torch.from_numpy(data)  # (total, C)
        self._view = self.data.unfold(0, lookback + horizon, 1)  # (total - L - K + 1, C, L + K)
        self._loc = torch.from_numpy(self.scales.loc)
        self._scale = torch.from_numpy(self.scales.scale)
        self.train_starts, self.train_series = self.windows("train")
        has = np.bincount(self.train_series, minlength=len(panel)) > 0
        self.skipped = [panel.ids[s] for s in np.flatnonzero(~has)]
        if self.skipped:
            lengths = panel.lengths
            named = shown_names(
                [f"{panel.ids[s]} ({lengths[s]} steps)" for s in np.flatnonzero(~has)], 5
            )
            (log or _warn)(
                f"skipping {len(self.skipped)} series for training: their training part is "
                f"shorter than lookback + horizon ({lookback} + {horizon}): {named}"
            )

    def windows(self, part: str = "train") -> tuple[np.ndarray, np.ndarray]:
        """``(starts (N,), series (N,))`` of every window whose horizon lies in ``part`` of its
        series and whose history lies in the series (it may reach into an earlier part)."""
        start, end = self.split.bounds(part)
        first = np.maximum(start, self.lookback)  # first horizon position a window may have
        counts = np.maximum(end - self.horizon - first + 1, 0)  # (S,)
        series = np.repeat(np.arange(len(self.panel)), counts)
        within = np.arange(series.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)
        starts = self.panel.offsets[:-1][series] + first[series] - self.lookback + within
        return starts.astype(np.int64), series.astype(np.int64)

    def batch(self, starts: np.ndarray, series: np.ndarray) -> WindowBatch:
        """The windows at global ``starts`` (of ``series``): one gather from the view."""
        index = torch.from_numpy(np.ascontiguousarray(starts))
        which = torch.from_numpy(np.ascontiguousarray(series))
        inputs = self._view[index].transpose(1, 2).contiguous()  # (N, L + K, C)
        loc, scale = self._loc[which], self._scale[which]
        inputs[:, :, 0] = (inputs[:, :, 0] - loc[:, None]) / scale[:, None]
        first = index - torch.from_numpy(self.panel.offsets[:-1])[which] + self.lookback
        return WindowBatch(inputs, which, first, loc, scale)

    def epoch(
        self, batch_size: int, epoch: int = 0, *, seed: int = 0, part: str = "train"
    ) -> Iterator[WindowBatch]:
        """One pass: training windows shuffled by ``(seed, epoch)`` (weighted as chosen); the
        windows of ``"val"``/``"test"`` in order, unshuffled."""
        if batch_size < 1:
            raise RnnkitError(f"batch_size: expected >= 1, got {batch_size}")
        if part != "train":
            starts, series = self.windows(part)
        else:
            starts, series = self._train_order(np.random.default_rng([seed, epoch]))
        for i in range(0, starts.shape[0], batch_size):
            yield self.batch(starts[i : i + batch_size], series[i : i + batch_size])

    def _train_order(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        n = self.train_starts.shape[0]
        if self.weighting == "windows":
            order = rng.permutation(n)
            return self.train_starts[order], self.train_series[order]
        # uniform over series: a series, then one of its windows, n times
        counts = np.bincount(self.train_series, minlength=len(self.panel))
        eligible = np.flatnonzero(counts)
        series = eligible[rng.integers(0, eligible.shape[0], size=n)]
        first_window = np.cumsum(counts) - counts
        picked = first_window[series] + (rng.random(n) * counts[series]).astype(np.int64)
        return self.train_starts[picked], series

    def __len__(self) -> int:
        """The number of training windows."""
        return int(self.train_starts.shape[0])


def forecast_inputs(
    panel: Panel,
    lookback: int,
    horizon: int,
    *,
    scaler: str | Scales = "mean",
    feature_scales: Scales | None = None,
    calendar: bool = True,
    future: Panel | None = None,
) -> tuple[WindowBatch, np.ndarray]:
    """The inputs that forecast every series of ``panel`` past its end, laid out as a training
    window: ``inputs (S, L + K, C)``, the last ``L`` steps of each series then ``K`` future steps
    whose target and past-only channels are 0 (unknown) and whose known and calendar channels
    hold the future values. Also returns the future times ``(S, K)``.

    ``scaler``: a kind (fitted on each series' whole history: for a series not seen in training
    its own history is all there is) or the :class:`Scales` of these series. ``future``: a panel
    holding at least the ``K`` times after each series' end, with the known features' values.

    Raises:
        RnnkitError: a series shorter than ``lookback`` (named, with its length); known
            features without ``future``, or a series whose future values are missing (named).
    """
    lengths = _check_history(panel, lookback)
    full = PanelSplit(lengths, lengths, lengths)  # the whole history is known
    scales = scaler if isinstance(scaler, Scales) else fit_scales(panel, full, scaler)
    data, names = panel_channels(panel, calendar, feature_scales)
    ends = panel.offsets[1:]
    index = ends[:, None] - lookback + np.arange(lookback)[None, :]  # (S, L)
    inputs = np.zeros((len(panel), lookback + horizon, len(names)), dtype=np.float32)
    inputs[:, :lookback] = data[index]
    inputs[:, :lookback, 0] = (inputs[:, :lookback, 0] - scales.loc[:, None]) / scales.scale[
        :, None
    ]
    times = np.stack([panel.future_times(s, horizon) for s in range(len(panel))])  # (S, K)
    n_known, first_known = len(panel.known_names), 1 + len(panel.feature_names)
    if calendar and panel.freq.calendar_names:
        inputs[:, lookback:, first_known + n_known :] = panel.freq.calendar(
            times.reshape(-1)
        ).reshape(len(panel), horizon, -1)
    if n_known:
        known = _future_known(panel, future, times)  # (S, K, n_known)
        if feature_scales is not None:
            known = (known - feature_scales.loc[-n_known:]) / feature_scales.scale[-n_known:]
        inputs[:, lookback:, first_known : first_known + n_known] = known
    series = torch.arange(len(panel))
    batch = WindowBatch(
        torch.from_numpy(inputs),
        series,
        torch.from_numpy(lengths.astype(np.int64)),
        torch.from_numpy(scales.loc),
        torch.from_numpy(scales.scale),
    )
    return batch, times


def _check_history(panel: Panel, lookback: int) -> np.ndarray:
    """The series' lengths; a series shorter than ``lookback`` cannot be forecast (refused)."""
    lengths = panel.lengths
    short = np.flatnonzero(lengths < lookback)
    if short.size:
        s = int(short[0])
        raise RnnkitError(
            f"lookback: expected at least {lookback} steps of history in every series to "
            f"forecast, got {int(lengths[s])} in series {panel.ids[s]!r} ({short.size} series "
            "in all are shorter)"
        )
    return lengths


def _future_known(panel: Panel, future: Panel | None, times: np.ndarray) -> np.ndarray:
    """``(S, K, n_known)``: the known features at each series' future ``times``."""
    names = ", ".join(panel.known_names)
    if future is None:
        raise RnnkitError(
            f"known_features: expected the values of {names} over the forecast horizon "
            "(future=... in Python, --future FILE on the command line), got none"
        )
    out = np.zeros((*times.shape, len(panel.known_names)), dtype=np.float32)
    for s, name in enumerate(panel.ids):
        ahead = future.series(name) if name in future.ids else None
        given = ahead.times if ahead is not None else times[s, :0]
        at = np.searchsorted(given, times[s])
        found = np.zeros(times.shape[1], dtype=bool)
        if given.shape[0]:
            found = (at < given.shape[0]) & (given[np.minimum(at, given.shape[0] - 1)] == times[s])
        if ahead is None or not found.all():
            missing = times[s][~found] if ahead is not None else times[s]
            raise RnnkitError(
                f"known_features: expected {names} at the {times.shape[1]} times after series "
                f"{name!r} ends, got none at {str(missing[0]).removesuffix('T00:00:00')} "
                f"({int(missing.shape[0])} missing)"
            )
        columns = [future.known_names.index(c) for c in panel.known_names]
        out[s] = ahead.known[at][:, columns]
    return out
