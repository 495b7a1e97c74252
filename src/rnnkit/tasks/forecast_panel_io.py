"""A many-series run on new data: evaluate, predict and the views that plot draws.

- :func:`panel_evaluate`: the last ``horizon`` steps of every series of a file (or DataFrame)
  forecast from what precedes them, scored beside the baselines.
- :func:`panel_predict`: the ``horizon`` steps after the end of every series, one record per
  series and step: the point forecast (the median of the sample paths with a likelihood) and the
  quantiles 0.1 ... 0.9 (or the run's ``--quantiles``). Known features over the horizon come from
  ``future`` (a file or DataFrame in the training layout, without the target column).
- :func:`panel_views`: history, forecast and shaded 80% interval of chosen series: the run's
  stored test windows, or forecasts past the end of a given file.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rnnkit.data.panel import Panel
from rnnkit.data.panel_time import time_text
from rnnkit.data.panel_windows import WindowBatch, WindowSampler, forecast_inputs, panel_split
from rnnkit.errors import RnnkitError, shown_names
from rnnkit.tasks import base
from rnnkit.tasks.base import TrainedModel
from rnnkit.tasks.forecast_panel import (
    PanelInfo,
    PanelPart,
    _codes,
    _interval_pair,
    _store_windows,
    forecast_batch,
    panel_score,
    read_like_training,
    seeded,
)

__all__ = ["panel_evaluate", "panel_predict", "panel_views"]


def _name(data: Any) -> str:
    return str(data) if isinstance(data, str) else "the given data"


def panel_evaluate(trained: TrainedModel, data: Any, batch_size: int | None) -> list[base.Report]:
    """The last ``horizon`` steps of every series of ``data`` forecast and scored."""
    part = _last_horizon(trained, data)
    return [panel_score(trained, part, batch_size=batch_size).report]


def _last_horizon(trained: TrainedModel, data: Any) -> PanelPart:
    """The last ``horizon`` steps of every series of ``data`` as a part to score or draw."""
    info: PanelInfo = trained.state.panel
    c = trained.model.config
    panel = read_like_training(trained, data)
    split = panel_split(panel, c.horizon, val=0, test=c.horizon)
    sampler = WindowSampler(
        panel,
        c.lookback,
        c.horizon,
        split=split,
        scaler=trained.config.data.scaler,
        calendar=info.calendar,
        scale_features=info.scales() or False,
        log=lambda _: None,
    )
    if not sampler.windows("test")[0].shape[0]:
        raise RnnkitError(
            f"data: expected series of at least lookback + horizon ({c.lookback} + {c.horizon})"
            f" steps in {_name(data)}, got at most {int(panel.lengths.max())}"
        )
    return PanelPart(sampler, "test", _name(data), *_codes(panel, info))


def _future_inputs(
    trained: TrainedModel, inputs: Any, future: Any
) -> tuple[Panel, WindowBatch, np.ndarray]:
    info: PanelInfo = trained.state.panel
    c = trained.model.config
    panel = read_like_training(trained, inputs)
    ahead = None if future is None else read_like_training(trained, future, target=False)
    batch, times = forecast_inputs(
        panel,
        c.lookback,
        c.horizon,
        scaler=trained.config.data.scaler,
        feature_scales=info.scales(),
        calendar=info.calendar,
        future=ahead,
    )
    return panel, batch, times


def _forecast(trained: TrainedModel, panel: Panel, batch: WindowBatch):
    info: PanelInfo = trained.state.panel
    embed, static = _codes(panel, info)
    batch = WindowBatch(batch.inputs, torch.from_numpy(embed), batch.first, batch.loc, batch.scale)
    codes = torch.from_numpy(static) if static.shape[1] else None
    with seeded(trained):
        return forecast_batch(trained, batch, codes)


def _column_names(trained: TrainedModel, panel: Panel) -> tuple[str, str]:
    d = trained.config.data
    time = d.date_col or ("date" if panel.freq.dated else "time")
    return d.series_col or "series", time


def panel_predict(trained: TrainedModel, inputs: Any, future: Any = None) -> list[dict[str, Any]]:
    """One record per series and forecast step (see the module's docstring)."""
    panel, batch, times = _future_inputs(trained, inputs, future)
    out = _forecast(trained, panel, batch)
    series_name, time_name = _column_names(trained, panel)
    records = []
    for s, sid in enumerate(panel.ids):
        for k in range(out.point.shape[1]):
            record = {
                "line": len(records) + 1,
                series_name: sid,
                time_name: time_text(times[s, k]),
                "step": k + 1,
                "forecast": float(f"{out.point[s, k]:.6g}"),
            }
            if out.quantiles is not None:
                for j, level in enumerate(out.levels):
                    record[f"q{float(level):g}"] = float(f"{out.quantiles[s, k, j]:.6g}")
            records.append(record)
    return records


def _chosen(ids: list[str], series: Any, stored: bool) -> list[int]:
    """Indices of the series to draw: ``series`` (ids, comma-separated or a list), else the
    first four."""
    if series is None:
        return list(range(min(4, len(ids))))
    wanted = series.split(",") if isinstance(series, str) else [str(s) for s in series]
    where = {sid: i for i, sid in enumerate(ids)}
    missing = [w for w in wanted if w.strip() not in where]
    if missing:
        what = (
            "the series stored with the run (give --data to draw others)" if stored else "the data"
        )
        raise RnnkitError(
            f"series: expected ids of {what}, got {missing[0]!r}; there: {shown_names(ids, 8)}"
        )
    return [where[w.strip()] for w in wanted]


def _band_view(title: str, x: list[str], lines: dict[str, list[float]], bands, ylabel: str):
    return base.View("series", title, x, lines, xlabel="time", ylabel=ylabel, bands=bands)


def _bands(out, s: int, gap: list[float]) -> dict[str, tuple[list[float], list[float]]]:
    """The model's central interval of series row ``s`` (80%: levels 0.1 and 0.9, else the
    outermost symmetric pair, see :func:`~rnnkit.tasks.forecast_panel._interval_pair`), after
    ``gap`` (the history's nan), as a view's band; none without quantiles."""
    pair = None if out.quantiles is None else _interval_pair(out.levels)
    if pair is None:
        return {}
    coverage = round(100 * float(out.levels[pair[1]] - out.levels[pair[0]]))
    low, high = (gap + out.quantiles[s, :, i].tolist() for i in pair)
    return {f"model {coverage}%": (low, high)}


def _window_views(
    trained: TrainedModel, sample: dict | None, series: Any, what: str, stored: bool = True
) -> list[base.View]:
    """History, actual values, forecast and 80% interval of stored windows (see
    :func:`~rnnkit.tasks.forecast_panel._store_windows`) of the chosen series."""
    if not sample:
        raise RnnkitError("the test part holds no complete window to plot")
    picked = _chosen(list(sample["ids"]), series, stored=stored)
    index = torch.as_tensor(picked)
    batch = WindowBatch(
        sample["inputs"][index],
        sample["embed"][index],
        torch.zeros(len(picked), dtype=torch.long),
        sample["loc"][index],
        sample["scale"][index],
    )
    static = sample["static"][index]
    with seeded(trained):
        out = forecast_batch(trained, batch, static if static.shape[1] else None)
    lookback = trained.model.config.lookback
    views = []
    for row, s in enumerate(picked):
        values = sample["values"][s].tolist()
        n = len(values)
        forecast = [np.nan] * lookback + out.point[row].tolist()
        lines = {"actual": values, "model": forecast}
        bands = _bands(out, row, [np.nan] * lookback)
        views.append(
            _band_view(
                f"{what} of series {sample['ids'][s]}",
                list(sample["times"][s])[:n],
                lines,
                bands,
                trained.config.data.target,
            )
        )
    return views


def panel_views(trained: TrainedModel, data: Any = None, series: Any = None) -> list[base.View]:
    """Views of the stored test windows (``data`` None) or of forecasts past ``data``'s end."""
    if data is None:
        return _window_views(trained, trained.state.panel.sample, series, "test forecast")
    if trained.config.data.known_features:  # no future values to forecast past the end with
        sample = _store_windows(_last_horizon(trained, data), None)
        what = f"forecast of the last {trained.model.config.horizon} steps (known features)"
        return _window_views(trained, sample, series, what, stored=False)
    panel, batch, times = _future_inputs(trained, data, None)
    out = _forecast(trained, panel, batch)
    lookback = trained.model.config.lookback
    views = []
    for s in _chosen(list(panel.ids), series, stored=False):
        end = int(panel.offsets[s + 1])
        past = panel.values[end - lookback : end].astype(np.float64).tolist()
        x = [time_text(t) for t in panel.times[end - lookback : end]]
        x += [time_text(t) for t in times[s]]
        gap = [np.nan] * lookback
        lines = {"history": past + [np.nan] * len(times[s]), "model": gap + out.point[s].tolist()}
        bands = _bands(out, s, gap)
        views.append(
            _band_view(
                f"forecast of series {panel.ids[s]}", x, lines, bands, trained.config.data.target
            )
        )
    return views
