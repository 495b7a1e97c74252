"""Time series from CSV files: reading, missing values, sliding windows, chronological splits, scaling.

A series file is a CSV with a header: one date column (the first column unless named) and one or
more numeric value columns::

    "Date","Temp"
    "1981-01-01",20.7
    "1981-01-02",17.9

Pipeline used by the forecasting task (``rnnkit.tasks.forecast``):

1. :func:`read_series` parses the file into a :class:`TimeSeries` (``values`` is ``(T, C)`` float64).
   An unknown column is an error listing the available ones; a non-numeric cell is an error giving
   its row and line; an empty cell (or ``NA``/``NaN``/``null``) is an error unless
   ``fill="ffill"`` (carry the last value forward) or ``fill="interpolate"`` (linear between the
   neighbours) is given.
2. :func:`chronological_split` cuts the T time steps into train / validation / test *by time*: the
   test part is the last ``test_size`` steps, validation the ``val_size`` steps before it. Nothing
   is shuffled across time.
3. :func:`make_windows` builds sliding windows ``lookback -> horizon``: inputs
   ``features[s : s+lookback]`` and targets ``target[s+lookback : s+lookback+horizon]``. A window
   belongs to the part of the series where *all its targets* lie; its inputs may reach back into
   an earlier part (the past is always known when forecasting), never forward.
4. :class:`StandardScaler` is fitted on the training steps only (no statistics leak from the
   validation or test period) and saved as plain lists of floats.

Legend: T = time steps, C = columns, F = input features, L = lookback, K = horizon, N = windows.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.data import tables
from rnnkit.data.series_dates import calendar_features, check_dates, next_dates, seasonal_period
from rnnkit.data.text import read_text
from rnnkit.errors import RnnkitError, shown, shown_names

__all__ = [
    "FILL_METHODS",
    "Split",
    "StandardScaler",
    "TimeSeries",
    "calendar_features",
    "check_dates",
    "chronological_split",
    "fill_missing",
    "make_windows",
    "next_dates",
    "read_series",
    "seasonal_period",
    "window_starts",
]

FILL_METHODS = ("ffill", "interpolate")
# Cells read as "no value" (case-insensitive, surrounding blanks ignored).
MISSING_MARKERS = frozenset({"", "na", "n/a", "nan", "null", "none"})


@dataclass
class TimeSeries:
    """A parsed series: one date string per step and a ``(T, C)`` array of values.

    Attributes:
        dates: the date column's text for each step (``"t1"``, ``"t2"``... when the file has none).
        values: float64 array ``(T, C)``; no missing values remain after :func:`read_series`.
        columns: names of the ``C`` value columns, in the order of ``values``.
        date_column: name of the date column, or ``None``.
        source: where the series came from (a file name), for error messages.
        filled: number of missing cells that ``fill`` replaced, per column.
    """

    dates: list[str]
    values: np.ndarray  # (T, C)
    columns: list[str]
    date_column: str | None = None
    source: str = "<series>"
    filled: dict[str, int] | None = None

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def column(self, name: str) -> np.ndarray:
        """The values of one column, ``(T,)``; an unknown name lists the available ones."""
        return self.values[:, self._index(name)]

    def select(self, names: Sequence[str]) -> np.ndarray:
        """The values of several columns, ``(T, len(names))``, in the order given."""
        return self.values[:, [self._index(name) for name in names]]

    def _index(self, name: str) -> int:
        if name not in self.columns:
            raise RnnkitError(
                f"{self.source} has no value column {shown(name)}; available: {shown_names(self.columns)}"
            )
        return self.columns.index(name)


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING_MARKERS


def _csv_rows(path: Path, text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and the ``(line, cells)`` of every non-blank data row of a CSV text."""
    try:
        rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    except csv.Error as error:
        raise RnnkitError(f"{path} is not a readable CSV file: {error}") from error
    # Drop blank lines (keep the line numbers of the others for the messages).
    numbered = [
        (line, row) for line, row in enumerate(rows, start=1) if any(c.strip() for c in row)
    ]
    if not numbered:
        raise RnnkitError(f"{path} is empty; expected a header row and at least one data row")
    if len(numbered) == 1:
        raise RnnkitError(f"{path} has a header but no data rows")
    return [cell.strip() for cell in numbered[0][1]], numbered[1:]


