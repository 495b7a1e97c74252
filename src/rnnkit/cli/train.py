"""``rnnkit train TASK``: one subcommand per registered task, its options generated from the task's
config (see :mod:`rnnkit.cli._options`), plus ``--config``, ``--print-config`` and ``--resume``."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import Any

from rnnkit.cli._options import add_config_options, given_settings, new_parser
from rnnkit.config import dump_config, read_config_file
from rnnkit.tasks import TASKS, RunResult, resolve_config, train
from rnnkit.tasks.base import merge
from rnnkit.training import distributed

__all__ = ["add_parser", "print_run", "train_command"]

COMMON = """
Settings come from the task's defaults, then --config FILE, then the options given here; a run
writes them all to OUT/config.json, which --config reads back. --print-config shows them."""


def add_parser(subparsers: Any) -> dict[str, dict[str, str]]:
    """Register ``train`` and one subcommand per task; returns each task's key -> flag table."""
    group = subparsers.add_parser(
        "train",
        help="train a model on your data (one task each)",
        description="Train a model: rnnkit train TASK --help lists the options of TASK.",
        allow_abbrev=False,
    )
    tasks = group.add_subparsers(dest="task", metavar="TASK")
    group.set_defaults(func=lambda args: group.print_help(sys.stderr) or 2)
    flags = {}
    for name, task in TASKS.items():
        text = textwrap.fill(task.description, 100)
        parser = new_parser(tasks, name, task.help, f"{text}\n{COMMON}\n\n{task.examples}")
        flags[name] = add_config_options(parser, task.config_class, task.config_class().to_dict())
        run = parser.add_argument_group("run")
        run.add_argument(
            "--config",
            metavar="FILE",
            help="read settings from a TOML or JSON file; options given here win",
        )
        run.add_argument(
            "--print-config",
            nargs="?",
            const="",
            choices=("", "toml", "json"),
            metavar="FORMAT",
            help="print the resolved settings (toml or json; "
            "default: the --config file's format, else toml) and exit",
        )
        run.add_argument(
            "--resume",
            nargs="?",
            const=True,
            metavar="CHECKPOINT",
            help="continue a run: from OUT/last.pt, or from CHECKPOINT (a file or a "
            "run directory, which becomes OUT); the saved settings are kept unless "
            "given again, and its model settings cannot change",
        )
        parser.set_defaults(func=train_command)
    return flags


def train_command(args: argparse.Namespace) -> int:
    task = TASKS[args.task]
    given = read_config_file(args.config) if args.config else {}
    given = merge(given, given_settings(args))
    config, checkpoint = resolve_config(task, given, resume=args.resume)
    if args.print_config is not None:
        fmt = args.print_config or ("json" if str(args.config).endswith(".json") else "toml")
        print(dump_config(config.to_dict(), fmt), end="")
        return 0
    main = True
    try:
        run = train(task, config, resume=checkpoint)
    except KeyboardInterrupt:
        if config.train.out_dir is not None and distributed.is_main():
            print(
                f"continue with: rnnkit train {task.name} --resume {config.train.out_dir}",
                file=sys.stderr,
            )
        raise
    finally:  # under torchrun: leave the process group train() joined; rank 0 prints
        main = distributed.is_main()
        distributed.shutdown()
    if main:
        print_run(run)
    return 0


def print_run(run: RunResult) -> None:
    """The summary and the reports of a run, on standard output."""
    print(run.summary())
    for report in run.reports:
        print(report.format())
    out = run.config.train.out_dir
    if out is not None:
        names = ("best.pt", "last.pt", "metrics.jsonl", "metrics.csv", "config.json", "tensorboard")
        print(f"saved in {out}: {', '.join(n for n in names if (Path(out) / n).exists())}")
