"""``rnnkit evaluate DIR --data FILE``: measure a trained model on new data.

The checkpoint's ``task`` field picks what happens: a language model (``lm``) reports its loss on a
text (``--text``/``--data``) in nats/char, bits/char and perplexity; any other task ``T`` is handed
to ``rnnkit.tasks.T.evaluate_command(args, checkpoint)`` with ``args.data`` set (a synthetic task
is scored on a fresh draw of its own data instead, without ``--data``).
"""

from __future__ import annotations

import argparse

from rnnkit.checkpoint import load_checkpoint
from rnnkit.cli._common import HelpFormatter, add_device_option, task_command
from rnnkit.errors import RnnkitError
from rnnkit.tasks.lm import evaluate_lm

__all__ = ["add_parser", "evaluate_command"]

EXAMPLES = """examples:
  rnnkit evaluate runs/lm --text held_out.txt
  rnnkit evaluate runs/classify --data test.tsv
  rnnkit evaluate runs/forecast/best.pt --data temperatures.csv
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "evaluate", help="evaluate a trained model on a data file",
        description="Load a checkpoint (a run directory: best.pt, else last.pt; or a .pt file) and "
        "evaluate it on a file. A language model reports the loss in nats per character, bits per "
        "character and perplexity; the other tasks report their own metrics beside baselines.\n\n"
        + EXAMPLES,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("checkpoint", metavar="DIR",
                        help="run directory (uses best.pt, else last.pt) or checkpoint file")
    parser.add_argument("--data", "--text", dest="data", metavar="FILE",
                        help="file to evaluate on: a UTF-8 text for a language model, the task's "
                        "data format otherwise (required, except for a synthetic task: its model is "
                        "scored on a fresh draw of the task)")
    parser.add_argument("--batch-size", type=int, default=None, metavar="B",
                        help="examples (or, for a language model, parallel streams) per batch "
                        "(default: the task's own)")
    add_device_option(parser, default="cpu")
    parser.set_defaults(func=evaluate_command)


def evaluate_command(args: argparse.Namespace) -> int:
    checkpoint = load_checkpoint(args.checkpoint)
    task = checkpoint.get("task")
    if task == "lm":
        if not args.data:
            raise RnnkitError("evaluate: a language model needs --text FILE")
        if args.batch_size is not None and args.batch_size < 1:
            raise RnnkitError(f"--batch-size must be >= 1, got {args.batch_size}")
        metrics = evaluate_lm(checkpoint, args.data, device=args.device, streams=args.batch_size or 16)
        print(f"loss {metrics['loss']:.4f} nats/char | {metrics['bpc']:.4f} bits/char | perplexity "
              f"{metrics['perplexity']:.3f} | {int(metrics['chars']):,} characters predicted")
        return 0
    if task == "synthetic":  # scored on a fresh, seeded draw of its own task
        if args.data:
            raise RnnkitError("--data: a synthetic-task model is evaluated on a fresh draw of its "
                              f"task, not on a file; omit --data (got {args.data!r})")
    elif not args.data:
        raise RnnkitError(f"evaluate: a {task!r} model needs --data FILE")
    return int(task_command(checkpoint, "evaluate_command")(args, checkpoint) or 0)