def _chosen_columns(
    name: str, header: list[str], date_column: str | None, columns: Sequence[str] | None
) -> tuple[int | None, list[str]]:
    """The index of the date column (``None``: no dates) and the value columns read."""
    if date_column is None:
        date_index: int | None = 0
    elif date_column == "":
        date_index = None
    else:
        if date_column not in header:
            raise RnnkitError(
                f"{name} has no date column {shown(date_column)}; available: {shown_names(header)}"
            )
        date_index = header.index(date_column)
    if columns is None:
        value_names = [h for i, h in enumerate(header) if i != date_index]
        if not value_names:
            raise RnnkitError(
                f"{name} has no value column besides the date column {shown(header[0])}"
            )
        return date_index, value_names
    value_names = list(columns)
    if not value_names:
        raise RnnkitError("no value column requested; expected at least one column name")
    for column in value_names:
        if column not in header or header.index(column) == date_index:
            available = [h for i, h in enumerate(header) if i != date_index]
            raise RnnkitError(
                f"{name} has no value column {shown(column)}; available: {shown_names(available)}"
            )
    return date_index, value_names


def _numbers(
    name: str,
    header: list[str],
    data: list[tuple[int, list[str]]],
    date_index: int | None,
    value_names: list[str],
) -> tuple[list[str], np.ndarray, dict[str, list[int]]]:
    """Dates, values ``(T, C)`` (NaN where missing) and the rows missing in each column."""
    value_indices = [header.index(column) for column in value_names]
    values = np.empty((len(data), len(value_names)), dtype=np.float64)  # (T, C)
    dates: list[str] = []
    missing_rows: dict[str, list[int]] = {column: [] for column in value_names}
    for row_number, (line, row) in enumerate(data, start=1):
        where = f"row {row_number} (line {line})" if line else f"row {row_number}"
        if len(row) != len(header):
            raise RnnkitError(
                f"{name} {where} has {len(row)} cells, expected {len(header)} as in the header"
            )
        dates.append(row[date_index].strip() if date_index is not None else f"t{row_number}")
        for j, (column, index) in enumerate(zip(value_names, value_indices)):
            cell = row[index]
            if _is_missing(cell):
                values[row_number - 1, j] = math.nan
                missing_rows[column].append(row_number)
                continue
            try:
                number = float(cell)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise RnnkitError(
                    f"{name} {where}, column {column!r}: expected a number, "
                    f"got {shown(cell.strip())}"
                )
            values[row_number - 1, j] = number
    if date_index is not None:  # several series in one file, or shuffled dates: refused
        check_dates(name, header[date_index], dates)
    return dates, values, missing_rows


def _in_memory(
    source: Any, date_column: str | None, columns: Sequence[str] | None
) -> tuple[str, list[str], list[tuple[int, list[str]]], int | None, list[str]]:
    """A series in memory (see :func:`rnnkit.data.tables.numbers`) as the cells of a CSV file:
    its name, header, rows (line 0: none) and the date and value columns; a number's text reads
    back as the same number."""
    dates, names, values, date_name, name = tables.numbers(source, date_column, columns)
    header = [date_name, *names] if date_name else names
    rows = [
        [*([date] if date_name else []), *(str(column[n]) for column in values)]
        for n, date in enumerate(dates)
    ]
    return name, header, [(0, row) for row in rows], 0 if date_name else None, names


def read_series(
    path: Any,
    *,
    date_column: str | None = None,
    columns: Sequence[str] | None = None,
    fill: str | None = None,
    text: str | None = None,
) -> TimeSeries:
    """Read a time series from a CSV file with a header row.

    Args:
        path: the CSV file (with ``text``: only the name the messages give it), or the series in
            memory, read as a file of its cells (see :func:`rnnkit.data.tables.numbers`).
        date_column: the column holding the dates; default the first column. ``""`` means the file
            has no date column (then every column is a value column unless ``columns`` is given).
        columns: the value columns to read; default every column but the date column.
        fill: ``None`` (a missing value is an error naming its row), ``"ffill"`` or
            ``"interpolate"`` (see :func:`fill_missing`).
        text: the file's content, already read (e.g. standard input); nothing is read from ``path``.

    Raises:
        RnnkitError: unreadable or empty file, unknown column (the message lists the available
            ones), a row with the wrong number of cells, a non-numeric cell (row and line given),
            a missing value without ``fill``.
    """
    if fill is not None and fill not in FILL_METHODS:
        raise RnnkitError(f"fill must be one of {', '.join(FILL_METHODS)} or None, got {fill!r}")
    if text is None and tables.table_source(path):
        name, header, data, date_index, value_names = _in_memory(path, date_column, columns)
    else:
        path = Path(path)
        name = path.name or str(path)
        header, data = _csv_rows(
            path, read_text(path, "series file", empty=True) if text is None else text
        )
        date_index, value_names = _chosen_columns(name, header, date_column, columns)
    dates, values, missing_rows = _numbers(name, header, data, date_index, value_names)
    filled: dict[str, int] = {}
    for j, column in enumerate(value_names):
        rows_missing = missing_rows[column]
        if not rows_missing:
            continue
        if fill is None:
            listed = ", ".join(str(r) for r in rows_missing[:5]) + (
                ", ..." if len(rows_missing) > 5 else ""
            )
            raise RnnkitError(
                f"{name} column {column!r} has {len(rows_missing)} missing value(s) (rows {listed}); "
                f"fill them with --fill ffill or --fill interpolate (fill in the data config)"
            )
        values[:, j] = fill_missing(values[:, j], fill, name=f"{name} column {column!r}")
        filled[column] = len(rows_missing)
    return TimeSeries(
        dates=dates,
        values=values,
        columns=value_names,
        date_column=header[date_index] if date_index is not None else None,
        source=name,
        filled=filled,
    )


