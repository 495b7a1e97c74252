"""Inputs for prediction and evaluation: a file, standard input, one text or Python objects, read
with line numbers so that every output can be matched to its input; and the seeded held-out split.

What an ``inputs`` argument of ``predict`` may be:

- ``"-"``: standard input;
- the path of an existing file (a ``str`` or any ``os.PathLike``): that file, read by
  :func:`~rnnkit.data.text.read_text`;
- any other string: one input, the text itself, so ``rnnkit.predict(model, "good film")``
  predicts on "good film" (a ``pathlib.Path`` is always a file name: a missing one is an error);
- Python objects (:func:`python_items`): a list or tuple, an iterator, or a 1-D array or series;
- a table (where the task names its column): a DataFrame, a ``datasets.Dataset``, a list of dicts,
  or a ``.jsonl``/``.parquet`` file (see :mod:`rnnkit.data.tables`), one input a row.

Anything else (a dict, a number) is an ``RnnkitError`` that names what is accepted and the type
given.
"""

from __future__ import annotations

import csv
import io
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch

from rnnkit.data import tables
from rnnkit.data.labelled import check_delimiter
from rnnkit.data.text import read_text
from rnnkit.errors import RnnkitError, shown, shown_names
from rnnkit.formatting import count as plural

__all__ = [
    "ACCEPTED",
    "held_out",
    "is_text",
    "numbered_lines",
    "numbered_texts",
    "python_items",
    "read_source",
    "records_for",
]

ACCEPTED = "a file path, '-' for standard input, one input text, or a list of inputs"


def read_source(source: str | os.PathLike[str], what: str = "input") -> tuple[str, str]:
    """``(text, name)`` of a UTF-8 file (``"{what} file not found: PATH"``...), or of standard
    input for ``"-"``; an empty file gives ``""`` (the caller says what it misses)."""
    if str(source) == "-":
        return sys.stdin.read(), "standard input"
    return read_text(source, f"{what} file", empty=True), str(source)


def is_text(inputs: Any) -> bool:
    """Whether ``inputs`` is one input text: a string that is neither ``"-"`` nor the path of an
    existing file or directory."""
    return isinstance(inputs, str) and inputs != "-" and not os.path.exists(inputs)


def python_items(data: Any, accepted: str = ACCEPTED) -> list[Any]:
    """``data`` given as Python objects, as a list: a list, a tuple, an iterator (a generator) or
    a 1-D array or series. Anything else, e.g. a DataFrame (whose iteration gives its column
    names), a mapping, a set or a number, is an ``RnnkitError`` naming ``accepted`` and the type."""
    if isinstance(data, (list, tuple, Iterator)) or getattr(data, "ndim", None) == 1:
        return list(data)
    raise RnnkitError(f"expected {accepted}, got {type(data).__name__}")


def held_out(count: int, share: float, seed: int, what: str) -> tuple[list[int], list[int]]:
    """Indices kept for training and held out for validation: a seeded random ``share``."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    held = max(1, round(count * share))
    if held >= count:
        few = plural(count, what.removesuffix("s"), what)  # what: a plural ("training rows")
        raise RnnkitError(
            f"{few} {'is' if count == 1 else 'are'} too few to hold out a validation part"
        )
    return sorted(order[held:]), sorted(order[:held])


def numbered_texts(inputs: Any, column: str, delimiter: str | None = None) -> list[tuple[int, str]]:
    """``(line number, text)`` of every input, empty ones included (the caller marks them).

    ``inputs`` (see the module docstring): a ``.tsv``/``.csv`` file, read by the header's
    ``column``; a table (a DataFrame, a Dataset, a ``.jsonl``/``.parquet`` file), read by its
    ``column``; any other file (``"-"``: standard input) with one text a line; a string that
    names no file, one text; or a list of strings.
    """
    if is_text(inputs):
        return [(1, inputs)]
    if tables.is_table(inputs):
        rows = tables.read_table(inputs).column(column, "the text column of the training data")
        return [(n, "" if tables.missing(t) else str(t).strip()) for n, t in enumerate(rows, 1)]
    if not isinstance(inputs, (str, os.PathLike)):
        texts = python_items(inputs)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("inputs: expected a file path or a list of strings")
        return list(enumerate(texts, start=1))
    check_delimiter(delimiter)
    text, name = read_source(inputs)
    suffix = Path(str(inputs)).suffix.lower()
    if suffix in (".tsv", ".tab", ".csv"):
        tsv = (delimiter or ("," if suffix == ".csv" else "\t")) == "\t"
        reader = csv.reader(
            io.StringIO(text.removeprefix("\ufeff"), newline=""),
            delimiter="\t" if tsv else (delimiter or ","),
            quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
        )
        try:
            header = [name.strip() for name in next(reader, [])]
            if column not in header:
                raise RnnkitError(
                    f"{name} has no column {shown(column)} (the text column of the training "
                    f"data); its header: {shown_names(header)}"
                )
            index = header.index(column)
            rows = [
                (reader.line_num, row[index].strip() if len(row) > index else "") for row in reader
            ]
        except csv.Error as error:  # a field over the csv module's limit of 131,072 characters
            raise RnnkitError(f"{name}, line {reader.line_num}: malformed CSV ({error})") from None
    else:
        rows = [(n, line.strip()) for n, line in enumerate(text.splitlines(), start=1)]
    if not any(t for _, t in rows):
        raise RnnkitError(f"no input text in {name}")
    return rows


def numbered_lines(inputs: Any, column: str | None = None) -> list[tuple[int, Any]]:
    """``(line number, line)`` of a file (``"-"``: standard input), of one input (a string that
    names no file) or of a list of inputs; with a ``column``, also the values of that column of
    a table, one input a row (see the module docstring)."""
    if is_text(inputs):
        return [(1, inputs)]
    if column is not None and tables.is_table(inputs):
        values = tables.read_table(inputs).column(column, "the input column")
        return [(n, "" if tables.missing(v) else v) for n, v in enumerate(values, start=1)]
    if isinstance(inputs, (str, os.PathLike)):
        text, name = read_source(inputs)
        rows = list(enumerate(text.splitlines(), start=1))
        if not any(line.strip() for _, line in rows):
            raise RnnkitError(f"no input in {name}")
        return rows
    return list(enumerate(python_items(inputs), start=1))


def records_for(
    numbered: Sequence[tuple[int, Any]], outputs: dict[int, dict[str, Any]], empty: dict[str, Any]
) -> list[dict[str, Any]]:
    """One record per input line: its output, or ``empty`` with ``skipped`` for blank inputs."""
    return [
        {"line": n, **outputs[n]}
        if n in outputs
        else {"line": n, **empty, "skipped": "empty input"}
        for n, _ in numbered
    ]
