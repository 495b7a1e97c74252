"""Entry point of the ``rnnkit`` command: ``main(argv) -> int`` so tests can run it in-process.

Each command lives in its own module under ``rnnkit.cli`` and exposes ``add_parser(subparsers)``,
which registers its parser and sets ``func`` (a ``*_command(args) -> int``) as a default.
``train`` is a group whose tasks (``lm``, ``classify``...) are modules ``rnnkit.cli.train_<task>``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from rnnkit import __version__
from rnnkit.cli import (
    demo,
    evaluate,
    predict,
    sample,
    train_classify,
    train_forecast,
    train_lm,
    train_synthetic,
    train_tag,
)
from rnnkit.errors import RnnkitError

# Top-level commands and the tasks of ``rnnkit train``, in the order --help lists them
# (``train`` has no module of its own: it is the group of TRAIN_TASKS built in build_parser).
COMMANDS = {"train": None, "sample": sample, "evaluate": evaluate, "predict": predict, "demo": demo}
TRAIN_TASKS = {
    "lm": train_lm,
    "classify": train_classify,
    "tag": train_tag,
    "forecast": train_forecast,
    "synthetic": train_synthetic,
}

# Errors that mean "the user gave something wrong": one line on stderr and exit code 2.
USER_ERRORS = (RnnkitError, ValueError, TypeError, OSError, RuntimeError)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks for PyTorch: train, sample, evaluate and predict.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMANDS.values():
        if module is not None:
            module.add_parser(commands)
            continue
        train = commands.add_parser(
            "train", help="train a model", description="Train a model on your own data."
        )
        tasks = train.add_subparsers(dest="task", metavar="TASK")
        for task_module in TRAIN_TASKS.values():
            task_module.add_parser(tasks)
        train.set_defaults(func=lambda args, _p=train: _missing(_p))
    parser.set_defaults(func=lambda args: _missing(parser))
    return parser


def _missing(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rnnkit`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on bad options, 0 on --help/--version
        return int(exit_.code or 0)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except USER_ERRORS as error:
        if os.environ.get("RNNKIT_DEBUG"):
            raise
        message = " ".join(str(error).split()) or type(error).__name__
        print(f"rnnkit: error: {message}", file=sys.stderr)
        return 2


def console_main() -> None:
    sys.exit(main())
