"""Data in memory and in table files, turned into what the file readers give.

The readers of :mod:`~rnnkit.data.labelled` (classify), :mod:`~rnnkit.data.conll` (tag),
:mod:`~rnnkit.data.timeseries` (forecast) and :func:`~rnnkit.data.text.load_corpus` (lm) take,
besides their files, every form of this module:

- a table: a pandas ``DataFrame``, a Hugging Face ``datasets.Dataset`` (a ``ClassLabel``
  column, or a list column of them, read as the class names), a ``.jsonl`` file (one JSON object
  a line) or a ``.parquet`` file (read with pandas), or a list of dicts: the column options of
  the task name the columns (keys);
- Python lists: texts (lm); ``(text, label)`` pairs (classify); sentences, each a list of
  ``(token, tag)`` pairs or a ``(tokens, tags)`` pair (tag); numbers, or a 1-D array (forecast).

What a reader gets from a form is what it gets from the equivalent file: texts stripped, a row
without text skipped, labels and tags as strings, a missing number as NaN (filled or refused as
in a CSV). pandas and datasets are never imported here: a DataFrame or a Dataset is told by the
module of its type, and a ``.parquet`` file imports pandas through :func:`rnnkit.extras.require`.
Data given in a config arrives wrapped in :class:`~rnnkit.config.InMemory` (its description names
it in messages); :func:`unwrapped` gives the object and that name.
"""

from __future__ import annotations

import datetime
import json
import math
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.config import InMemory, describe_data
from rnnkit.data.text import read_text
from rnnkit.errors import RnnkitError, shown, shown_names
from rnnkit.extras import require

__all__ = [
    "TABLE_SUFFIXES",
    "Table",
    "is_dataset",
    "is_frame",
    "is_table",
    "labelled_rows",
    "missing",
    "numbers",
    "predictions_frame",
    "read_table",
    "table_source",
    "tagged_sentences",
    "texts_of",
    "unwrapped",
]

TABLE_SUFFIXES = (".jsonl", ".parquet")
TABLES = "a DataFrame, a datasets.Dataset"  # the tables in memory, for the messages
TAG_COLUMNS = ("tags", "ner_tags", "pos_tags", "upos")  # a tag column's names, in this preference


# --------------------------------------------------------------------------- forms
def is_frame(value: Any) -> bool:
    """A pandas DataFrame (pandas is not imported to tell)."""
    return type(value).__module__.startswith("pandas") and hasattr(value, "columns")


def is_dataset(value: Any) -> bool:
    """A Hugging Face ``datasets.Dataset`` (datasets is not imported to tell)."""
    return (
        type(value).__module__.startswith("datasets")
        and hasattr(value, "column_names")
        and not isinstance(value, Mapping)  # a DatasetDict: see read_table
    )


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike))


def table_source(source: Any) -> bool:
    """Whether a reader reads ``source`` here: a ``.jsonl``/``.parquet`` path or data in memory."""
    if isinstance(source, InMemory):
        return True
    return not _is_path(source) or Path(source).suffix.lower() in TABLE_SUFFIXES


def is_table(value: Any) -> bool:
    """A table: a DataFrame, a Dataset, a ``.jsonl``/``.parquet`` path or a list of dicts."""
    if _is_path(value):
        return Path(value).suffix.lower() in TABLE_SUFFIXES
    if is_frame(value) or is_dataset(value):
        return True
    if isinstance(value, Mapping):  # a DatasetDict: read_table says which split to give
        return type(value).__module__.startswith("datasets")
    return isinstance(value, (list, tuple)) and bool(value) and isinstance(value[0], Mapping)


def unwrapped(source: Any) -> tuple[Any, str]:
    """The data and its name in messages: a path, or a description of data in memory."""
    if isinstance(source, InMemory):
        return source.value, source.description
    return source, (str(source) if _is_path(source) else describe_data(source))


def _items(value: Any, name: str, expected: str) -> list[Any]:
    """A list, tuple, iterator or 1-D array as a list; anything else names ``expected``."""
    if isinstance(value, (list, tuple, Iterator)) or getattr(value, "ndim", None) == 1:
        items = list(value)
    else:
        raise RnnkitError(f"expected {expected}, got {type(value).__name__}")
    if not items:
        raise RnnkitError(f"{name}: expected {expected}, got an empty list")
    return items


