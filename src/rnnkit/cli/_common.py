"""Option helpers shared by every ``rnnkit`` command: device, seed, trainer options, TrainConfig.

Trainer options are parsed with a default of ``None`` so a command can tell which ones the user
typed: :func:`train_config_from_args` starts from the task's defaults (or, when resuming, from
the configuration saved in the checkpoint, so the resumed run continues exactly) and applies only
the options given on the command line. The help text still shows each default.

Typical use in a ``cli/train_<task>.py``::

    DEFAULTS = TrainConfig(max_steps=3000, lr=1e-3, batch_size=32, out_dir="runs/classify")

    def add_parser(subparsers):
        parser = subparsers.add_parser("classify", help=..., description=...,
                                       formatter_class=HelpFormatter)
        ...task options...
        add_trainer_options(parser, DEFAULTS)
        parser.set_defaults(func=classify_command)

    def classify_command(args):
        checkpoint = load_resume_checkpoint(args, DEFAULTS, task="classify")  # None when not resuming
        config = train_config_from_args(args, DEFAULTS, checkpoint)
        ...
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from rnnkit.checkpoint import load_checkpoint
from rnnkit.errors import RnnkitError
from rnnkit.training import TrainConfig, resolve_device

__all__ = [
    "HelpFormatter",
    "add_device_option",
    "add_seed_option",
    "add_trainer_options",
    "load_resume_checkpoint",
    "resolve_device",
    "resume_path",
    "task_command",
    "train_config_from_args",
]

# argparse dest -> TrainConfig field, for the options add_trainer_options() registers.
TRAINER_OPTIONS = {
    "steps": "max_steps",
    "max_minutes": "max_minutes",
    "batch_size": "batch_size",
    "lr": "lr",
    "warmup": "warmup_steps",
    "min_lr_ratio": "min_lr_ratio",
    "weight_decay": "weight_decay",
    "clip": "clip",
    "clip_value": "clip_value",
    "eval_every": "eval_every",
    "patience": "patience",
    "save_every": "save_every",
    "out": "out_dir",
    "seed": "seed",
    "device": "device",
    "progress": "progress",
}


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks (for examples) and widens the option column."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=32)


def add_device_option(parser: argparse.ArgumentParser, default: str = "auto", *, unset: bool = False) -> None:
    """``--device auto|cpu|cuda``; ``args.device`` is ``default`` when not given (``None`` with ``unset``,
    which :func:`add_trainer_options` uses to tell given options from defaults)."""
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default=None if unset else default,
        help=f"where to run: auto (a CUDA GPU when there is one, else the CPU), cpu or cuda "
        f"(default: {default})",
    )


def add_seed_option(parser: argparse.ArgumentParser, default: int | None, *, unset: bool = False) -> None:
    """``--seed N``; ``args.seed`` is ``default`` when not given (``None`` with ``unset``)."""
    shown = "random" if default is None else default
    parser.add_argument(
        "--seed",
        type=int,
        default=None if unset else default,
        help=f"seed of every random generator, for reproducible results (default: {shown})",
    )


def add_trainer_options(
    parser: argparse.ArgumentParser, defaults: TrainConfig, *, item: str = "example"
) -> None:
    """Register the Trainer's options (``--steps``, ``--max-minutes``, ``--lr``, ``--out``...)."""
    group = parser.add_argument_group("training")
    d = defaults

    def opt(*names: str, **kwargs: Any) -> None:
        kwargs.setdefault("default", None)
        group.add_argument(*names, **kwargs)

    opt("--steps", type=int, metavar="N",
        help=f"stop after N optimiser steps (default: {d.max_steps or 'no limit'}; with --max-minutes "
        "alone there is no step limit)")
    opt("--max-minutes", type=float, metavar="M",
        help=f"stop after M minutes of wall-clock time; the learning-rate schedule is then keyed to this "
        f"budget (default: {d.max_minutes or 'no limit'})")
    opt("--batch-size", type=int, metavar="B", help=f"{item}s per batch (default: {d.batch_size})")
    opt("--lr", type=float, help=f"peak learning rate of AdamW (default: {d.lr:g})")
    opt("--warmup", type=int, metavar="N",
        help=f"steps of linear learning-rate warmup (default: {d.warmup_steps})")
    opt("--min-lr-ratio", type=float, metavar="R",
        help=f"the cosine schedule decays to lr*R (default: {d.min_lr_ratio:g})")
    opt("--weight-decay", type=float, metavar="W",
        help=f"AdamW weight decay on weight matrices (default: {d.weight_decay:g})")
    opt("--clip", choices=("norm", "value", "none"),
        help=f"gradient clipping: by global norm, by value, or none (default: {d.clip})")
    opt("--clip-value", type=float, metavar="C",
        help=f"max gradient norm (or absolute value with --clip value) (default: {d.clip_value:g})")
    opt("--eval-every", type=int, metavar="N",
        help=f"evaluate on the validation split every N steps (default: {d.eval_every})")
    opt("--patience", type=int, metavar="K",
        help=f"stop early after K evaluations without improvement (default: "
        f"{d.patience or 'never'})")
    opt("--save-every", type=int, metavar="N",
        help=f"write OUT/last.pt every N steps (default: {d.save_every})")
    opt("--out", metavar="DIR",
        help=f"output directory for best.pt, last.pt and metrics.jsonl (default: {d.out_dir})")
    opt("--resume", nargs="?", const="", metavar="CHECKPOINT",
        help="continue an interrupted run: from OUT/last.pt, or from CHECKPOINT (a file or a run "
        "directory, whose directory then becomes the default --out); the saved training settings are "
        "kept unless given again")
    opt("--progress", action=argparse.BooleanOptionalAction,
        help="show a progress bar (default: only when stderr is a terminal)")
    add_seed_option(group, d.seed, unset=True)
    add_device_option(group, d.device, unset=True)


