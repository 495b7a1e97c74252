"""Time indices of many series: parsing a time column, inferring its frequency, the seasonal
period, calendar features and the timestamps of a forecast.

A time column holds either dates (``2020-01-31``, ``2020-01-31 13:00``, ``1949-01``) or an integer
step index (``1, 2, 3...``; M4 gives no dates). Dates become ``datetime64[s]`` arrays, steps
``int64`` arrays. :func:`infer_frequency` reads the step between consecutive times *within* each
series (series may start and end anywhere) and names it:

=========== ============================ ======== ==============================================
frequency   step                         period   calendar features (each as sin, cos)
=========== ============================ ======== ==============================================
hourly      1 hour                       24       hour of day, day of week
daily       1 day                        7        day of week, day of year
weekly      7 days                       52       week of the year (day of year)
monthly     1 month (any day)            12       month of the year
quarterly   3 months                     4        quarter of the year
yearly      12 months                    1        none
step        an integer ``d``             1        position in the period ``t mod p``, when p > 1
=========== ============================ ======== ==============================================

A calendar feature with ``m`` positions is ``(sin(2 pi i / m), cos(2 pi i / m))`` for position
``i``: known for every future time, so a forecaster may read it over the horizon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import RnnkitError, shown

__all__ = ["FREQUENCIES", "Frequency", "infer_frequency", "parse_times"]

HOUR, DAY = 3600, 86400
# name -> (seasonal period, calendar feature names)
FREQUENCIES: dict[str, tuple[int, tuple[str, ...]]] = {
    "hourly": (24, ("hour_sin", "hour_cos", "weekday_sin", "weekday_cos")),
    "daily": (7, ("weekday_sin", "weekday_cos", "yearday_sin", "yearday_cos")),
    "weekly": (52, ("yearday_sin", "yearday_cos")),
    "monthly": (12, ("month_sin", "month_cos")),
    "quarterly": (4, ("quarter_sin", "quarter_cos")),
    "yearly": (1, ()),
    "step": (1, ()),
}
_SECONDS = {"hourly": HOUR, "daily": DAY, "weekly": 7 * DAY}
_STEP_WORDS = {"hourly": "1 hour", "daily": "1 day", "weekly": "7 days"}
_MONTHS = {"monthly": 1, "quarterly": 3, "yearly": 12}


def parse_times(cells: np.ndarray, name: str) -> np.ndarray:
    """A time column as ``int64`` steps (every cell an integer) or ``datetime64[s]`` dates.

    ``cells`` may hold text (a CSV's cells), numbers or datetimes (a DataFrame's column).

    Raises:
        RnnkitError: a cell that is neither (the first such cell and its row are named).
    """
    cells = np.asarray(cells)
    if cells.dtype.kind == "M":
        return cells.astype("datetime64[s]")
    if cells.dtype.kind in "iu":
        return cells.astype(np.int64)
    if cells.dtype.kind == "f" and np.all(np.isfinite(cells)) and np.all(cells == np.round(cells)):
        return cells.astype(np.int64)
    text = cells.astype(str)
    stripped = np.char.strip(text)
    if stripped.size and np.all(np.char.isdigit(np.char.lstrip(stripped, "-"))):
        return stripped.astype(np.int64)
    try:
        dates = stripped.astype("datetime64[s]")
    except ValueError:
        dates = None
    if dates is not None:
        if np.isnat(dates).any():  # numpy reads "" and "NaT" as no date: a missing time
            row = int(np.argmax(np.isnat(dates))) + 1
            raise RnnkitError(
                f"time column {name!r}: expected a date or step in every row, got "
                f"{shown(str(stripped[row - 1]))} (row {row})"
            )
        return dates
    for row, cell in enumerate(stripped, start=1):  # the first bad cell, for the message
        try:
            np.datetime64(str(cell), "s")
        except ValueError:
            raise RnnkitError(
                f"time column {name!r}: expected dates (2020-01-31, 2020-01-31 13:00, 2020-01) "
                f"or integer steps, got {shown(str(cell))} (row {row})"
            ) from None
    raise RnnkitError(f"time column {name!r}: expected dates or integer steps")


def _months(times: np.ndarray) -> np.ndarray:
    return times.astype("datetime64[M]").astype(np.int64)


def _position(values: np.ndarray, size: float) -> np.ndarray:
    angle = 2 * math.pi * values / size
    return np.stack([np.sin(angle), np.cos(angle)], axis=-1)  # (T, 2)


@dataclass(frozen=True)
class Frequency:
    """How a panel's times advance.

    Attributes:
        name: one of :data:`FREQUENCIES` (``"step"``: an integer index).
        period: the seasonal period (seasonal naive, season position features).
        step: for ``"step"``, the increment of the index; for dated frequencies 1.
    """

    name: str
    period: int
    step: int = 1

    @property
    def dated(self) -> bool:
        return self.name != "step"

    @property
    def calendar_names(self) -> tuple[str, ...]:
        """Names of the columns :meth:`calendar` returns."""
        if self.name == "step":
            return ("season_sin", "season_cos") if self.period > 1 else ()
        return FREQUENCIES[self.name][1]

    def calendar(self, times: np.ndarray) -> np.ndarray:
        """Calendar features ``(T, len(calendar_names))`` float32 of ``times`` (see the table)."""
        times = np.asarray(times)
        if self.name == "step":
            if self.period <= 1:
                return np.zeros((times.shape[0], 0), dtype=np.float32)
            position = (times // self.step) % self.period
            return _position(position.astype(np.float64), self.period).astype(np.float32)
        days = times.astype("datetime64[D]")
        day_number = days.astype(np.int64)
        weekday = (day_number + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        years = days.astype("datetime64[Y]")
        year_length = ((years + 1).astype("datetime64[D]") - years).astype(np.int64)
        yearday = (days - years.astype("datetime64[D]")).astype(np.int64)
        month = _months(times) % 12
        parts = {
            "hourly": [
                ((times - days).astype(np.int64) // HOUR, 24),
                (weekday, 7),
            ],
            "daily": [(weekday, 7), (yearday, year_length)],
            "weekly": [(yearday, year_length)],
            "monthly": [(month, 12)],
            "quarterly": [(month // 3, 4)],
            "yearly": [],
        }[self.name]
        columns = [
            _position(np.asarray(v, np.float64), np.asarray(m, np.float64)) for v, m in parts
        ]
        if not columns:
            return np.zeros((times.shape[0], 0), dtype=np.float32)
        return np.concatenate(columns, axis=1).astype(np.float32)

    def future_times(self, last: np.ndarray | np.generic | int, n: int) -> np.ndarray:
        """The ``n`` times after ``last``: ``(n,)``, of the dtype of the panel's times.

        Monthly, quarterly and yearly dates keep their day of the month (a month's last day stays
        the last day: 31 January, 28 February, 31 March...).
        """
        k = np.arange(1, n + 1, dtype=np.int64)
        if self.name == "step":
            return np.int64(last) + k * self.step
        last = np.datetime64(last, "s")
        if self.name in _SECONDS:
            return last + (k * _SECONDS[self.name]).astype("timedelta64[s]")
        month = last.astype("datetime64[M]")
        months = month + k * _MONTHS[self.name]  # (n,) datetime64[M]
        into_day = last - last.astype("datetime64[D]")  # the time of day
        day = (last.astype("datetime64[D]") - month.astype("datetime64[D]")).astype(np.int64)
        month_end = (month + 1).astype("datetime64[D]") - 1 == last.astype("datetime64[D]")
        starts = months.astype("datetime64[D]")
        ends = (months + 1).astype("datetime64[D]") - 1
        dates = ends if month_end and day > 0 else np.minimum(starts + day, ends)
        return dates.astype("datetime64[s]") + into_day

    def __str__(self) -> str:
        step = f" (step {self.step})" if self.name == "step" and self.step != 1 else ""
        return f"{self.name}{step}, period {self.period}"


def _steps(times: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The differences between consecutive times within each series (not across series)."""
    diffs = np.diff(times)
    inside = np.ones(diffs.shape[0], dtype=bool)
    inside[offsets[1:-1] - 1] = False  # the pair made of one series' end and the next's start
    return diffs[inside]


