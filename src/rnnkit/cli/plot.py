"""``rnnkit plot RUN [RUN...] --out FILE``: training curves of runs and the views of a model.

From each run's ``metrics.jsonl`` (or ``metrics.csv``), also while the run is still going: the
training and validation loss against step and against time, the learning rate, and the gradient
norm with the skipped (non-finite) steps marked; several runs overlay, one colour each. For one
run with a checkpoint (best.pt, else last.pt), the task's views of its model follow
(:meth:`rnnkit.tasks.Task.views`): forecasts beside the naive baselines, a confusion matrix,
per-tag F1, a synthetic task's error curve. Needs matplotlib: ``pip install "rnnkit[plot]"``.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path
from typing import Any

from rnnkit.cli._options import add_device_option, new_parser
from rnnkit.errors import RnnkitError
from rnnkit.extras import require
from rnnkit.plots import Run, figure, image_format, read_metrics, run_names, save
from rnnkit.tasks import View, get_task, load, views
from rnnkit.training.checkpoint import CHECKPOINT_NAMES
from rnnkit.training.devices import resolve_device

__all__ = ["add_parser", "plot_command"]

DESCRIPTION = (
    "Draw from each run's metrics.jsonl (or metrics.csv), also while the run is still going: the "
    "training and validation loss against step and against time, the learning rate, and the "
    "gradient norm with the skipped (non-finite) steps marked. Several runs overlay, one colour "
    "each. For one run with a checkpoint (best.pt, else last.pt) the task's views of the model "
    "follow: a forecast beside persistence and seasonal naive over the test period, a confusion "
    "matrix, per-tag F1, a synthetic task's error curve. Needs matplotlib: "
    'pip install "rnnkit[plot]".'
)
EXAMPLES = """examples:
  rnnkit plot runs/classify --out classify.png
  rnnkit plot runs/forecast --data recent.csv --out forecast.svg
  rnnkit plot runs/m4 --series H1,H7 --out m4.png          # chosen series of a panel
  rnnkit plot runs/lstm runs/gru --out cells.png          # overlaid training curves"""


def add_parser(subparsers: Any) -> None:
    parser = new_parser(
        subparsers,
        "plot",
        "draw training curves and a trained model's views to a PNG, SVG or PDF file",
        textwrap.fill(DESCRIPTION, 79, break_on_hyphens=False) + "\n\n" + EXAMPLES,
    )
    parser.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="run directory written by train --out (or a checkpoint file in one)",
    )
    parser.add_argument(
        "--out", required=True, metavar="FILE", help="the image to write: .png, .svg or .pdf"
    )
    parser.add_argument(
        "--data",
        metavar="FILE",
        help="draw the model's views on this file, in the format the task trains on "
        "(default: the run's validation or test data; one RUN only)",
    )
    parser.add_argument(
        "--series",
        metavar="ID[,ID...]",
        help="the series drawn, comma-separated, one panel each (a forecaster of many series; "
        "default: the task's choice)",
    )
    add_device_option(parser)
    parser.set_defaults(func=plot_command, argument_flags={"series": "--series"})


def plot_command(args: argparse.Namespace) -> int:
    image_format(args.out, "--out")
    require("plot", "rnnkit plot")
    args.device = resolve_device(args.device)  # a device this machine lacks, also without a model
    paths = [Path(run) for run in args.runs]
    directories = [path.parent if path.is_file() else path for path in paths]
    runs = [read_metrics(directory) for directory in directories]
    for run, name in zip(runs, run_names(directories)):
        run.name = name
    shown: list[View] = []
    if len(runs) == 1:
        shown = _views(paths[0], runs[0], args)
    else:
        for flag, given in (("--data", args.data), ("--series", args.series)):
            if given is not None:
                raise RnnkitError(
                    f"{flag}: the model's views are drawn for one RUN, got {len(runs)}"
                )
    save(figure(runs, shown), args.out, "--out")
    what = f"training curves of {len(runs)} run" + ("s" if len(runs) > 1 else "")
    print(f"{args.out}: {what}" + (f" and {len(shown)} view(s) of the model" if shown else ""))
    return 0


def _views(path: Path, run: Run, args: argparse.Namespace) -> list[View]:
    """The task's views of the run's model; none while the run has no checkpoint yet."""
    names = [path] if path.is_file() else [path / name for name in CHECKPOINT_NAMES]
    checkpoint = next((name for name in names if name.is_file()), None)
    if checkpoint is None:
        for flag, given in (("--data", args.data), ("--series", args.series)):
            if given is not None:
                raise RnnkitError(f"{flag}: {path} holds no checkpoint (best.pt or last.pt) yet")
        return []
    trained = load(checkpoint, args.device)
    if args.data is not None and not getattr(get_task(trained.task), "view_data", False):
        raise RnnkitError(f"--data: the views of a {trained.task!r} model read no data file")
    chosen = {} if args.series is None else {"series": _series(args.series)}
    return views(trained, args.data, evals=run.evals, **chosen)


def _series(text: str) -> list[str]:
    """``--series a,b``: the ids, in order, without repeats."""
    ids = list(dict.fromkeys(part.strip() for part in text.split(",")))
    if not all(ids):
        raise RnnkitError(f"--series: expected series ids separated by commas, got {text!r}")
    return ids
