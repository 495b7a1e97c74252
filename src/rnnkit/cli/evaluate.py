"""``rnnkit evaluate RUN --data FILE``: score a trained model on new data beside its baselines.

The checkpoint's ``task`` picks the task (:func:`rnnkit.tasks.evaluate`): a language model reports
nats and bits per character and perplexity beside unigram and bigram baselines, a classifier
accuracy and macro-F1 beside the majority class, and so on. A synthetic-task model is scored on
a fresh draw of its own data, without ``--data``.
"""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.cli._options import add_device_option, new_parser
from rnnkit.tasks import evaluate, load

__all__ = ["add_parser", "evaluate_command", "run_options"]

EXAMPLES = """examples:
  rnnkit evaluate runs/lm --data held_out.txt
  rnnkit evaluate runs/classify --data test.tsv --batch-size 512
  rnnkit evaluate runs/forecast/best.pt --data temperatures.csv
  rnnkit evaluate runs/mean-sign"""


def run_options(parser: argparse.ArgumentParser) -> None:
    """The checkpoint argument and ``--device``, shared by the commands that use a trained model."""
    parser.add_argument(
        "checkpoint",
        metavar="RUN",
        help="run directory (uses best.pt, else last.pt) or checkpoint file",
    )
    add_device_option(parser)


def add_parser(subparsers: Any) -> None:
    parser = new_parser(
        subparsers,
        "evaluate",
        "score a trained model on a data file, beside baselines",
        "Load a checkpoint and score it on a file of its task's format, beside the task's "
        "baselines.\n\n" + EXAMPLES,
    )
    run_options(parser)
    parser.add_argument(
        "--data",
        "--text",
        dest="data",
        metavar="FILE",
        help="file to evaluate on, in the format the task trains on (required, "
        "except for a synthetic task: it is scored on a fresh draw of its data)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        metavar="B",
        help="examples (for a language model: parallel streams) per batch (default: the task's)",
    )
    # errors about the data or batch size (rnnkit.evaluate's arguments) name these options
    parser.set_defaults(
        func=evaluate_command, argument_flags={"data": "--data", "batch_size": "--batch-size"}
    )


def evaluate_command(args: argparse.Namespace) -> int:
    trained = load(args.checkpoint, args.device)
    for report in evaluate(trained, args.data, batch_size=args.batch_size):
        print(report.format())
    return 0
