"""The settings every run shares (:class:`TrainConfig`), what a loss returns (:class:`StepOutput`)
and what a run returns (:class:`TrainResult`)."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

from rnnkit.config import (
    Config,
    ConfigError,
    at_least,
    fraction,
    option,
    positive,
    seed_range,
    strict_from_dict,
)
from rnnkit.training.devices import DEVICE_HELP, PRECISIONS, check_device_name
from rnnkit.training.loggers import LOGGERS

__all__ = ["BestMetric", "StepOutput", "TrainConfig", "TrainResult"]


@dataclass
class StepOutput:
    """What a ``loss_fn`` may return: the loss, the items it covered, extra metrics to log."""

    loss: torch.Tensor
    items: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass
class TrainConfig(Config):
    """Options of the Trainer (shared by every task, the Python API and the CLI).

    At least one of ``max_steps`` and ``max_minutes`` must be set; training stops at whichever
    comes first. ``out_dir=None`` writes no files (no checkpoints, no metrics).
    """

    max_steps: int | None = option(
        2000,
        "stop after N optimiser steps (none: no step limit; with only a time budget given, "
        "the budget alone stops training)",
        flag="steps",
        metavar="N",
        check=at_least(1),
    )
    max_minutes: float | None = option(
        None,
        "stop after M minutes of wall-clock time; the learning-rate schedule then follows "
        "this budget",
        metavar="M",
        check=positive(),
    )
    batch_size: int = option(
        32,
        "examples per batch (for a language model: parallel streams)",
        metavar="B",
        check=at_least(1),
    )
    lr: float = option(2e-3, "peak learning rate of AdamW", check=positive())
    min_lr_ratio: float = option(
        0.1, "the cosine schedule decays to lr * R", metavar="R", check=fraction(closed=True)
    )
    warmup_steps: int = option(
        100, "steps of linear learning-rate warmup", flag="warmup", metavar="N", check=at_least(0)
    )
    schedule: str = option(
        "cosine", "learning rate after the warmup", choices=("cosine", "constant")
    )
    weight_decay: float = option(
        0.01, "AdamW weight decay, on weight matrices only", metavar="W", check=at_least(0)
    )
    beta1: float = option(0.9, "AdamW beta1", check=fraction())
    beta2: float = option(0.99, "AdamW beta2", check=fraction())
    clip: str = option(
        "norm",
        "gradient clipping: by global norm, by value, or none",
        choices=("norm", "value", "none"),
    )
    clip_value: float = option(
        1.0,
        "max gradient norm (or absolute value with clip 'value')",
        metavar="C",
        check=positive(),
    )
    eval_every: int = option(
        250, "evaluate on the validation data every N steps", metavar="N", check=at_least(1)
    )
    patience: int | None = option(
        None,
        "stop early after K evaluations without improvement (none: never)",
        metavar="K",
        check=at_least(1),
    )
    save_every: int = option(250, "write OUT/last.pt every N steps", metavar="N", check=at_least(1))
    out_dir: str | None = option(
        None,
        "output directory for best.pt, last.pt, config.json and the loggers' "
        "files (none: write no files)",
        flag="out",
        metavar="DIR",
    )
    logger: list[str] = option(
        ["jsonl"],
        "where metrics go, comma-separated: jsonl (OUT/metrics.jsonl), csv (OUT/metrics.csv), "
        "tensorboard (OUT/tensorboard/, needs rnnkit[tensorboard])",
        metavar="LIST",
    )
    seed: int = option(
        1337,
        "seed of every random generator: the same seed gives the same numbers",
        check=seed_range(),
    )
    device: str = option("auto", DEVICE_HELP)
    precision: str = option(
        "32",
        "arithmetic of the forward pass and the loss: 32 (float32), bf16 (autocast to bfloat16, "
        "on the CPU or a GPU) or 16-mixed (autocast to float16 with a gradient scaler, CUDA "
        "only); weights and optimiser stay float32",
        choices=PRECISIONS,
    )
    threads: int | None = option(
        None,
        "CPU threads torch uses (none: torch's default, one per core); on a machine other jobs "
        "share, 1 is often several times faster",
        metavar="N",
        check=at_least(1),
    )
    progress: bool | None = option(
        None, "show a progress bar on stderr (default: when stderr is a terminal)"
    )
    max_nonfinite: int = option(
        5,
        "stop after N steps in a row with a non-finite loss or gradient",
        metavar="N",
        check=at_least(1),
    )

    def __post_init__(self) -> None:
        if isinstance(self.out_dir, os.PathLike):
            self.out_dir = os.fspath(self.out_dir)  # a Path would not be plain data in a checkpoint
        if isinstance(self.logger, str):  # TrainConfig(logger="jsonl,csv"), as on the command line
            self.logger = [name.strip() for name in self.logger.split(",") if name.strip()]
        if type(self.precision) is int:  # precision = 32 in a config file
            self.precision = str(self.precision)
        super().__post_init__()

    def validate(self) -> None:
        self.device = check_device_name(self.device)  # its form only: a checkpoint loads anywhere
        if self.max_steps is None and self.max_minutes is None:
            raise ConfigError("max_steps", "set max_steps or max_minutes (or both)")
        names = self.logger
        if not names or any(n not in LOGGERS for n in names) or len(set(names)) != len(names):
            raise ConfigError(
                "logger",
                f"expected a comma-separated list of {', '.join(LOGGERS)} (each at most once), "
                f"got {','.join(names)!r}",
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], **overrides: Any) -> TrainConfig:
        """Rebuild from ``asdict()`` output (strict: unknown keys are an error), then apply
        ``overrides``."""
        return strict_from_dict(cls, {**data, **overrides})


@dataclass
class TrainResult:
    """What :meth:`Trainer.fit` returns."""

    step: int
    stop_reason: str  # "max_steps", "max_minutes", "early_stopping"
    elapsed: float  # seconds, including evaluation and any earlier runs resumed from
    train_loss: float | None  # smoothed training loss at the end
    best_metric: float | None  # the best value of the selection metric (``best_metric_name``)
    val_metrics: dict[str, float] | None  # of the last evaluation
    items_per_second: float  # training throughput of this run (over the time in training steps)
    skipped_steps: int
    best_path: str | None
    last_path: str | None
    train_seconds: float = 0.0  # this run's time in training steps (no evaluation, no checkpoints)
    best_metric_name: str = "loss"  # the validation metric that picks best.pt
    best_metric_mode: str = "min"  # "min" for a loss, "max" for accuracy or F1
    best_step: int | None = None  # the step of best_metric


@dataclass
class BestMetric:
    """The validation metric that picks ``best.pt`` and drives early stopping.

    ``name`` is a key of ``eval_fn``'s dict; ``mode`` its direction: ``"min"`` for a loss,
    ``"max"`` for accuracy or F1. ``value`` and ``step`` are the best so far, ``bad_evals`` the
    evaluations since it last improved. A value that is not finite never improves.
    """

    name: str = "loss"
    mode: str = "min"
    value: float | None = None
    step: int | None = None
    bad_evals: int = 0

    def __post_init__(self) -> None:
        if self.mode not in ("min", "max"):
            raise ValueError(f"mode: expected 'min' or 'max', got {self.mode!r}")

    def update(self, score: float, step: int) -> bool:
        """Take the score of an evaluation at ``step``; whether it is a new best."""
        best = self.value
        improved = math.isfinite(score) and (
            best is None or (score > best if self.mode == "max" else score < best)
        )
        if improved:
            self.value, self.step, self.bad_evals = score, step, 0
        else:
            self.bad_evals += 1
        return improved