def fill_missing(values: np.ndarray, method: str, *, name: str = "series") -> np.ndarray:
    """Replace the NaNs of a 1-D series.

    ``"ffill"`` carries the last known value forward; ``"interpolate"`` draws a straight line
    between the known neighbours. In both, missing values before the first known one take the
    first known value (there is nothing earlier to carry), and ``"interpolate"`` gives missing
    values after the last known one the last known value.

    Raises:
        RnnkitError: an unknown method, or a series with no known value at all.
    """
    if method not in FILL_METHODS:
        raise RnnkitError(f"fill must be one of {', '.join(FILL_METHODS)}, got {method!r}")
    values = np.asarray(values, dtype=np.float64).copy()  # (T,)
    known = np.flatnonzero(~np.isnan(values))
    if known.size == 0:
        raise RnnkitError(f"{name} has no value at all; nothing to fill from")
    if method == "interpolate":
        steps = np.arange(values.shape[0])
        return np.interp(steps, known, values[known])
    # Forward fill: index of the last known value at or before each step (first known for a head gap).
    last = np.maximum.accumulate(np.where(~np.isnan(values), np.arange(values.shape[0]), -1))
    last[last < 0] = known[0]
    return values[last]


@dataclass(frozen=True)
class Split:
    """Chronological boundaries: train ``[0, train_end)``, validation ``[train_end, val_end)``,
    test ``[val_end, n)``."""

    n: int
    train_end: int
    val_end: int

    def bounds(self, part: str) -> tuple[int, int]:
        """``(start, end)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if part == "train":
            return 0, self.train_end
        if part == "val":
            return self.train_end, self.val_end
        if part == "test":
            return self.val_end, self.n
        raise ValueError(f"part must be 'train', 'val' or 'test', got {part!r}")


def _count(size: float, n: int, what: str) -> int:
    if size < 0:
        raise RnnkitError(f"{what} must be >= 0, got {size}")
    if size < 1:
        return round(size * n)
    if float(size) != int(size):
        raise RnnkitError(
            f"{what} must be a fraction in [0, 1) or a whole number of steps, got {size}"
        )
    return int(size)


def chronological_split(n: int, *, val_size: float = 0.1, test_size: float = 0.2) -> Split:
    """Split ``n`` time steps by time: the test part is the last ``test_size`` steps and the
    validation part the ``val_size`` steps before it; the training part is everything earlier.

    A size below 1 is a fraction of ``n``; a size of 1 or more is a number of steps (``test_size=24``
    for the last 24 months).

    Raises:
        RnnkitError: a negative size, or sizes that leave no training steps.
    """
    n_test = _count(test_size, n, "test_size")
    n_val = _count(val_size, n, "val_size")
    train_end = n - n_test - n_val
    if train_end < 1:
        raise RnnkitError(
            f"validation ({n_val}) + test ({n_test}) steps leave no training steps in a series of "
            f"{n} steps"
        )
    return Split(n=n, train_end=train_end, val_end=n - n_test)


def window_starts(
    n: int, lookback: int, horizon: int, start: int = 0, end: int | None = None
) -> np.ndarray:
    """Start indices ``s`` of the windows whose targets ``[s+lookback, s+lookback+horizon)`` all lie
    in ``[start, end)`` and whose inputs ``[s, s+lookback)`` lie in the series.

    Raises:
        RnnkitError: lookback or horizon < 1, or ``lookback + horizon`` longer than the series
            (the message gives both numbers).
    """
    for name, value in (("lookback", lookback), ("horizon", horizon)):
        if value < 1:
            raise RnnkitError(f"{name} must be >= 1, got {value}")
    if lookback + horizon > n:
        raise RnnkitError(
            f"lookback + horizon ({lookback} + {horizon} = {lookback + horizon}) is longer than "
            f"the series ({n} steps)"
        )
    end = n if end is None else end
    first_target = max(start, lookback)  # the first target step a window can have
    last_target = end - horizon  # the first target step of the last window that fits
    if last_target < first_target:
        return np.zeros(0, dtype=np.int64)
    return np.arange(first_target, last_target + 1, dtype=np.int64) - lookback


def make_windows(
    features: np.ndarray,
    target: np.ndarray,
    lookback: int,
    horizon: int,
    start: int = 0,
    end: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sliding windows ``lookback -> horizon`` whose targets lie in ``[start, end)``.

    Args:
        features: ``(T, F)`` inputs of every step (the target itself is usually one of them).
        target: ``(T,)`` the series to forecast.

    Returns:
        ``(inputs (N, L, F), targets (N, K), first_target_steps (N,))``; window ``i`` forecasts
        steps ``first_target_steps[i] .. first_target_steps[i] + K - 1``.
    """
    features = np.asarray(features, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if features.ndim != 2 or target.ndim != 1 or features.shape[0] != target.shape[0]:
        raise ValueError(
            f"expected features (T, F) and target (T,) of the same length, got "
            f"{tuple(features.shape)} and {tuple(target.shape)}"
        )
    starts = window_starts(target.shape[0], lookback, horizon, start, end)
    steps_in = starts[:, None] + np.arange(lookback)[None, :]  # (N, L)
    steps_out = starts[:, None] + lookback + np.arange(horizon)[None, :]  # (N, K)
    inputs = features[steps_in]  # (N, L, F)
    targets = target[steps_out]  # (N, K)
    return inputs, targets, starts + lookback


class StandardScaler:
    """Per-column standardisation ``z = (x - mean) / scale``, fitted on the training part only.

    A column that is constant in the training data has ``std = 0``: it is divided by 1 (so it maps
    to 0) and :meth:`inverse_transform` multiplies by the true ``std`` of 0, so whatever a model
    outputs for it comes back as exactly the constant. That is the only forecast the training data
    supports, and it makes a constant series forecast exactly.
    """

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)  # (C,)
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)  # (C,)
        if self.mean.shape != self.std.shape:
            raise ValueError(
                f"mean and std must have the same length, got {self.mean.size} and {self.std.size}"
            )
        if not (
            np.isfinite(self.mean).all() and np.isfinite(self.std).all() and (self.std >= 0).all()
        ):
            raise ValueError("scaler mean must be finite and std finite and >= 0")

    @classmethod
    def fit(cls, values: np.ndarray) -> StandardScaler:
        """Fit on ``(T, C)`` (or ``(T,)``) training values: mean and population std per column."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim == 1:
            values = values[:, None]
        if values.shape[0] < 1:
            raise RnnkitError("cannot fit a scaler on an empty training split")
        std = values.std(axis=0)
        # A column equal everywhere can still show a std of ~1e-16 from rounding: treat it as 0.
        std[std <= 1e-12 * np.maximum(1.0, np.abs(values.mean(axis=0)))] = 0.0
        return cls(values.mean(axis=0), std)

    @property
    def divisor(self) -> np.ndarray:
        """The scale actually divided by: ``std``, or 1 where ``std`` is 0."""
        return np.where(self.std > 0, self.std, 1.0)

    def transform(self, values: np.ndarray) -> np.ndarray:
        """``(..., C)`` original units -> standardised."""
        return (np.asarray(values, dtype=np.float64) - self.mean) / self.divisor

    def inverse_transform(self, values: np.ndarray) -> np.ndarray:
        """``(..., C)`` standardised -> original units (a constant column returns its constant)."""
        return np.asarray(values, dtype=np.float64) * self.std + self.mean

    def to_dict(self) -> dict[str, Any]:
        """Plain lists of floats, for checkpoints loaded with ``weights_only=True``."""
        return {"mean": [float(v) for v in self.mean], "std": [float(v) for v in self.std]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StandardScaler:
        try:
            return cls(data["mean"], data["std"])
        except (KeyError, TypeError) as error:
            raise RnnkitError(
                f"invalid scaler data: expected keys 'mean' and 'std', got {data!r}"
            ) from error

    def __repr__(self) -> str:
        return f"StandardScaler(mean={self.mean.tolist()}, std={self.std.tolist()})"
