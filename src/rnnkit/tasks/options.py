"""Settings and input helpers that several tasks share, declared once.

Each function returns a config field (see :func:`rnnkit.config.option`) with the same name, help
and checks in every task that uses it, so ``--cell``, ``--hidden`` or ``--dropout`` mean the same
thing everywhere. The cell choices come from the layer registry, so a cell registered later is
accepted by every task.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rnnkit.config import at_least, fraction, option
from rnnkit.errors import RnnkitError
from rnnkit.layers import CELLS
from rnnkit.tasks.base import read_source

__all__ = ["cell", "dropout", "embedding", "held_out", "hidden", "layers", "numbered_texts"]


def data_file(help: str, *, aliases: tuple[str, ...] = ()) -> Any:
    return option(
        None, help, flag="data", aliases=aliases, metavar="FILE", required=True, file=True
    )


def val_file(help: str) -> Any:
    return option(None, help, metavar="FILE", file=True)


def val_fraction(what: str) -> Any:
    return option(
        0.1,
        f"share of the {what} held out for validation without a validation file",
        metavar="F",
        check=(lambda v: 0 < v < 1, "in (0, 1)"),
    )


def min_freq() -> Any:
    return option(
        1, "tokens seen fewer than N times in training map to <unk>", metavar="N", check=at_least(1)
    )


def max_vocab() -> Any:
    return option(
        50_000,
        "keep the N most frequent tokens, specials included (none: all)",
        metavar="N",
        check=at_least(2),
    )


def cell(default: str = "lstm") -> Any:
    return option(default, "recurrent cell", choices=lambda: tuple(CELLS))


def hidden(default: int) -> Any:
    return option(
        default, "hidden size (of each direction)", flag="hidden", metavar="H", check=at_least(1)
    )


def layers(default: int = 1) -> Any:
    return option(
        default, "stacked recurrent layers", flag="layers", metavar="N", check=at_least(1)
    )


def embedding(default: int) -> Any:
    return option(default, "embedding size", flag="embedding", metavar="E", check=at_least(1))


def dropout(default: float, where: str) -> Any:
    return option(default, f"dropout {where}", metavar="P", check=fraction())


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
    text, name = read_source(inputs)
    suffix = Path(str(inputs)).suffix.lower()
    if suffix in (".tsv", ".tab", ".csv"):
        tsv = (delimiter or ("," if suffix == ".csv" else "\t")) == "\t"
        reader = csv.reader(
            io.StringIO(text.removeprefix("\ufeff"), newline=""),
            delimiter="\t" if tsv else (delimiter or ","),
            quoting=csv.QUOTE_NONE if tsv else csv.QUOTE_MINIMAL,
        )
        header = [name.strip() for name in next(reader, [])]
        if column not in header:
            raise RnnkitError(
                f"{name} has no column {column!r} (the text column of the training "
                f"data); its header: {', '.join(header) or 'empty'}"
            )
        index = header.index(column)
        rows = [(reader.line_num, row[index].strip() if len(row) > index else "") for row in reader]
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
