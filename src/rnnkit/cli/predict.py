"""``rnnkit predict DIR --input FILE|-``: run a trained model on new inputs, JSON lines out.

The checkpoint's ``task`` field picks ``rnnkit.tasks.<task>.predict_command(args, checkpoint)``:
a label with its probabilities per text (classify), a tag per token (tag), forecast values with
their dates (forecast), and so on.
"""

from __future__ import annotations

import argparse
import importlib

from rnnkit.checkpoint import load_checkpoint
from rnnkit.cli._common import HelpFormatter, add_device_option
from rnnkit.errors import RnnkitError

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
    task = checkpoint.get("task")
    if not isinstance(task, str) or not task.isidentifier():
        raise RnnkitError(f"checkpoint {checkpoint['path']} names no valid task ({task!r})")
    try:
        module = importlib.import_module(f"rnnkit.tasks.{task}")
    except ModuleNotFoundError as error:
        if error.name == f"rnnkit.tasks.{task}":
            raise RnnkitError(f"checkpoint {checkpoint['path']} is for task {task!r}, which this "
                              "rnnkit does not know") from error
        raise
    command = getattr(module, "predict_command", None)
    if command is None:
        hint = " (use rnnkit sample for a language model)" if task == "lm" else ""
        raise RnnkitError(f"rnnkit predict does not support {task!r} checkpoints{hint}")
    return int(command(args, checkpoint) or 0)