def resume_path(args: argparse.Namespace, defaults: TrainConfig) -> Path | None:
    """The checkpoint ``--resume`` names (``None`` without ``--resume``); not checked for existence."""
    resume = getattr(args, "resume", None)
    if resume is None:
        return None
    if resume == "":
        out = args.out or defaults.out_dir
        if out is None:
            raise RnnkitError("--resume needs --out DIR (the run directory holding last.pt)")
        return Path(out) / "last.pt"
    path = Path(resume)
    return path / "last.pt" if path.is_dir() else path


def load_resume_checkpoint(
    args: argparse.Namespace, defaults: TrainConfig, *, task: str
) -> dict[str, Any] | None:
    """Load the checkpoint of ``--resume`` (``None`` without it); clear errors when it is missing."""
    path = resume_path(args, defaults)
    if path is None:
        return None
    if not path.exists():
        raise RnnkitError(f"--resume: no checkpoint to resume from at {path}")
    checkpoint = load_checkpoint(path, task=task)
    if not isinstance(checkpoint.get("train"), dict):
        raise RnnkitError(f"--resume: {path} holds no training state")
    return checkpoint


def train_config_from_args(
    args: argparse.Namespace,
    defaults: TrainConfig,
    checkpoint: dict[str, Any] | None = None,
) -> TrainConfig:
    """The TrainConfig for this run: defaults (or the checkpoint's saved config), then given options."""
    values = asdict(defaults)
    if checkpoint is not None:
        values = dict(checkpoint["train"]["config"])
        values["out_dir"] = str(Path(checkpoint["path"]).parent)  # resume into the run's own directory
    given = {
        field: getattr(args, dest)
        for dest, field in TRAINER_OPTIONS.items()
        if getattr(args, dest, None) is not None
    }
    # A wall-clock budget alone means "train for M minutes", not "M minutes or the default steps".
    if "max_minutes" in given and "max_steps" not in given and checkpoint is None:
        given["max_steps"] = None
    return TrainConfig.from_dict({**values, **given})


def task_command(checkpoint: dict[str, Any], name: str) -> Callable[..., Any]:
    """``rnnkit.tasks.<checkpoint's task>.<name>`` (e.g. ``evaluate_command``), for commands that
    dispatch on the checkpoint's ``task`` field; ``RnnkitError`` for an unknown or unsupported task."""
    task = checkpoint.get("task")
    where = checkpoint.get("path", "the checkpoint")
    if not isinstance(task, str) or not task.isidentifier():
        raise RnnkitError(f"checkpoint {where} names no valid task ({task!r})")
    try:
        module = importlib.import_module(f"rnnkit.tasks.{task}")
    except ModuleNotFoundError as error:
        if error.name == f"rnnkit.tasks.{task}":
            raise RnnkitError(f"checkpoint {where} is for task {task!r}, which this rnnkit does not know") from error
        raise
    command = getattr(module, name, None)
    if command is None:
        verb = name.removesuffix("_command")
        hint = getattr(module, "COMMAND_HINTS", {}).get(name)
        hint = f" ({hint})" if hint else ""
        raise RnnkitError(f"rnnkit {verb} does not support {task!r} checkpoints{hint}")
    return command