def infer_frequency(
    times: np.ndarray,
    offsets: np.ndarray,
    *,
    ids: list[str] | None = None,
    period: int | None = None,
) -> Frequency:
    """The frequency of a panel's times (all series concatenated, each sorted; ``offsets (S+1,)``
    the series' bounds), with its seasonal period (``period`` overrides the table's).

    Raises:
        RnnkitError: steps that differ within or across series (the first irregular step, its
            series and the usual step are named), or a step no frequency has (e.g. 2 hours).
    """
    if period is not None and period < 1:
        raise RnnkitError(f"period: expected >= 1, got {period}")
    kind = "step" if times.dtype.kind in "iu" else "date"
    steps = _steps(times.astype(np.int64) if kind == "step" else times, offsets)
    if kind == "step":
        step = _mode(steps) if steps.size else 1
        _check_regular(times, offsets, steps != step, ids, f"step {step}")
        return Frequency("step", period or 1, max(step, 1))
    seconds = steps.astype("timedelta64[s]").astype(np.int64)
    for name, size in _SECONDS.items():
        if seconds.size and np.all(seconds == size):
            return Frequency(name, period or FREQUENCIES[name][0])
    months = _steps(_months(times), offsets)
    usual = _mode(months) if months.size else 1
    for name, size in _MONTHS.items():
        if usual == size:
            usual = f"{size} month{'s' if size > 1 else ''}"
            _check_regular(times, offsets, months != size, ids, usual)
            return Frequency(name, period or FREQUENCIES[name][0])
    usual_seconds = _mode(seconds)
    for name, size in _SECONDS.items():
        if usual_seconds == size:
            _check_regular(times, offsets, seconds != size, ids, _STEP_WORDS[name])
    raise RnnkitError(
        f"times: expected an hourly, daily, weekly, monthly, quarterly or yearly step, got a "
        f"usual step of {_duration(usual_seconds)}"
    )


