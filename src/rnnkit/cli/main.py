"""Entry point of the ``rnnkit`` command: ``main(argv) -> int`` so tests can run it in-process.

Each command lives in its own module under ``rnnkit.cli`` and exposes ``add_parser(subparsers)``,
which registers its parser and sets ``func`` (a ``*_command(args) -> int``) as a default.
``train`` is a group whose tasks (``lm``, ``classify``...) are modules ``rnnkit.cli.train_<task>``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from rnnkit import __version__
from rnnkit.errors import RnnkitError

# Top-level commands and the tasks of ``rnnkit train``, in the order --help lists them.
COMMANDS = ("train", "sample", "evaluate", "predict", "demo")
TRAIN_TASKS = ("lm", "classify", "tag", "forecast", "synthetic")

# Errors that mean "the user gave something wrong": one line on stderr and exit code 2.
USER_ERRORS = (RnnkitError, ValueError, TypeError, OSError, RuntimeError)


def _load(module: str):
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name == module:  # that command is not written yet
            return None
        raise


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rnnkit",
        description="Recurrent neural networks for PyTorch: train, sample, evaluate and predict.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        if name == "train":
            train = commands.add_parser(
                "train", help="train a model", description="Train a model on your own data."
            )
            tasks = train.add_subparsers(dest="task", metavar="TASK")
            for task in TRAIN_TASKS:
                module = _load(f"rnnkit.cli.train_{task}")
                if module is not None:
                    module.add_parser(tasks)
            train.set_defaults(func=lambda args, _p=train: _missing(_p))
            continue
        module = _load(f"rnnkit.cli.{name}")
        if module is not None:
            module.add_parser(commands)
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
