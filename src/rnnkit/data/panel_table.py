"""The cells of a panel's table: a CSV file, a DataFrame (pandas is not imported) or a mapping
of columns read as columns, and the long or wide layout turned into one row per (series, time)
(:class:`Rows`), before :func:`rnnkit.data.panel.read_panel` groups them into series."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.config import InMemory
from rnnkit.data.panel_time import parse_times
from rnnkit.data.tables import is_frame
from rnnkit.data.text import read_text
from rnnkit.data.timeseries import MISSING_MARKERS
from rnnkit.errors import RnnkitError, shown, shown_names

__all__ = ["Rows", "column_of", "floats", "layout_rows", "table_columns"]


# ----------------------------------------------------------------------------- cells
def csvtable_columns(source: Any) -> tuple[str, dict[str, np.ndarray]]:
    """A CSV file as its name and its columns of text (short rows padded with empty cells)."""
    path = Path(source)
    text = read_text(path, "panel file", empty=True)
    reader = csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline=""))
    header: list[str] | None = None
    data: list[list[str]] = []
    try:
        for line, row in enumerate(reader, start=1):
            if not any(row):  # a blank line
                continue
            if header is None:
                header = [cell.strip() for cell in row]
                continue
            if len(row) != len(header):
                if len(row) > len(header):
                    raise RnnkitError(
                        f"{path.name} line {line} has {len(row)} cells, expected {len(header)} "
                        "as in the header"
                    )
                row = row + [""] * (len(header) - len(row))
            data.append(row)
    except csv.Error as error:
        raise RnnkitError(f"{path} is not a readable CSV file: {error}") from error
    if header is None or not data:
        raise RnnkitError(f"{path}: expected a header row and at least one data row")
    cells = [np.array(column, dtype=str) for column in zip(*data)]
    return path.name, dict(zip(header, cells))


def table_columns(source: Any) -> tuple[str, dict[str, np.ndarray]]:
    """The columns of a CSV path, a DataFrame (pandas is not imported) or a mapping of columns
    (any of them as given in a config: :class:`~rnnkit.config.InMemory`)."""
    if isinstance(source, InMemory):
        source = source.value
    if is_frame(source):
        frame = source
        if frame.index.name is not None or frame.index.dtype.kind == "M":
            frame = frame.reset_index()
        return "the DataFrame", {str(c): frame[c].to_numpy() for c in frame.columns}
    if isinstance(source, Mapping):
        columns = {str(k): np.asarray(v) for k, v in source.items()}
        sizes = {len(v) for v in columns.values()}
        if len(sizes) > 1:
            named = ", ".join(f"{k} {len(v)}" for k, v in columns.items())
            raise RnnkitError(f"data: expected columns of one length, got {named}")
        return "the columns", columns
    if isinstance(source, (str, Path)):
        return csvtable_columns(source)
    raise RnnkitError(
        f"data: expected a CSV path, a DataFrame or a mapping of columns, got {type(source).__name__}"
    )


def column_of(name: str, columns: dict[str, np.ndarray], column: str, what: str) -> np.ndarray:
    if column not in columns:
        raise RnnkitError(
            f"{what}: {name} has no column {shown(column)}; available: {shown_names(list(columns))}"
        )
    return columns[column]


def floats(cells: np.ndarray, what: str) -> np.ndarray:
    """Cells as float64, NaN where missing (empty, NA, NaN, null...)."""
    if cells.dtype.kind in "biuf":
        return cells.astype(np.float64)
    text = np.char.strip(cells.astype(str))
    missing = np.isin(np.char.lower(text), list(MISSING_MARKERS))
    text = np.where(missing, "nan", text)
    try:
        return text.astype(np.float64)
    except ValueError:
        for row, cell in enumerate(text, start=1):
            try:
                float(cell)
            except ValueError:
                raise RnnkitError(
                    f"{what}: expected numbers, got {shown(str(cell))} (row {row})"
                ) from None
        raise


# ----------------------------------------------------------------------------- layouts
@dataclass
class Rows:
    """A panel before grouping: one entry per (series, time) row."""

    ids: np.ndarray  # (N,) str
    times: np.ndarray  # (N,)
    values: np.ndarray  # (N,) float64
    features: np.ndarray  # (N, F)
    known: np.ndarray  # (N, K)
    static: np.ndarray  # (N, Z) str


def long_rows(
    name: str,
    columns: dict[str, np.ndarray],
    series_col: str,
    time_col: str | None,
    target: str | None,
    features: Sequence[str],
    known: Sequence[str],
    static: Sequence[str],
) -> tuple[Rows, str]:
    ids = column_of(name, columns, series_col, "series_col").astype(str)
    if time_col is None:
        used = {series_col, target, *features, *known, *static}
        time_col = next((c for c in columns if c not in used), None)
        if time_col is None:
            raise RnnkitError(f"time_col: {name} has no column left for the times")
    times = parse_times(column_of(name, columns, time_col, "time_col"), time_col)
    if target is None:  # covariates only (the future of the known features): no values
        values = np.full(ids.shape[0], np.nan)
    else:
        values = floats(column_of(name, columns, target, "target"), f"target {target!r}")

    def matrix(names: Sequence[str], what: str) -> np.ndarray:
        cols = [floats(column_of(name, columns, c, what), f"{what} {c!r}") for c in names]
        return np.stack(cols, axis=1) if cols else np.zeros((len(ids), 0))

    statics = [column_of(name, columns, c, "static").astype(str) for c in static]
    return Rows(
        ids,
        times,
        values,
        matrix(features, "features"),
        matrix(known, "known_features"),
        np.stack(statics, axis=1) if statics else np.zeros((len(ids), 0), dtype=str),
    ), time_col


def wide_rows(
    name: str,
    columns: dict[str, np.ndarray],
    wide: bool | str,
    series_col: str | None,
    time_col: str | None,
) -> Rows:
    """One column (or row) per series as rows: edge gaps of each series dropped."""
    if wide == "rows":
        id_col = series_col or next(iter(columns))
        ids = column_of(name, columns, id_col, "series_col").astype(str)
        names = [c for c in columns if c != id_col]
        matrix = np.stack([floats(columns[c], f"column {c!r}") for c in names], axis=1).T
        times = np.arange(1, matrix.shape[0] + 1, dtype=np.int64)  # (T,)
    else:
        if series_col is not None:
            raise RnnkitError(
                f"series_col: expected none with wide=True (one column per series), got "
                f"{series_col!r}; give series_col for a long file, without wide"
            )
        names = [c for c in columns if c != time_col]
        if time_col is not None:
            times = parse_times(column_of(name, columns, time_col, "time_col"), time_col)
        else:
            times = np.arange(1, len(next(iter(columns.values()))) + 1, dtype=np.int64)
        if len(names) < 2:
            raise RnnkitError(
                f"wide: expected two or more series columns with wide=True, got "
                f"{len(names)} ({shown_names(names)}); read one series without wide"
            )
        ids = np.array(names, dtype=str)
        matrix = np.stack([floats(columns[c], f"column {c!r}") for c in names], axis=1)
    # matrix (T, S): keep each series from its first value to its last (edge cells are no data)
    known = ~np.isnan(matrix)
    first = np.where(known.any(axis=0), known.argmax(axis=0), matrix.shape[0])
    last = matrix.shape[0] - known[::-1].argmax(axis=0)
    steps = np.arange(matrix.shape[0])[:, None]
    keep = (steps >= first[None, :]) & (steps < last[None, :])  # (T, S)
    t_index, s_index = np.nonzero(keep)
    order = np.lexsort((t_index, s_index))
    t_index, s_index = t_index[order], s_index[order]
    n = t_index.shape[0]
    return Rows(
        ids[s_index],
        times[t_index],
        matrix[t_index, s_index],
        np.zeros((n, 0)),
        np.zeros((n, 0)),
        np.zeros((n, 0), dtype=str),
    )


def layout_rows(
    name: str,
    columns: dict[str, np.ndarray],
    series_col: str | None,
    time_col: str | None,
    target: str | None,
    features: Sequence[str],
    known_features: Sequence[str],
    static: Sequence[str],
    wide: bool | str,
) -> Rows:
    """The rows of a long or wide table, checked against its layout."""
    if wide:
        if features or known_features or static:
            raise RnnkitError(
                "wide: expected no features, known_features or static with a wide file (it holds "
                "values only), got some; use the long layout"
            )
        return wide_rows(name, columns, wide, series_col, time_col)
    if series_col is None:
        raise RnnkitError(
            f"series_col: expected the column of series ids of {name} (long layout), got none;"
            f" columns: {shown_names(list(columns))}"
        )
    return long_rows(name, columns, series_col, time_col, target, features, known_features, static)[
        0
    ]