def _mode(values: np.ndarray) -> int:
    """The most common value (the smallest of the most common; 0 for none)."""
    if not values.size:
        return 0
    unique, counts = np.unique(values, return_counts=True)
    return int(unique[int(np.argmax(counts))])


def _duration(seconds: int) -> str:
    if seconds % DAY == 0:
        return f"{seconds // DAY} day(s)"
    return f"{seconds / HOUR:g} hour(s)"


def _check_regular(
    times: np.ndarray, offsets: np.ndarray, bad: np.ndarray, ids: list[str] | None, usual: str
) -> None:
    """Raise naming the first irregular step (``bad`` marks the within-series steps)."""
    if not np.any(bad):
        return
    inside = np.ones(max(times.shape[0] - 1, 0), dtype=bool)
    inside[offsets[1:-1] - 1] = False
    where = int(np.flatnonzero(inside)[int(np.argmax(bad))])  # index of the pair's first time
    series = int(np.searchsorted(offsets, where, side="right") - 1)
    name = ids[series] if ids else str(series)
    raise RnnkitError(
        f"times: expected a regular step ({usual}) in every series, got series {name!r} going "
        f"from {time_text(times[where])} to {time_text(times[where + 1])} (a gap or an irregular date)"
    )


def time_text(time: np.generic) -> str:
    """A time as written in messages and records: a date without a midnight time, or a step."""
    if isinstance(time, np.datetime64):
        text = str(time)
        return text.removesuffix("T00:00:00")
    return str(int(time))
