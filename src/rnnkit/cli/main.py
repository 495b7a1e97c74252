"""Entry point of the ``rnnkit`` command: ``main(argv) -> int`` so tests can run it in-process.

Each command lives in its own module under ``rnnkit.cli`` and exposes ``add_parser(subparsers)``,
which registers its parser and sets ``func`` (a ``*_command(args) -> int``) as a default. The
``train`` subcommands are generated from :data:`rnnkit.tasks.TASKS` each time the parser is
built, so a task registered before :func:`main` runs has its command.

How an error ends (:func:`report`):

- a user's mistake (:class:`~rnnkit.errors.RnnkitError`, or the system refusing a file the user
  named) is one line on stderr, ``rnnkit: error: ...``, and exit code 2; a setting typed on the
  command line is named by its option (``--lr``), one from a file by its key, and an argument of
  a command (evaluate's ``data``) by its option (the command's ``argument_flags``);
- running out of memory (CPU or GPU) is one line that says so and names the batch size to lower,
  exit code 1;
- anything else is a bug in rnnkit: its traceback and a line asking to report it, exit code 1.

``RNNKIT_DEBUG=1`` prints the traceback of every error, a user's mistake included.
"""

from __future__ import annotations

import argparse
import errno
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

import torch

from rnnkit import __version__
from rnnkit.cli import demo, evaluate, export, inspect, plot, predict, sample, train
from rnnkit.cli._options import given_settings
from rnnkit.config import ConfigError
from rnnkit.errors import RnnkitError

# A full disk is the user's to free, though the OSError may name no file of theirs.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
# torch.cuda.OutOfMemoryError is torch.OutOfMemoryError (any accelerator) in torch >= 2.5.
OUT_OF_MEMORY = (MemoryError, torch.cuda.OutOfMemoryError)
# How allocators word it in a RuntimeError: CUDA/MPS "... out of memory", the CPU allocator
# "DefaultCPUAllocator: can't allocate memory: you tried to allocate N bytes" ("not enough
# memory" on Windows).
OUT_OF_MEMORY_TEXT = re.compile(r"(?i)out of memory|can't allocate memory|not enough memory")
TRIED = re.compile(r"tried to allocate ([0-9.]+ ?(?:[KMGT]i?B|bytes))", re.IGNORECASE)


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
        argument = getattr(args, "argument_flags", {}).get(error.key)
        if argument is not None:  # an argument of the command itself (evaluate's data...)
            return f"{argument}: {error.problem}"
        flag = getattr(args, "setting_flags", {}).get(error.key)
        given = given_settings(args)
        for part in error.key.split("."):
            given = given.get(part, {}) if isinstance(given, dict) else {}
        typed = given != {} or error.problem.startswith("required")
        if flag is not None and typed:  # a setting of the command line: name the option
            return f"{flag}: {error.problem}"
    return " ".join(str(error).split()) or type(error).__name__


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


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
    except Exception as error:  # noqa: BLE001 - every error ends in a message and an exit code
        return report(error, args)


def is_user_error(error: BaseException) -> bool:
    """A mistake the user can fix: an :class:`RnnkitError`, or the system refusing a file the user
    named (missing, unwritable, a folder...) or a full disk."""
    if isinstance(error, RnnkitError):
        return True
    return isinstance(error, OSError) and (error.filename is not None or error.errno in DISK_FULL)


def out_of_memory(error: BaseException, args: argparse.Namespace) -> str | None:
    """The line for an error that says the CPU or GPU ran out of memory, else ``None``."""
    text = " ".join(str(error).split())
    if not isinstance(error, OUT_OF_MEMORY) and not (
        isinstance(error, RuntimeError) and OUT_OF_MEMORY_TEXT.search(text)
    ):
        return None
    gpu = isinstance(error, torch.cuda.OutOfMemoryError) or re.search(r"CUDA|MPS|HIP|XPU", text)
    tried = TRIED.search(text)
    detail = f" (tried to allocate {tried.group(1)})" if tried else ""
    flag = getattr(args, "setting_flags", {}).get("train.batch_size")
    if flag is None and hasattr(args, "batch_size"):
        flag = "--batch-size"
    advice = (
        f"lower the batch size ({flag}) or use a smaller model"
        if flag
        else "use a device with more memory (--device) or a smaller model"
    )
    return f"out of {'GPU ' if gpu else ''}memory{detail}: {advice}"


def report(error: BaseException, args: argparse.Namespace) -> int:
    """Print what ``error`` means for the user on stderr and return the exit code (see above)."""
    rank = os.environ.get("RANK", "0") if os.environ.get("WORLD_SIZE", "1") != "1" else "0"
    where = "" if rank == "0" else f" (rank {rank})"  # under torchrun every rank may say it
    debug = os.environ.get("RNNKIT_DEBUG", "") not in ("", "0")
    user = is_user_error(error)
    memory = None if user else out_of_memory(error, args)
    if user or memory is not None:
        if debug:
            traceback.print_exception(error)
        line = memory or _message(error, args)
        print(f"rnnkit: error{where}: {line}", file=sys.stderr)
        return 2 if memory is None else 1
    traceback.print_exception(error)
    print(
        f"rnnkit: internal error{where}: {_one_line(error)} (a bug in rnnkit {__version__}: "
        "please report it to the rnnkit maintainers with the traceback above)",
        file=sys.stderr,
    )
    return 1


def console_main() -> None:
    sys.exit(main())
