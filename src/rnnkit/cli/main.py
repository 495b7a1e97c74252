"""Entry point of the ``rnnkit`` command: ``main(argv) -> int`` so tests can run it in-process.

Each command lives in its own module under ``rnnkit.cli`` and exposes ``add_parser(subparsers)``,
which registers its parser and sets ``func`` (a ``*_command(args) -> int``) as a default. The
``train`` subcommands are generated from :data:`rnnkit.tasks.TASKS` each time the parser is
built, so a task registered before :func:`main` runs has its command.

Errors that mean "the input was wrong" print one line on stderr and exit with code 2; a setting
typed on the command line is named by its option (``--lr``), one from a file by its key.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from rnnkit import __version__
from rnnkit.cli import demo, evaluate, export, inspect, plot, predict, sample, train
from rnnkit.cli._options import given_settings
from rnnkit.config import ConfigError
from rnnkit.errors import RnnkitError

# Errors that mean "the user gave something wrong": one line on stderr and exit code 2.
USER_ERRORS = (RnnkitError, ValueError, TypeError, OSError, RuntimeError)


class _Parser(argparse.ArgumentParser):
    """argparse's parser, but a wrong command line is one line on stderr (exit 2), as every other
    input error is, rather than the usage block and then the error; ``--help`` shows the usage.
    The subcommands' parsers are of this class too (argparse makes them of their parent's)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, dict[str, str]]]:
    """The parser, and for each task the table of setting key -> option flag."""
    parser = _Parser(
        prog="rnnkit",
        allow_abbrev=False,
        description="Recurrent neural networks for PyTorch: train, sample, evaluate, predict and export.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    flags = train.add_parser(commands)
    for module in (sample, evaluate, predict, plot, inspect, export, demo):
        module.add_parser(commands)
    parser.set_defaults(func=lambda args: _missing(parser))
    return parser, flags


def _missing(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _message(error: BaseException, args: argparse.Namespace) -> str:
    if isinstance(error, ConfigError) and error.key is not None:
        flag = getattr(args, "setting_flags", {}).get(error.key)
        given = given_settings(args)
        for part in error.key.split("."):
            given = given.get(part, {}) if isinstance(given, dict) else {}
        typed = given != {} or error.problem.startswith("required")
        if flag is not None and typed:  # a setting of the command line: name the option
            return f"{flag}: {error.problem}"
    return " ".join(str(error).split()) or type(error).__name__


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``rnnkit`` with ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    parser, _ = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse exits 2 on bad options, 0 on --help/--version
        return int(exit_.code or 0)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (| head): end quietly, as Unix tools do
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    except USER_ERRORS as error:
        if os.environ.get("RNNKIT_DEBUG"):
            raise
        rank = os.environ.get("RANK", "0") if os.environ.get("WORLD_SIZE", "1") != "1" else "0"
        where = "" if rank == "0" else f" (rank {rank})"  # under torchrun every rank may say it
        print(
            f"rnnkit: error{where}: {_message(error, args)}",
            file=sys.stderr,
        )
        return 2


def console_main() -> None:
    sys.exit(main())