def missing(value: Any) -> bool:
    """A cell without a value: None, NaN (pandas' missing cells) or blank text."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    return isinstance(value, str) and not value.strip()


# --------------------------------------------------------------------------- tables
@dataclass
class Table:
    """Columns of Python values (``columns[name][row]``) and the table's name in messages."""

    name: str
    columns: dict[str, list[Any]]

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()), []))

    def column(self, name: str, option: str) -> list[Any]:
        """The values of column ``name`` (``option``: which setting names it, for the message)."""
        if name not in self.columns:
            raise RnnkitError(
                f"{self.name}: no column {shown(name)} ({option}); available columns: "
                f"{shown_names(list(self.columns))}"
            )
        return self.columns[name]


def read_table(source: Any) -> Table:
    """The columns of a table (see :func:`is_table`); an empty one is an error."""
    value, name = unwrapped(source)
    if _is_path(value) and Path(value).suffix.lower() == ".jsonl":
        columns = _jsonl_columns(Path(value))
    elif _is_path(value) and Path(value).suffix.lower() == ".parquet":
        pandas = require("pandas", f"reading {value}")
        try:
            frame = pandas.read_parquet(value)
        except (OSError, ValueError) as error:
            raise RnnkitError(f"cannot read parquet file {value}: {error}") from error
        columns = _frame_columns(frame)
    elif is_frame(value):
        columns = _frame_columns(value)
    elif is_dataset(value):
        columns = _dataset_columns(value)
    elif isinstance(value, Mapping) and type(value).__module__.startswith("datasets"):
        splits = ", ".join(map(repr, value))
        raise RnnkitError(
            f"expected one split of the DatasetDict (e.g. data[{next(iter(value), 'test')!r}]), "
            f"got the DatasetDict of the splits {splits}"
        )
    else:
        records = _items(value, name, f"a file, {TABLES} or a list of records (dicts)")
        columns = _record_columns(records, name)
    table = Table(name, columns)
    if not len(table):
        raise RnnkitError(f"{name} holds no rows")
    return table


def _record_columns(records: Sequence[Any], name: str) -> dict[str, list]:
    """Columns of records (dicts); a key missing from a record is a missing cell."""
    keys: dict[str, None] = {}
    for n, record in enumerate(records, start=1):
        if not isinstance(record, Mapping):
            raise RnnkitError(
                f"{name}, item {n}: expected a record (a dict), got {type(record).__name__}"
            )
        keys.update(dict.fromkeys(map(str, record)))
    return {key: [record.get(key) for record in records] for key in keys}


