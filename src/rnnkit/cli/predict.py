"""``rnnkit predict DIR --input FILE|-``: run a trained model on new inputs, JSON lines out.

The checkpoint's ``task`` field picks ``rnnkit.tasks.<task>.predict_command(args, checkpoint)``
(through :func:`rnnkit.cli._common.task_command`):
a label with its probabilities per text (classify), a tag per token (tag), forecast values with
their dates (forecast), and so on.
"""

from __future__ import annotations

import argparse

from rnnkit.checkpoint import load_checkpoint
from rnnkit.cli._common import HelpFormatter, add_device_option, task_command

__all__ = ["add_parser", "predict_command"]

EXAMPLES = """examples:
  rnnkit predict runs/classify --input reviews.txt          # one text a line
  echo "the cat sat on the mat ." | rnnkit predict runs/tag --input -
  rnnkit predict runs/tag --input test.conllu --output tags.jsonl
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="predict with a trained model (JSON lines out)",
        description="Load a checkpoint (a run directory: best.pt, else last.pt; or a .pt file) and "
        "predict on new inputs, one JSON object a line. The input depends on the task: classify "
        "reads one text a line (or a TSV/CSV file with the training text column); tag reads one "
        "sentence a line, tokens separated by spaces (or a .conllu/.conll file); forecast and "
        "synthetic read what their own help describes.\n\n" + EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("checkpoint", metavar="DIR",
                        help="run directory (uses best.pt, else last.pt) or checkpoint file")
    parser.add_argument("--input", required=True, metavar="FILE",
                        help="input file, or - for standard input (required)")
    parser.add_argument("--output", metavar="FILE", default=None,
                        help="write the JSON lines to FILE (written atomically) instead of standard "
                        "output (default: standard output)")
    add_device_option(parser, default="cpu")
    parser.set_defaults(func=predict_command)


def predict_command(args: argparse.Namespace) -> int:
    checkpoint = load_checkpoint(args.checkpoint)
    return int(task_command(checkpoint, "predict_command")(args, checkpoint) or 0)
