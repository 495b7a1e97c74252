"""Forecasting's series: a CSV series read as in training and turned into model inputs
(:class:`Prepared`: target, features, calendar), its chronological split, and the test period a
run stores for its views (so that ``rnnkit plot`` reads the run alone)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rnnkit.data.inputs import read_source
from rnnkit.data.timeseries import (
    TimeSeries,
    calendar_features,
    chronological_split,
    read_series,
    seasonal_period,
    window_starts,
)
from rnnkit.errors import RnnkitError
from rnnkit.tasks.base import TrainedModel

if TYPE_CHECKING:
    from rnnkit.tasks.forecast import ForecastData

__all__ = ["CALENDAR_NAMES", "Prepared", "build_inputs"]

CALENDAR_NAMES = ("season_sin", "season_cos")


@dataclass
class Prepared:
    """A series turned into model inputs (original units): ``inputs (T, F)``, ``target (T,)``."""

    series: TimeSeries
    inputs: np.ndarray
    target: np.ndarray
    names: list[str]
    period: int


def _auto_period(dates: list[str]) -> int:
    """Season length from the dates: 12 monthly, 365 daily, 52 weekly, 24 hourly, else 1."""
    return seasonal_period(dates)


def build_inputs(
    series: TimeSeries, d: ForecastData, period: int = 0, calendar: bool | None = None
) -> Prepared:
    """The ``(T, F)`` inputs of a series (target, features, calendar); ``period`` 0: the data's;
    ``calendar`` None: ``d.calendar``, or when that is None, whether the dates have a season."""
    target = series.column(d.target)
    parts, names = [target[:, None], series.select(d.features)], [d.target, *d.features]
    calendar = d.calendar if calendar is None else calendar
    if calendar or (calendar is None and _auto_period(series.dates) > 1):
        parts.append(calendar_features(series.dates))
        names += CALENDAR_NAMES
    inputs = np.concatenate(parts, axis=1)
    if not np.all(np.isfinite(inputs)):
        raise RnnkitError(f"{series.source} holds missing or infinite values in {', '.join(names)}")
    return Prepared(series, inputs, target, names, period or d.period or _auto_period(series.dates))


def _read_split(d: ForecastData, log) -> tuple[Prepared, int, np.ndarray, dict[str, tuple]]:
    """The series as inputs, the end of its training part, the training windows' first steps,
    and the ``(start, end)`` of the validation and test parts that hold a complete window."""
    series = read_series(
        d.train, date_column=d.date_col, columns=[d.target, *d.features], fill=d.fill
    )
    n = len(series)
    window_starts(n, d.lookback, d.horizon)  # lookback + horizon against the series
    prepared = build_inputs(series, d)
    split = chronological_split(n, val_size=d.val_size, test_size=d.test_size)
    starts = window_starts(n, d.lookback, d.horizon, 0, split.train_end)
    if len(starts) == 0:
        raise RnnkitError(
            f"the training part ({split.train_end} steps) is shorter than lookback + horizon "
            f"({d.lookback} + {d.horizon}); use a shorter lookback or smaller validation and "
            "test parts"
        )
    log(
        f"forecast: {n:,} steps of {d.target!r} ({series.source}); inputs "
        f"{', '.join(prepared.names)}; train {split.train_end:,} / validation "
        f"{split.val_end - split.train_end:,} / test {n - split.val_end:,} steps; "
        f"{len(starts):,} training windows"
    )
    parts = {}
    for part, bounds in (
        ("validation", (split.train_end, split.val_end)),
        ("test", (split.val_end, n)),
    ):
        if len(window_starts(n, d.lookback, d.horizon, *bounds)):
            parts[part] = bounds
        else:
            log(
                f"note: the {part} part holds no complete window (lookback {d.lookback} + horizon "
                f"{d.horizon}), so there is no {part} report"
                + ("; training without validation" if part == "validation" else "")
            )
    return prepared, split.train_end, starts, parts


def _test_part(prepared: Prepared, parts: dict[str, tuple], d: ForecastData) -> dict | None:
    """The test period with the history its first window and seasonal naive read (lookback +
    period steps before it), as plain data for the run's views; ``None`` without a test part."""
    if "test" not in parts:
        return None
    start, end = parts["test"]
    first = max(0, start - d.lookback - prepared.period)
    return {
        "dates": prepared.series.dates[first:end],
        "inputs": torch.as_tensor(prepared.inputs[first:end]),
        "target": torch.as_tensor(prepared.target[first:end]),
        "bounds": [start - first, end - first],
    }


def _stored_test(trained: TrainedModel) -> tuple[Prepared, tuple[int, int]]:
    """The test period the run stored (see :func:`_test_part`), or, for a run written before runs
    stored one, read again from its data; no test part is an ``RnnkitError``."""
    sample = trained.state.sample
    if not sample:
        prepared, _, _, parts = _read_split(trained.config.data, lambda _: None)
        if "test" not in parts:
            raise RnnkitError("the test part holds no complete window to plot")
        return prepared, parts["test"]
    test = sample["test"]
    if test is None:
        raise RnnkitError("the test part holds no complete window to plot")
    target = test["target"].numpy()
    series = TimeSeries(list(test["dates"]), target[:, None], [trained.config.data.target])
    state = trained.state
    prepared = Prepared(series, test["inputs"].numpy(), target, state.input_names, state.period)
    return prepared, (int(test["bounds"][0]), int(test["bounds"][1]))


def _read(trained: TrainedModel, data: Any) -> tuple[Prepared, str]:
    """A series read as in training (columns, date column, fill, calendar, period) and its name."""
    d, state = trained.config.data, trained.state
    if isinstance(data, TimeSeries):
        return build_inputs(
            data, d, state.period, CALENDAR_NAMES[0] in state.input_names
        ), "the given series"
    columns = [d.target, *d.features]
    if not isinstance(data, (str, Path)):  # in memory: a DataFrame, a Dataset, numbers
        found = read_series(data, date_column=state.date_column or "", columns=columns, fill=d.fill)
        calendar = CALENDAR_NAMES[0] in state.input_names
        return build_inputs(found, d, state.period, calendar), found.source
    text, name = read_source(data, "series")
    wanted = [state.date_column, *columns] if state.date_column else columns
    first = next((line for line in text.removeprefix("\ufeff").splitlines() if line.strip()), "")
    try:
        header = [cell.strip() for cell in next(csv.reader([first]), [])]
    except csv.Error as error:  # a field over the csv module's limit of 131,072 characters
        raise RnnkitError(f"{name}, line 1: malformed CSV ({error})") from None
    if first and not set(wanted) & set(header):
        raise RnnkitError(
            f"{name} needs a header line naming the training columns "
            f"({', '.join(wanted)}) as its first line; its first line reads "
            f"{first.strip()[:80]!r}"
        )
    series = read_series(
        name, text=text, date_column=state.date_column or "", columns=columns, fill=d.fill
    )
    return build_inputs(series, d, state.period, CALENDAR_NAMES[0] in state.input_names), name
