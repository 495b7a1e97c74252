"""Many series in one object: reading a panel from long or wide CSV files and DataFrames.

Two layouts are read (``wide`` chooses):

- **long** (default): one row per series and time, e.g. M4's ``series,time,value`` or
  ``store,date,sales,price``. ``series_col`` groups the rows into series, ``time_col`` orders
  them, ``target`` is the value to forecast; ``features`` (known only up to the present),
  ``known_features`` (known over the forecast horizon too: prices, holidays) and ``static``
  (one category per series: store, region) are further columns.
- **wide** (``wide=True``): one column per series, rows are times; ``time_col`` names the time
  column, or there is none (steps 1, 2, ...). Empty cells before a series' first value or after
  its last are not values: series may start and end at different rows. ``wide="rows"``: one row
  per series (M4's original files), the first column (or ``series_col``) its id, the values
  after it.

Rows may come in any order: each series' rows are sorted by time (unsorted times are sorted, and
:attr:`Panel.notes` says so), a time repeated within a series is an error. Series may differ in
length and start. The time column may hold dates or an integer step index; the frequency (and
from it the seasonal period and the calendar features) is inferred, see
:mod:`rnnkit.data.panel_time`. A missing target or feature value is an error unless ``fill`` is
``"ffill"`` or ``"interpolate"`` (as for one series).

Storage: all series are concatenated (``values (total,)`` float32, ``times (total,)``,
``features (total, F)``, ``known (total, K)``) and ``offsets (S+1,)`` bounds series ``s`` as
``[offsets[s], offsets[s+1])``: the windows of :mod:`rnnkit.data.panel_windows` are views of
these arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnnkit.data.panel_table import Rows, layout_rows, table_columns
from rnnkit.data.panel_time import Frequency, infer_frequency, time_text
from rnnkit.data.timeseries import FILL_METHODS, fill_missing
from rnnkit.errors import RnnkitError, shown, shown_names

__all__ = ["Panel", "PanelSeries", "concat_panels", "read_panel"]


@dataclass
class PanelSeries:
    """One series of a panel: views of the panel's arrays, no copies.

    ``values (T,)`` float32, ``times (T,)``, ``features (T, F)``, ``known (T, K)``, ``static``
    (column -> category).
    """

    id: str
    values: np.ndarray
    times: np.ndarray
    features: np.ndarray
    known: np.ndarray
    static: dict[str, str]

    def __len__(self) -> int:
        return int(self.values.shape[0])


@dataclass
class Panel:
    """Series concatenated (see the module's docstring); ``S`` series, ``total`` steps in all.

    Attributes:
        ids: the series' ids, in the order they first appear in the data.
        offsets: ``(S+1,)`` int64; series ``s`` is ``[offsets[s], offsets[s+1])``.
        values: ``(total,)`` float32 targets.
        times: ``(total,)`` ``datetime64[s]`` dates or ``int64`` steps, increasing in each series.
        freq: the inferred (or given) :class:`~rnnkit.data.panel_time.Frequency`.
        features / known: ``(total, F)`` / ``(total, K)`` float32, past-only / known-ahead.
        static: static column -> one category per series.
        notes: what reading changed (sorted times, filled values), one line each.
    """

    ids: list[str]
    offsets: np.ndarray
    values: np.ndarray
    times: np.ndarray
    freq: Frequency
    target: str = "value"
    features: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    known: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    feature_names: list[str] = field(default_factory=list)
    known_names: list[str] = field(default_factory=list)
    static: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        """``(S,)`` int64 number of steps of each series."""
        return np.diff(self.offsets)

    def index(self, key: str | int) -> int:
        """The position of a series given by id (or by position, checked)."""
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not 0 <= key < len(self.ids):
                raise RnnkitError(f"series: expected a position in [0, {len(self.ids)}), got {key}")
            return int(key)
        lookup = getattr(self, "_lookup", None)
        if lookup is None:
            lookup = self._lookup = {name: i for i, name in enumerate(self.ids)}
        if key not in lookup:
            raise RnnkitError(
                f"series: no series {shown(key)} in the panel; ids: {shown_names(self.ids)}"
            )
        return lookup[key]

    def series(self, key: str | int) -> PanelSeries:
        """One series (by id or position) as views of the panel's arrays."""
        s = self.index(key)
        a, b = int(self.offsets[s]), int(self.offsets[s + 1])
        return PanelSeries(
            self.ids[s],
            self.values[a:b],
            self.times[a:b],
            self.features[a:b],
            self.known[a:b],
            {column: values[s] for column, values in self.static.items()},
        )

    def __iter__(self):
        return (self.series(s) for s in range(len(self.ids)))

    def calendar(self) -> np.ndarray:
        """``(total, len(freq.calendar_names))`` float32 calendar features of every step."""
        return self.freq.calendar(self.times)

    def future_times(self, key: str | int, n: int) -> np.ndarray:
        """The ``n`` times after the last of one series: ``(n,)``."""
        s = self.index(key)
        return self.freq.future_times(self.times[int(self.offsets[s + 1]) - 1], n)

    def static_codes(self) -> tuple[np.ndarray, dict[str, list[str]]]:
        """``(codes (S, Z) int64, vocabularies)``: each static column's categories (sorted) and
        every series' index in them, for an embedding."""
        vocab = {column: sorted(set(values)) for column, values in self.static.items()}
        codes = np.zeros((len(self.ids), len(vocab)), dtype=np.int64)
        for j, (column, names) in enumerate(vocab.items()):
            where = {name: i for i, name in enumerate(names)}
            codes[:, j] = [where[v] for v in self.static[column]]
        return codes, vocab

    def __repr__(self) -> str:
        lengths = self.lengths
        return (
            f"Panel({len(self.ids)} series, {int(self.offsets[-1]):,} steps, lengths "
            f"{int(lengths.min()) if lengths.size else 0}..{int(lengths.max()) if lengths.size else 0}"
            f", {self.freq})"
        )


# ----------------------------------------------------------------------------- grouping
def _order(rows: Rows, notes: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Ids in order of first appearance, the permutation that groups the rows by series (sorted by
    time within each) and the offsets ``(S+1,)``; duplicates are an error, unsorted times a note."""
    unique, first, inverse = np.unique(rows.ids, return_index=True, return_inverse=True)
    rank = np.empty(unique.shape[0], dtype=np.int64)
    rank[np.argsort(first)] = np.arange(unique.shape[0])
    codes = rank[inverse.reshape(-1)]  # (N,) series of each row, by first appearance
    ids = [str(i) for i in unique[np.argsort(first)]]
    perm = np.argsort(codes, kind="stable")
    times = rows.times[perm]
    same = codes[perm][1:] == codes[perm][:-1]
    backwards = same & (times[1:] < times[:-1])
    if np.any(backwards):
        unsorted = np.unique(codes[perm][1:][backwards])
        perm = np.lexsort((rows.times, codes))
        times = rows.times[perm]
        notes.append(
            f"the times of {len(unsorted)} series were not in order "
            f"({shown_names([ids[i] for i in unsorted], 5)}); sorted them by time"
        )
    twice = np.flatnonzero(same & (times[1:] == times[:-1]))
    if twice.size:
        k = int(twice[0])
        rows_named = sorted((int(perm[k]) + 1, int(perm[k + 1]) + 1))
        raise RnnkitError(
            f"times: expected one row per series and time, got series "
            f"{ids[int(codes[perm[k]])]!r} at time {time_text(times[k])} twice "
            f"(data rows {rows_named[0]} and {rows_named[1]})"
        )
    counts = np.bincount(codes, minlength=len(ids))
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return ids, perm, offsets


def _static_values(
    static_names: Sequence[str], values: np.ndarray, ids: list[str], offsets: np.ndarray
) -> dict[str, list[str]]:
    """Each static column's one value per series; a series with two values is an error."""
    out: dict[str, list[str]] = {}
    for j, column in enumerate(static_names):
        cells = values[:, j]
        first = cells[offsets[:-1]]
        differs = np.flatnonzero(cells != np.repeat(first, np.diff(offsets)))
        if differs.size:
            s = int(np.searchsorted(offsets, differs[0], side="right") - 1)
            raise RnnkitError(
                f"static: expected one value of {column!r} per series, got {shown(str(first[s]))} "
                f"and {shown(str(cells[differs[0]]))} in series {ids[s]!r}"
            )
        out[column] = [str(v) for v in first]
    return out


def _no_missing(
    what: str,
    values: np.ndarray,
    ids: list[str],
    offsets: np.ndarray,
    fill: str | None,
    notes: list[str],
) -> np.ndarray:
    """``values (total,)`` with NaNs filled per series, or an error naming the first series."""
    gaps = np.isnan(values)
    if not gaps.any():
        return values
    series = np.unique(np.searchsorted(offsets, np.flatnonzero(gaps), side="right") - 1)
    if fill is None:
        s = int(series[0])
        count = int(gaps[offsets[s] : offsets[s + 1]].sum())
        raise RnnkitError(
            f"{what}: expected no missing values, got {count} in series {ids[s]!r} "
            f"({len(series)} series in all have some); fill them with fill='ffill' or "
            "'interpolate' (--fill)"
        )
    values = values.copy()
    for s in series:
        a, b = int(offsets[s]), int(offsets[s + 1])
        values[a:b] = fill_missing(values[a:b], fill, name=f"series {ids[s]!r} {what}")
    notes.append(
        f"filled {int(gaps.sum())} missing {what} value(s) in {len(series)} series ({fill})"
    )
    return values


def read_panel(
    data: Any,
    *,
    series_col: str | None = None,
    time_col: str | None = None,
    target: str | None = "value",
    features: Sequence[str] = (),
    known_features: Sequence[str] = (),
    static: Sequence[str] = (),
    wide: bool | str = False,
    freq: str | None = None,
    period: int | None = None,
    fill: str | None = None,
    log: Callable[[str], None] | None = None,
) -> Panel:
    """Read many series from a CSV file, a pandas DataFrame or a mapping of columns.

    Args:
        data: a CSV path (header row first), a DataFrame (its named or date index is a column)
            or ``{column: values}``.
        series_col: long layout: the column of series ids (required). ``wide="rows"``: the id
            column (default the first).
        time_col: the time column (dates or integer steps). Long: default the first column that
            is none of the others; wide: default none (steps 1, 2, ...).
        target: long: the value column (wide: the name given to the values); ``None``: no
            value column, the panel holds covariates only (its values are NaN), e.g. the
            known features over a forecast horizon for :func:`~rnnkit.data.panel_windows.forecast_inputs`.
        features / known_features / static: long only; past-only numeric inputs, numeric inputs
            known over the horizon, per-series categories.
        wide: ``False`` (long), ``True`` (a column per series) or ``"rows"`` (a row per series).
        freq: a name of :data:`~rnnkit.data.panel_time.FREQUENCIES` to require (checked against
            the inferred one); default inferred.
        period: the seasonal period, overriding the frequency's.
        fill: ``None`` (a missing value is an error), ``"ffill"`` or ``"interpolate"``.
        log: called with each note (times sorted, values filled); the notes are also kept in
            :attr:`Panel.notes`.

    Raises:
        RnnkitError: one line naming the argument, what was expected and what was found: an
            unknown column, a non-numeric value, a time that is neither a date nor an integer,
            a time repeated within a series, irregular times, missing values without ``fill``,
            a static column that varies in a series, a wide file with one series, series_col with
            ``wide=True``.
    """
    if fill is not None and fill not in FILL_METHODS:
        raise RnnkitError(f"fill: expected one of {', '.join(FILL_METHODS)} or None, got {fill!r}")
    if wide not in (False, True, "rows"):
        raise RnnkitError(f"wide: expected False, True or 'rows', got {wide!r}")
    name, columns = table_columns(data)
    if not columns or not len(next(iter(columns.values()))):
        raise RnnkitError(f"data: expected at least one row in {name}, got none")
    rows = layout_rows(
        name, columns, series_col, time_col, target, features, known_features, static, wide
    )
    panel = _assemble(name, rows, target, features, known_features, static, freq, period, fill)
    for note in panel.notes:
        if log is not None:
            log(f"note: {note}")
    return panel


def _assemble(
    name: str,
    rows: Rows,
    target: str | None,
    features: Sequence[str],
    known_features: Sequence[str],
    static: Sequence[str],
    freq: str | None,
    period: int | None,
    fill: str | None,
) -> Panel:
    """The rows grouped into series, sorted, checked and filled (see :func:`read_panel`)."""
    notes: list[str] = []
    ids, perm, offsets = _order(rows, notes)
    times = rows.times[perm]
    frequency = infer_frequency(times, offsets, ids=ids, period=period)
    if freq is not None and freq != frequency.name:
        raise RnnkitError(
            f"freq: expected {freq!r} as given, got {frequency.name!r} times in {name}"
        )
    values = rows.values[perm]
    if target is not None:
        values = _no_missing(f"target {target!r}", values, ids, offsets, fill, notes)
    matrices = []
    for names, matrix in ((features, rows.features), (known_features, rows.known)):
        matrix = matrix[perm]
        for j, column in enumerate(names):
            matrix[:, j] = _no_missing(
                f"feature {column!r}", matrix[:, j], ids, offsets, fill, notes
            )
        matrices.append(matrix.astype(np.float32))
    return Panel(
        ids=ids,
        offsets=offsets,
        values=values.astype(np.float32),
        times=times,
        freq=frequency,
        target=target or "",
        features=matrices[0],
        known=matrices[1],
        feature_names=list(features),
        known_names=list(known_features),
        static=_static_values(static, rows.static[perm], ids, offsets),
        notes=notes,
    )


def _rows_of(panel: Panel) -> Rows:
    """A panel back as rows (the inverse of grouping)."""
    lengths = panel.lengths
    static = [np.repeat(np.array(values, dtype=str), lengths) for values in panel.static.values()]
    return Rows(
        np.repeat(np.array(panel.ids, dtype=str), lengths),
        panel.times,
        panel.values.astype(np.float64),
        panel.features,
        panel.known,
        np.stack(static, axis=1) if static else np.zeros((len(panel.values), 0), dtype=str),
    )


def concat_panels(first: Panel, second: Panel) -> Panel:
    """The series of ``first`` continued by those of ``second`` (e.g. M4's training and test
    files: each test series carries on where its training series ends); a series in one panel
    only is kept as it is. The result is checked as a read panel is (no time twice, a regular
    step) and keeps ``first``'s seasonal period.

    Raises:
        RnnkitError: panels with other columns (target, features, static), or times that repeat
            or leave a gap across the join.
    """
    for what, one, two in (
        ("target", first.target, second.target),
        ("features", first.feature_names, second.feature_names),
        ("known_features", first.known_names, second.known_names),
        ("static", list(first.static), list(second.static)),
    ):
        if one != two:
            raise RnnkitError(f"{what}: expected the same in both panels, got {one!r} and {two!r}")
    a, b = _rows_of(first), _rows_of(second)
    if a.times.dtype != b.times.dtype:
        raise RnnkitError(
            f"times: expected the same kind in both panels, got {a.times.dtype} and {b.times.dtype}"
        )
    rows = Rows(*(np.concatenate([x, y]) for x, y in zip(vars(a).values(), vars(b).values())))
    return _assemble(
        "the panels",
        rows,
        first.target or None,
        first.feature_names,
        first.known_names,
        list(first.static),
        None,
        first.freq.period,
        None,
    )
