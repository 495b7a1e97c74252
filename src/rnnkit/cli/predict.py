"""``rnnkit predict RUN --input FILE|-``: predictions of a trained model as JSON lines.

One JSON object per input line, with that line's number (``"line"``), so outputs can be matched to
inputs; a blank input line gets a record marked ``"skipped"``. What an input line holds depends
on the task (``rnnkit train TASK --help``). Results go to standard output (or ``--output``),
messages to standard error, so ``rnnkit predict ... > out.jsonl`` gives clean JSON lines. An
``--output`` file named ``*.csv`` gets the records as CSV rows instead (a header of their keys,
e.g. a many-series forecast's series, time, step, forecast and quantile columns).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any

from rnnkit.cli._options import new_parser
from rnnkit.cli.evaluate import run_options
from rnnkit.errors import RnnkitError
from rnnkit.tasks import TASKS, load, predict
from rnnkit.tasks.tag_entities import conll_lines
from rnnkit.training.checkpoint import atomic_write

__all__ = ["add_parser", "predict_command"]

EXAMPLES = """examples:
  rnnkit predict runs/classify --input reviews.txt          # one text a line
  echo "The cat sat on the mat." | rnnkit predict runs/tag --input -
  rnnkit predict runs/forecast --input recent.csv --output next.jsonl
  rnnkit predict runs/m4 --input history.csv --output forecasts.csv   # many series, one row a step
  rnnkit predict runs/shops --input history.csv --future prices.csv   # known features ahead
  rnnkit predict runs/ner --input test.conll --output-format conll   # token, gold, predicted
  rnnkit predict runs/ner --input sentences.txt --top-k 3            # a run trained with --crf"""


def add_parser(subparsers: Any) -> None:
    inputs = "\n".join(f"  {name}: {task.predict_hint}" for name, task in TASKS.items())
    parser = new_parser(
        subparsers,
        "predict",
        "predict with a trained model (JSON lines out)",
        "Load a checkpoint and predict on new inputs, one JSON object a line. What each task "
        f"reads:\n{inputs}\n\n{EXAMPLES}",
    )
    run_options(parser)
    parser.add_argument(
        "--input",
        required=True,
        type=Path,  # a file name, never a text (a str naming no file is one input in Python)
        metavar="FILE",
        help="input file, or - for standard input (required)",
    )
    parser.add_argument(
        "--output",
        metavar="FILE",
        default=None,
        help="write the JSON lines to FILE (whole or not at all) instead of standard output; "
        "a FILE ending in .csv gets CSV rows",
    )
    parser.add_argument(
        "--future",
        type=Path,
        default=None,
        metavar="FILE",
        help="a forecaster trained with --known-features: their values over the horizon, in the "
        "training layout (series, time and the known columns)",
    )
    parser.add_argument(
        "--output-format",
        choices=("json", "conll"),
        default="json",
        help="json: one JSON object a line (default); conll (a tagger): token<TAB>tag a line, "
        "the gold tags between them when the input is a tagged file, a blank line after each "
        "sentence",
    )
    parser.add_argument(
        "--top-k",
        type=int,
        default=None,
        metavar="N",
        help="a tagger trained with --crf: also the N best tag sequences and their "
        "log-probabilities",
    )
    parser.set_defaults(
        func=predict_command, argument_flags={"top_k": "--top-k", "future": "--future"}
    )


def predict_command(args: argparse.Namespace) -> int:
    trained = load(args.checkpoint, args.device)
    options: dict[str, Any] = {} if args.top_k is None else {"top_k": args.top_k}
    if args.future is not None:
        options["future"] = str(args.future)
    if args.output_format == "conll":
        if trained.task != "tag":
            raise RnnkitError(
                f"--output-format conll: expected a tag run, got a {trained.task!r} run"
            )
        options["gold"] = True
    records = predict(trained, args.input, **options)
    if args.output_format == "conll":
        text = conll_lines(records)
    elif args.output is not None and str(args.output).lower().endswith(".csv"):
        text = csv_lines(records)
    else:
        text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if args.output in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        atomic_write(args.output, lambda file: file.write(text.encode("utf-8")))
    return 0


def csv_lines(records: list[dict[str, Any]]) -> str:
    """The records as CSV: a header of their keys in first-seen order (without ``line``), one
    row per record (an absent key: an empty cell)."""
    keys: dict[str, None] = {}
    for record in records:
        keys.update(dict.fromkeys(k for k in record if k != "line"))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(keys), extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: _cell(v) for k, v in record.items()})
    return out.getvalue()


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value