def _jsonl_columns(path: Path) -> dict[str, list]:
    records = []
    for n, line in enumerate(read_text(path, "data file", empty=True).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise RnnkitError(f"{path}, line {n}: not JSON ({error.msg})") from None
        if not isinstance(records[-1], Mapping):
            raise RnnkitError(
                f"{path}, line {n}: expected a JSON object, got {type(records[-1]).__name__}"
            )
    if not records:
        raise RnnkitError(f"data file {path} holds no rows")
    return _record_columns(records, str(path))


def _frame_columns(frame: Any) -> dict[str, list]:
    """A DataFrame's columns; a named index or one of dates comes first, as ``to_csv`` writes
    it, and dates are read as their text (as in a CSV file)."""
    if frame.index.name is not None or frame.index.dtype.kind == "M":
        frame = frame.reset_index()
    columns = {}
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind == "M":  # datetimes: their text, as a CSV holds them
            column = column.astype(str)
        columns[str(name)] = column.tolist()
    return columns


def _dataset_columns(dataset: Any) -> dict[str, list]:
    """A Dataset's columns; class labels (``ClassLabel``, or lists of them) as their names."""
    columns = {str(name): list(values) for name, values in dataset.to_dict().items()}
    for name, feature in dataset.features.items():
        inner = getattr(feature, "feature", None)
        if hasattr(feature, "int2str"):
            columns[name] = [None if v is None else feature.int2str(v) for v in columns[name]]
        elif hasattr(inner, "int2str"):
            columns[name] = [None if v is None else inner.int2str(list(v)) for v in columns[name]]
    return columns


# --------------------------------------------------------------------------- classify
def labelled_rows(
    source: Any, text_col: str, label_col: str | None
) -> tuple[list[str], list[str], int, str]:
    """``(texts, labels, rows skipped for want of text, name)`` of a table, a list of
    ``(text, label)`` pairs or (``label_col`` None) a list of texts."""
    value, name = unwrapped(source)
    if is_table(value):
        table = read_table(source)
        texts = table.column(text_col, "the text column")
        labels = None if label_col is None else table.column(label_col, "the label column")
    else:
        expected = "texts" if label_col is None else "(text, label) pairs"
        items = _items(value, name, f"a file, {TABLES} or a list of {expected}")
        if label_col is None and all(isinstance(t, str) for t in items):
            texts, labels = items, None
        elif all(isinstance(p, (list, tuple)) and len(p) == 2 for p in items):
            texts, labels = [p[0] for p in items], [p[1] for p in items]
        else:
            bad = next(p for p in items if not (isinstance(p, (list, tuple)) and len(p) == 2))
            raise RnnkitError(f"{name}: expected {expected}, got an item {shown(bad)}")
    kept = [n for n, text in enumerate(texts) if not missing(text)]
    if not kept:
        raise RnnkitError(f"{name} has no rows with text")
    if labels is None:
        return [str(texts[n]).strip() for n in kept], [], len(texts) - len(kept), name
    for n in kept:
        if missing(labels[n]):
            raise RnnkitError(f"{name}, row {n + 1}: empty label in column {shown(label_col)}")
    _one_type([labels[n] for n in kept], name, "labels")
    return (
        [str(texts[n]).strip() for n in kept],
        [str(labels[n]).strip() for n in kept],
        len(texts) - len(kept),
        name,
    )


def _one_type(values: Sequence[Any], name: str, what: str) -> None:
    """Labels (tags) of one type: a label written as 1 in one row and "1" in another is a
    mistake that reading them as strings would hide."""
    first = values[0]
    for value in values:
        if type(value) is not type(first):
            raise RnnkitError(
                f"{name}: {what} of mixed types, {type(first).__name__} ({shown(first)}) and "
                f"{type(value).__name__} ({shown(value)}); expected {what} of one type"
            )


# --------------------------------------------------------------------------- tag
def tagged_sentences(
    source: Any, tokens_col: str = "tokens", tags_col: str | None = None, where: str = ""
) -> tuple[list[list[str]], list[list[str]], str]:
    """``(tokens, tags, name)`` of every sentence of a table (list columns ``tokens_col`` and
    ``tags_col``; None: ``tags``, else ``ner_tags``, ``pos_tags`` or ``upos``) or of a list of
    sentences, each a list of ``(token, tag)`` pairs or a ``(tokens, tags)`` pair.
    ``where`` names a sentence in messages (default: "NAME, sentence")."""
    value, name = unwrapped(source)
    where = where or f"{name}, sentence"
    if is_table(value):
        table = read_table(source)
        if tags_col is None:
            tags_col = next((c for c in TAG_COLUMNS if c in table.columns), TAG_COLUMNS[0])
        pairs = list(
            zip(
                table.column(tokens_col, "the tokens column"),
                table.column(tags_col, "the tag column"),
            )
        )
    else:
        items = _items(value, name, f"a file, {TABLES} or a list of tagged sentences")
        pairs = _sentence_pairs(items, where)
    tokens, tags = [], []
    for n, (words, labels) in enumerate(pairs, start=1):
        words = [] if missing(words) else list(words)
        labels = [] if missing(labels) else list(labels)
        if not words or len(words) != len(labels):
            raise RnnkitError(
                f"{where} {n}: expected tokens and as many tags, got {len(words)} token"
                f"{'' if len(words) == 1 else 's'} and {len(labels)} tag"
                f"{'' if len(labels) == 1 else 's'}"
            )
        tokens.append([str(w) for w in words])
        tags.append(labels)
    _one_type([t for s in tags for t in s], name, "tags")
    return tokens, [[str(t) for t in s] for s in tags], name


def _sentence_pairs(items: list[Any], where: str) -> list[tuple[Any, Any]]:
    """``(tokens, tags)`` of each sentence: a list of ``(token, tag)`` pairs or a ``(tokens,
    tags)`` pair. A sentence of two tokens reads either way: the other sentences of the list
    decide, else a sentence of tuples is the pairs form."""

    def is_pair(x: Any) -> bool:
        return isinstance(x, (list, tuple)) and len(x) == 2 and isinstance(x[0], str)

    def is_columns(item: Any) -> bool:
        return len(item) == 2 and all(isinstance(x, (list, tuple)) for x in item)

    forms = []  # per sentence: (pairs form?, (tokens, tags) form?)
    for n, item in enumerate(items, start=1):
        sequence = isinstance(item, (list, tuple))
        forms.append((sequence and all(map(is_pair, item)), sequence and is_columns(item)))
        if not any(forms[-1]):
            raise RnnkitError(
                f"{where} {n}: expected a list of (token, tag) pairs or a (tokens, tags) pair, "
                f"got {shown(item)}"
            )
    decided = [pairs for pairs, columns in forms if pairs != columns]
    pairwise = decided[0] if decided else isinstance(items[0][0], tuple)
    for n, (pairs, columns) in enumerate(forms, start=1):
        if not (pairs if pairwise else columns):
            form = "a list of (token, tag) pairs" if pairwise else "a (tokens, tags) pair"
            raise RnnkitError(f"{where} {n}: expected {form}, as the other sentences")
    if pairwise:
        return [([x[0] for x in item], [x[1] for x in item]) for item in items]
    return [(item[0], item[1]) for item in items]


# --------------------------------------------------------------------------- forecast
def numbers(
    source: Any, date_column: str | None, columns: Sequence[str] | None
) -> tuple[list[str], list[str], list[list[Any]], str | None, str]:
    """``(dates, value column names, value columns, date column, name)`` of a series in memory:
    a table (``date_column`` None: the first column, "": none) or a list of numbers or a 1-D
    array (the one column ``columns`` names, dates ``t1``, ``t2``...)."""
    value, name = unwrapped(source)
    if not is_table(value):
        items = _items(value, name, f"a file, {TABLES}, a list or a 1-D array of numbers")
        wanted = list(columns or ["value"])
        if len(wanted) != 1:
            raise RnnkitError(
                f"{name} is one series; expected one column name for it, got {shown_names(wanted)}"
            )
        return [f"t{n}" for n in range(1, len(items) + 1)], wanted, [items], None, name
    table = read_table(source)
    header = list(table.columns)
    if date_column is None:
        date_column = header[0]
    dates = (
        [f"t{n}" for n in range(1, len(table) + 1)]
        if date_column == ""
        else [_date_text(d) for d in table.column(date_column, "the date column")]
    )
    names = list(columns) if columns else [h for h in header if h != date_column]
    values = []
    for column in names:
        if column == date_column or column not in table.columns:
            available = [h for h in header if h != date_column]
            raise RnnkitError(
                f"{name} has no value column {shown(column)}; available: {shown_names(available)}"
            )
        values.append(table.columns[column])
    return dates, names, values, date_column or None, name


def _date_text(date: Any) -> str:
    """A date cell as a CSV holds it: a datetime at midnight (a dataset's timestamps) as its
    date, ``2020-01-31``."""
    if isinstance(date, datetime.datetime) and date.time() == datetime.time():
        return date.date().isoformat()
    return str(date)


# --------------------------------------------------------------------------- lm, predict
def texts_of(source: Any, column: str = "text") -> tuple[list[str], str]:
    """The texts of a list of texts or of a table's ``column``, and their name."""
    value, name = unwrapped(source)
    if is_table(value):
        texts = read_table(source).column(column, "the text column")
    else:
        texts = _items(value, name, f"a file, {TABLES} or a list of texts")
    for n, text in enumerate(texts, start=1):
        if not isinstance(text, str):
            raise RnnkitError(f"{name}, item {n}: expected a text, got {type(text).__name__}")
    return texts, name


def predictions_frame(frame: Any, records: Sequence[Mapping[str, Any]]) -> Any:
    """``frame`` with the predictions beside its columns: each record's keys but its ``line``
    (the row's position), its ``text`` (the row's own text) and its ``tokens`` where the frame has
    that column (a tagger's input), as new columns; ``predicted_KEY`` where the frame has a column
    ``KEY`` (the gold labels), even when every prediction equals it."""
    out = frame.copy()
    echoed = {"line", "text"} | ({"tokens"} & set(frame.columns))
    keys = [k for k in dict.fromkeys(k for r in records for k in r) if k not in echoed]
    for key in keys:
        out[f"predicted_{key}" if key in frame.columns else key] = [r.get(key) for r in records]
    return out
