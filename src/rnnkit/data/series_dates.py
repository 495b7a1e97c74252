"""The dates of one series: parsing, calendar features, the seasonal period, the next dates,
and the checks that a date column is one (no repeats, in order).

Dates are text as a CSV holds them: ``YYYY-MM-DD`` (daily, weekly), ``YYYY-MM-DD HH:MM[:SS]``
(hourly; ``T`` between date and time as well), ``YYYY-MM`` (monthly). The many-series reader has
its own vectorised counterpart, :mod:`rnnkit.data.panel_time`.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rnnkit.errors import RnnkitError, shown

__all__ = ["calendar_features", "check_dates", "next_dates", "seasonal_period"]


def _parse_date(text: str) -> tuple[str, _dt.date] | None:
    """``("day", date)`` for ``YYYY-MM-DD``, ``("time", datetime)`` for a date with a time
    (``2020-01-31 13:00``, ``2020-01-31T13:00:00``), ``("month", date)`` for ``YYYY-MM``;
    ``None`` for anything else."""
    text = text.strip()
    try:
        if len(text) == 7 and text[4] == "-":
            return "month", _dt.date(int(text[:4]), int(text[5:7]), 1)
        moment = _dt.datetime.fromisoformat(text)
        return ("time", moment) if len(text) > 10 else ("day", moment.date())
    except (ValueError, IndexError):
        return None


def _sub_daily(parsed: Sequence[tuple[str, _dt.date] | None]) -> bool:
    """Whether parsed dates are hours of the day (a time other than midnight, or a step < 1 day)."""
    moments = [p[1] for p in parsed if p is not None and p[0] == "time"]
    if any(m.time() != _dt.time() for m in moments):  # type: ignore[attr-defined]
        return True
    step = _step_seconds(parsed)
    return step is not None and 0 < step < 86400


def _step_seconds(parsed: Sequence[tuple[str, _dt.date] | None]) -> int | None:
    """The most common gap in seconds between consecutive day or time dates (None: no gap)."""
    if len(parsed) < 2 or any(p is None or p[0] == "month" for p in parsed):
        return None
    moments = [
        p[1] if p[0] == "time" else _dt.datetime.combine(p[1], _dt.time())  # type: ignore[index]
        for p in parsed
    ]
    gaps = [int((b - a).total_seconds()) for a, b in itertools.pairwise(moments)]
    return max(set(gaps), key=gaps.count)


def calendar_features(dates: Sequence[str]) -> np.ndarray:
    """Season position as ``(T, 2)`` ``[sin, cos]`` features: the day of the year for daily dates,
    the month of the year for monthly (``YYYY-MM``) dates, the hour of the day for hourly dates
    (``2020-01-31 13:00``). Known in advance for any future date, so they can be fed to a
    forecaster for the forecast period too.

    Raises:
        RnnkitError: a date that is neither ``YYYY-MM-DD`` (with or without a time) nor
            ``YYYY-MM`` (row given).
    """
    out = np.empty((len(dates), 2), dtype=np.float64)  # (T, 2)
    parsed = [_parse_date(text) for text in dates]
    for row, (text, one) in enumerate(zip(dates, parsed), start=1):
        if one is None:
            raise RnnkitError(
                f"calendar features need dates like 2020-01-31 or 2020-01; row {row} has {shown(text)}"
            )
    hourly = _sub_daily(parsed)
    for row, (kind, date) in enumerate(parsed):  # type: ignore[misc]
        if hourly:
            angle = 2 * math.pi * (date.hour + date.minute / 60) / 24  # type: ignore[union-attr]
        elif kind == "month":
            angle = 2 * math.pi * (date.month - 1) / 12
        else:
            days = 366 if calendar.isleap(date.year) else 365
            angle = 2 * math.pi * (date.timetuple().tm_yday - 1) / days
        out[row] = (math.sin(angle), math.cos(angle))
    return out


def _add_months(date: _dt.date, months: int) -> _dt.date:
    index = date.year * 12 + date.month - 1 + months
    return _dt.date(index // 12, index % 12 + 1, 1)


def seasonal_period(dates: Sequence[str]) -> int:
    """Season length from the dates: 12 for monthly, 365 for daily, 52 for weekly, 24 for hourly
    dates, else 1."""
    parsed = [_parse_date(text) for text in dates]
    if not dates or any(p is None for p in parsed):
        return 1
    if all(p[0] == "month" for p in parsed):  # type: ignore[index]
        return 12
    return {86400: 365, 7 * 86400: 52, 3600: 24}.get(_step_seconds(parsed) or 0, 1)


def check_dates(name: str, column: str, dates: Sequence[str]) -> None:
    """Refuse a date column that repeats a value (several series in one file, or a column that
    is no date column: use a series column) or whose dates or integer steps go backwards (a
    shuffled file: sort it). Text that is neither is accepted as labels, in order.

    Raises:
        RnnkitError: one line naming the column, the rows and the values.
    """
    seen: dict[str, int] = {}
    for row, date in enumerate(dates, start=1):
        if date in seen:
            raise RnnkitError(
                f"{name} date column {column!r} repeats {shown(date)} (rows {seen[date]} and "
                f"{row}): expected one row per date; a file of several series needs "
                "--series-col (series_col) naming the column that tells them apart"
            )
        seen[date] = row
    keys: list[Any] = []
    parsed = [_parse_date(text) for text in dates]
    kinds = {p[0] if p is not None else None for p in parsed}
    if all(text.strip().lstrip("-").isdigit() for text in dates):
        keys = [int(text) for text in dates]
    elif len(kinds) == 1 and None not in kinds:  # dates of one kind: comparable
        keys = [p[1] for p in parsed if p is not None]
    for row in range(1, len(keys)):
        if keys[row] < keys[row - 1]:
            raise RnnkitError(
                f"{name} date column {column!r} is not in order: row {row + 1} "
                f"{shown(dates[row])} comes after row {row} {shown(dates[row - 1])}; "
                "expected increasing dates: sort the file by date"
            )


def next_dates(dates: Sequence[str], count: int) -> list[str]:
    """The ``count`` dates after the last of ``dates``, continuing their step.

    Monthly ``YYYY-MM`` dates advance by months; daily dates by the most common gap between
    consecutive dates (1 day for daily data, 7 for weekly); dates with a time (hourly) by the most
    common gap, written as the last date is (``2020-01-31 13:00`` or ``2020-01-31T13:00:00``).
    Anything else (no dates, dates that do not parse, dates that would pass the year 9999) gives
    ``"+1", "+2", ...`` after the last step.
    """
    try:
        return _next_dates(dates, count)
    except (OverflowError, ValueError):  # past the year 9999, the last date datetime knows
        return [f"+{k}" for k in range(1, count + 1)]


def _next_dates(dates: Sequence[str], count: int) -> list[str]:
    parsed = [_parse_date(text) for text in dates]
    if dates and all(p is not None for p in parsed):
        kinds = {p[0] for p in parsed}  # type: ignore[index]
        last = parsed[-1][1]  # type: ignore[index]
        if kinds == {"month"}:
            return [_add_months(last, k).strftime("%Y-%m") for k in range(1, count + 1)]
        step = _step_seconds(parsed)
        if kinds == {"time"} and step is not None and step > 0:
            text = dates[-1].strip()
            sep, spec = ("T" if "T" in text else " "), ("minutes" if len(text) == 16 else "seconds")
            return [
                (last + _dt.timedelta(seconds=step * k)).isoformat(sep, spec)  # type: ignore[call-arg]
                for k in range(1, count + 1)
            ]
        if kinds == {"day"} and step is not None and step > 0:
            return [
                (last + _dt.timedelta(days=step // 86400 * k)).isoformat()
                for k in range(1, count + 1)
            ]
    return [f"+{k}" for k in range(1, count + 1)]
