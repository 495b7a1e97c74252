"""``rnnkit inspect RUN --out FILE.html``: look inside a trained model, in one self-contained page.

For a language model: the text coloured by a chosen unit's activation, the units ranked by what
they follow, the top five next characters, and how often each gate saturates; for a classifier:
each token's contribution to the prediction; for the mean-sign task: the hidden state's paths
(PCA); for every task: gradient flow through time, trained against at initialisation.
``--gradients --out FILE.png`` draws only the gradient flow, with matplotlib.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnkit.cli._options import new_parser
from rnnkit.cli.evaluate import run_options
from rnnkit.data.text import read_text
from rnnkit.errors import RnnkitError
from rnnkit.inspection.figure import gradient_figure
from rnnkit.inspection.page import render
from rnnkit.plots import save
from rnnkit.tasks import get_task, load
from rnnkit.tasks.capabilities import text_view
from rnnkit.tasks.inspecting import gradient_flow, page_views, summary
from rnnkit.training.checkpoint import atomic_write, load_checkpoint
from rnnkit.training.devices import resolve_device

__all__ = ["add_parser", "inspect_command"]

EXAMPLES = """examples:
  rnnkit inspect runs/lm --out lm.html
  rnnkit inspect runs/lm --out lm.html --text notes.txt --chars 3000 --unit 17
  rnnkit inspect runs/classify --out classify.html --text reviews.txt   # one text a line
  rnnkit inspect runs/mean-sign --out mean-sign.html
  rnnkit inspect runs/adding --gradients --out adding.png"""

FIGURES = (".png", ".svg")


def add_parser(subparsers: Any) -> None:
    parser = new_parser(
        subparsers,
        "inspect",
        "look inside a trained model: one HTML page, or a gradient-flow figure",
        "Write one self-contained HTML page (it opens from disk, and refers to nothing outside "
        "it) showing what the model's units and gradients do: for a language model the text "
        "coloured by a unit's activation, the units ranked, the top five next characters and the "
        "gates' saturation; for a classifier each token's contribution; for the mean-sign task "
        "the hidden state's paths; for every task the gradient flow through time, trained "
        "against at initialisation. With --gradients, only that figure, as PNG or SVG.\n\n"
        + EXAMPLES,
    )
    run_options(parser)
    parser.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the page (.html), or with --gradients a .png or .svg",
    )
    parser.add_argument(
        "--text",
        metavar="FILE",
        help="UTF-8 text to show: a language model reads it character by character, a classifier "
        "one example a line (default: the run's validation data)",
    )
    parser.add_argument(
        "--chars",
        type=int,
        default=2000,
        metavar="N",
        help="characters of the text a language model reads (default: 2000)",
    )
    parser.add_argument(
        "--unit", type=int, metavar="K", help="the unit shown first (default: the top-ranked one)"
    )
    parser.add_argument(
        "--gradients",
        action="store_true",
        help="write only the gradient-flow figure (--out FILE.png or .svg; needs matplotlib)",
    )
    parser.set_defaults(func=inspect_command)


def _check_out(out: Path, gradients: bool) -> None:
    suffix = out.suffix.lower()
    if gradients and suffix not in FIGURES:
        raise RnnkitError(f"--out: with --gradients, expected a .png or .svg file, got {out}")
    if not gradients and suffix != ".html":
        raise RnnkitError(
            f"--out: expected an .html file (or --gradients with a .png or .svg), got {out}"
        )
    if not out.parent.is_dir():
        raise RnnkitError(f"--out: the directory {out.parent} does not exist")


def inspect_command(args: argparse.Namespace) -> int:
    out = Path(args.out)
    _check_out(out, args.gradients)
    if args.chars < 1:
        raise RnnkitError(f"--chars: expected a value >= 1, got {args.chars}")
    if args.gradients and (args.text or args.unit is not None):
        raise RnnkitError("--gradients draws the gradient flow only: it takes no --text or --unit")
    device = resolve_device(args.device)  # a device this machine lacks, before reading anything
    checkpoint = load_checkpoint(args.checkpoint)
    trained = load(checkpoint, device)
    task, meta = get_task(trained.task), summary(trained)
    text = None
    if args.text is not None:
        if text_view(task, trained) is None:
            raise RnnkitError(
                f"--text: a {meta['task']} model has no view of a text; inspect it without --text"
            )
        text = read_text(args.text, "--text file")
    if args.gradients:
        flow = gradient_flow(trained, checkpoint["task_state"])
        title = f"gradient flow through time: {meta['task']}, {meta['cell']}"
        figure = gradient_figure(flow["trained"], flow["init"], title)
        save(figure, out, "--out")
        print(f"wrote {out}")
        return 0
    views = page_views(trained, text, args.chars)
    if args.unit is not None:
        if "characters" not in views:
            raise RnnkitError(
                f"--unit: a {meta['task']} model has no view of its units; inspect it without --unit"
            )
        size = views["characters"]["states"]["h"].shape[1]
        if not 0 <= args.unit < size:
            raise RnnkitError(f"--unit: expected 0..{size - 1}, got {args.unit}")
    data = {"meta": meta, **views, "gradients": gradient_flow(trained, checkpoint["task_state"])}
    page = render(data, args.unit)
    atomic_write(out, lambda file: file.write(page.encode("utf-8")))
    print(f"wrote {out}")
    return 0
