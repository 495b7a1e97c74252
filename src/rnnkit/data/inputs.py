"""Inputs for prediction and evaluation: a file, standard input or Python objects, read with
line numbers so that every output can be matched to its input; and the seeded held-out split."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rnnkit.data.labelled import check_delimiter
from rnnkit.errors import RnnkitError, shown, shown_names

__all__ = ["held_out", "numbered_lines", "numbered_texts", "read_source", "records_for"]


def read_source(source: str | Path, what: str = "input") -> tuple[str, str]:
    """``(text, name)`` of a UTF-8 file, or of standard input for ``"-"``."""
    if str(source) == "-":
        return sys.stdin.read(), "standard input"
    path = Path(source)
    if not path.is_file():
        raise RnnkitError(f"{what} file not found: {path}")
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except UnicodeDecodeError as error:
        raise RnnkitError(f"{what} file {path} is not UTF-8 text ({error.reason})") from None


def held_out(count: int, share: float, seed: int, what: str) -> tuple[list[int], list[int]]:
    """Indices kept for training and held out for validation: a seeded random ``share``."""
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed)).tolist()
    held = max(1, round(count * share))
    if held >= count:
        raise RnnkitError(f"{count} {what} are too few to hold out a validation part")
    return sorted(order[held:]), sorted(order[:held])


def numbered_texts(inputs: Any, column: str, delimiter: str | None = None) -> list[tuple[int, str]]:
    """``(line number, text)`` of every input, empty ones included (the caller marks them).

    ``inputs``: a list of strings; a ``.tsv``/``.csv`` file, read by the header's ``column``; or
    any other file (``"-"``: standard input) with one text a line.
    """
    if not isinstance(inputs, (str, Path)):
        texts = list(inputs)
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


def numbered_lines(inputs: Any) -> list[tuple[int, str]]:
    """``(line number, line)`` of a file (``"-"``: standard input) or a list of strings."""
    if isinstance(inputs, (str, Path)):
        text, name = read_source(inputs)
        rows = list(enumerate(text.splitlines(), start=1))
        if not any(line.strip() for _, line in rows):
            raise RnnkitError(f"no input in {name}")
        return rows
    return list(enumerate(inputs, start=1))


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
