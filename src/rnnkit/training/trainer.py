"""The model-agnostic :class:`Trainer` every rnnkit task reuses, and its :class:`TrainConfig`.

The Trainer knows nothing of any task. A task hands it:

``model``
    any ``nn.Module``; the Trainer moves it to the device and owns the AdamW optimiser.
``train_data``
    a *batch source*: an object with ``next_batch() -> batch`` (endless: it wraps around by
    itself), ``state_dict() -> dict`` and ``load_state_dict(dict)``; the state (data position,
    epoch, shuffling seed: plain types) is saved in the checkpoint so a resumed run sees exactly
    the batches an uninterrupted one would. :class:`ShuffledBatches` is the ordinary shuffled
    mini-batch source; ``rnnkit.data.text.TBPTTBatches`` the stateful one for language models.
    Each batch is moved to the device with :func:`to_device` (tensors inside tuples, lists, dicts).
``loss_fn(model, batch)``
    returns a scalar loss tensor, or a :class:`StepOutput` (loss, the number of items -- chars,
    tokens, sequences -- for the throughput, extra float metrics to log). When it carries state
    from step to step (the hidden state of truncated back-propagation through time), give it
    ``state_dict()``/``load_state_dict()`` too and the Trainer saves that state (tensors allowed).
``eval_fn(model) -> dict[str, float]``
    (optional) validation metrics with at least ``"loss"``, called every ``eval_every`` steps and
    at the end, under ``torch.no_grad()`` with the model in eval mode and on the device
    (:func:`model_device` tells which). It drives ``best.pt`` and early stopping.
``task``, ``model_config``, ``task_state``
    stored in every checkpoint: the task name (``"lm"``, ``"classify"``...: ``evaluate`` and
    ``predict`` dispatch on it), ``asdict()`` of the model config, and the task's own plain state
    (vocabulary ``to_dict()``, label maps, scalers); ``task_state`` may be a dict or a function
    returning one. Only tensors and plain Python types are allowed (see :mod:`rnnkit.training.checkpoint`).
``progress_fn(loss) -> dict[str, str]``
    (optional) what the progress bar shows for a (smoothed) loss, e.g. ``{"loss": "1.52",
    "bpc": "2.19"}``; ``unit`` names the items for the throughput (``"char"`` -> ``char/s``).

What it does: AdamW (weight decay on matrices only); linear warmup then cosine decay to
``lr * min_lr_ratio``, keyed to the wall-clock budget when ``max_minutes`` is set (whichever of
steps and time is further along) and to ``max_steps`` otherwise; clipping by norm (default) or by
value; the gradient norm of every step in ``metrics.jsonl``; a step whose loss or gradient is not
finite is skipped and logged, and ``max_nonfinite`` (5) such steps in a row stop the run with an
``RnnkitError``; evaluation every ``eval_every`` steps with early stopping after ``patience``
evaluations without improvement; ``last.pt`` every ``save_every`` steps and at the end, ``best.pt``
on each new best validation loss, both written atomically and holding everything needed to resume
exactly (weights, optimiser, schedule, every RNG state, step, data position, carried state);
Ctrl-C finishes the current step, writes ``last.pt`` and raises ``KeyboardInterrupt``; a second
Ctrl-C stops at once without writing (a write it cuts short leaves the previous file whole); a
tqdm progress bar on stderr (off when stderr is not a terminal). Weights that are not finite are
never written (an ``RnnkitError``), and ``fit`` holds ``OUT/.lock`` so that a second run into the
same directory refuses to start (:mod:`rnnkit.training.lock`: a lock left by a killed run is taken over).

Devices and precision: ``device`` is ``auto`` (CUDA, else MPS, else the CPU), ``cpu``, ``cuda``,
``cuda:N`` or ``mps`` (:func:`resolve_device`). ``precision`` ``"bf16"`` runs ``loss_fn`` and
``eval_fn`` under ``torch.autocast`` to bfloat16; ``"16-mixed"`` (CUDA only) to float16, with a
``torch.amp.GradScaler`` whose state is in the checkpoint. Weights and optimiser stay float32. With
the scaler, a step whose loss is finite but whose gradients overflow at a loss scale >= 1 is
skipped without counting towards ``max_nonfinite`` (the scaler lowers the scale); below scale 1,
and for a non-finite loss, it counts as any non-finite step does.

Logging goes through callbacks ``callback(trainer, event, info)``, called with one fixed set of
events (``start``, ``backward``, ``step``, ``eval``, ``save``, ``end``: see :mod:`rnnkit.training.loggers`).
The Trainer builds its loggers itself from ``config.logger`` (default ``["jsonl"]``: metrics as
JSON lines in ``OUT/metrics.jsonl``; also ``csv`` and ``tensorboard``), so a Trainer made without
callbacks writes ``metrics.jsonl`` as before, and calls them before the ``callbacks`` given to it.
Without ``out_dir`` no logger writes anything. Two hooks feed the TensorBoard logger:
``text_sample(model) -> str | None`` (a sample of a text model's writing at each evaluation) and
``hparams`` (the run's settings as nested tables; default: this config under ``train``).

Under ``torchrun`` (several processes) the Trainer trains data-parallel with DDP, as
:mod:`rnnkit.training.distributed` describes: ``batch_size`` is the global batch and the batch source
needs ``shard(rank, world)``; rank 0 alone writes files, logs and prints, and evaluates.

Usage (a classifier; the language model does the same with ``TBPTTBatches``)::

    from rnnkit.training.trainer import ShuffledBatches, StepOutput, TrainConfig, Trainer, seed_everything

    seed_everything(0)
    model = MyClassifier(cfg)
    train = ShuffledBatches(len(xs), batch_size=32, collate=lambda idx: (xs[idx], ys[idx]), seed=0)

    def loss_fn(model, batch):
        x, y = batch
        return StepOutput(F.cross_entropy(model(x), y), items=len(y))

    @torch.no_grad()  # the Trainer adds no_grad and eval mode itself; harmless here
    def eval_fn(model):
        logits = model(val_x.to(model_device(model)))
        return {"loss": F.cross_entropy(logits, val_y.to(logits.device)).item()}

    trainer = Trainer(model, TrainConfig(max_steps=500, out_dir="runs/clf"), train, loss_fn,
                      eval_fn=eval_fn, task="classify", model_config=asdict(cfg),
                      task_state={"labels": labels.to_dict()})
    result = trainer.fit()                                  # or fit(resume=load_checkpoint(path))
    print(result.best_val_loss, result.stop_reason)

Resuming: rebuild the model and the task's state from the checkpoint (``load_checkpoint`` from
:mod:`rnnkit.training.checkpoint`), build the Trainer with the checkpoint's ``train["config"]`` (as a
:class:`TrainConfig` via :meth:`TrainConfig.from_dict`) and call ``fit(resume=checkpoint)``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import random
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

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
from rnnkit.data.batching import BatchSource, ShuffledBatches  # re-exported
from rnnkit.errors import RnnkitError
from rnnkit.training import distributed
from rnnkit.training.checkpoint import save_checkpoint
from rnnkit.training.lock import lock_out_dir
from rnnkit.training.loggers import LOGGERS, build_loggers

__all__ = [
    "BatchSource",
    "ShuffledBatches",
    "StepOutput",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "autocast",
    "check_device_name",
    "get_rng_state",
    "model_device",
    "resolve_device",
    "run_device",
    "seed_everything",
    "set_rng_state",
    "to_device",
]


# --------------------------------------------------------------------------- helpers
def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy and torch (CPU and every GPU) with ``seed``."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


def get_rng_state() -> dict[str, Any]:
    """Every global RNG state as tensors and plain types (checkpoint-safe)."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore states saved by :func:`get_rng_state`."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        states = state["cuda"]
        if len(states) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all([s.cpu() for s in states])


PRECISIONS = ("32", "bf16", "16-mixed")
DEVICE_FORMS = "auto, cpu, cuda, cuda:N (N a GPU's index) or mps"
DEVICE_HELP = (
    "where to run: auto (a CUDA GPU when there is one, else Apple's MPS, else the CPU), cpu, "
    "cuda, cuda:N (GPU number N) or mps"
)
_DEVICE_NAME = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device_name(name: str) -> str:
    """``name`` in its plain form (``" CUDA:1"`` -> ``"cuda:1"``) when it is one of the device
    forms (:data:`DEVICE_FORMS`), else a :class:`ConfigError` for ``device``. Whether that device
    is here is :func:`resolve_device`'s question."""
    text = str(name).strip().lower()
    if not _DEVICE_NAME.fullmatch(text):
        raise ConfigError("device", f"expected {DEVICE_FORMS}, got {name!r}")
    return text


def _gpus(count: int) -> str:
    """``cuda:0``, ``cuda:0, cuda:1``..., or ``cuda:0 to cuda:7`` for more than four."""
    if count > 4:
        return f"cuda:0 to cuda:{count - 1}"
    return ", ".join(f"cuda:{index}" for index in range(count))


def _devices_here() -> str:
    """What this machine has, as the device names that reach it: ``cpu, cuda:0, mps``."""
    found = ["cpu"]
    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        found.append(_gpus(torch.cuda.device_count()))
    if torch.backends.mps.is_available():
        found.append("mps")
    return ", ".join(found)


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The device called ``name``, after checking that this machine has it.

    ``"auto"``: a CUDA GPU when there is one, else Apple's MPS, else the CPU; ``"cuda"``,
    ``"cuda:N"`` (N below the number of GPUs), ``"mps"`` and ``"cpu"`` as torch names them. A
    device this machine lacks is an :class:`RnnkitError` naming what was asked for and what is
    here; a name of no device form a :class:`ConfigError` listing the forms.
    """
    if isinstance(name, torch.device):
        name = name.type if name.index is None or name.type != "cuda" else str(name)
    text = check_device_name(name)
    cuda = torch.cuda.is_available()
    count = torch.cuda.device_count() if cuda else 0
    if text == "auto":
        if cuda and count > 0:
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    if text.startswith("cuda"):
        index = int(text.partition(":")[2] or 0)
        if count == 0:
            raise RnnkitError(
                f"device {text!r} was asked for, but this machine has no CUDA GPU "
                f"(devices here: {_devices_here()})"
            )
        if index >= count:
            plural = "s" if count > 1 else ""
            raise RnnkitError(
                f"device {text!r} was asked for, but this machine has {count} CUDA GPU{plural} "
                f"({_gpus(count)})"
            )
        return torch.device(text)
    if text == "mps" and not torch.backends.mps.is_available():
        raise RnnkitError(
            "device 'mps' was asked for, but this machine has no Apple MPS device "
            f"(devices here: {_devices_here()})"
        )
    return torch.device(text)


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """The context a forward pass of ``precision`` runs in on ``device``: none for ``"32"``,
    ``torch.autocast`` to bfloat16 for ``"bf16"`` and to float16 for ``"16-mixed"``."""
    if precision == "32":
        return contextlib.nullcontext()
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(torch.device(device).type, dtype=dtype)


def run_device(config: TrainConfig) -> torch.device:
    """The device a run of ``config`` trains on, after checking that this machine has it
    (:func:`resolve_device`) and that ``config.precision`` runs there (16-mixed: CUDA only)."""
    device = resolve_device(config.device)
    if config.precision == "16-mixed" and device.type != "cuda":
        where = "the CPU" if device.type == "cpu" else device.type.upper()
        raise ConfigError("precision", f"16-mixed needs a CUDA GPU; on {where} use bf16")
    return device


def to_device(obj: Any, device: torch.device) -> Any:
    """Move every tensor in ``obj`` (tensors, tuples, lists, dicts of them) to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(to_device(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(
            obj,
            **{
                f.name: to_device(getattr(obj, f.name), device)
                for f in dataclasses.fields(obj)
                if f.init
            },
        )
    return obj


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")


# --------------------------------------------------------------------------- config and results
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
    best_val_loss: float | None
    val_metrics: dict[str, float] | None  # of the last evaluation
    items_per_second: float  # training throughput of this run (over the time in training steps)
    skipped_steps: int
    best_path: str | None
    last_path: str | None
    train_seconds: float = 0.0  # this run's time in training steps (no evaluation, no checkpoints)


# --------------------------------------------------------------------------- the trainer
class Trainer:
    """Train any model with any batch source and loss (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        config: TrainConfig,
        train_data: BatchSource,
        loss_fn: Callable[[nn.Module, Any], torch.Tensor | StepOutput],
        *,
        eval_fn: Callable[[nn.Module], Mapping[str, float]] | None = None,
        task: str = "custom",
        model_config: Mapping[str, Any] | Any | None = None,
        task_state: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        progress_fn: Callable[[float], Mapping[str, str]] | None = None,
        unit: str = "item",
        log: Callable[[str], None] | None = None,
        callbacks: Sequence[Callable[[Trainer, str, dict[str, Any]], None]] = (),
        select: str = "loss",
        maximize: bool = False,
        text_sample: Callable[[nn.Module], str | None] | None = None,
        hparams: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.select, self.maximize = select, maximize  # the validation metric that picks best.pt
        # Under torchrun: this process's rank and device (None in a single process); rank 0 alone
        # writes files and prints (see rnnkit.training.distributed).
        self.dist = distributed.init(config.device)
        self.is_main = self.dist is None or self.dist.is_main
        self.device = run_device(config) if self.dist is None else self.dist.device
        # float16 gradients underflow without loss scaling; bfloat16 has float32's range
        self.scaler = torch.amp.GradScaler("cuda") if config.precision == "16-mixed" else None
        self.model = model.to(self.device)
        self.train_data = train_data
        self.loss_fn = loss_fn
        self.eval_fn = eval_fn
        self.task = task
        if dataclasses.is_dataclass(model_config) and not isinstance(model_config, type):
            model_config = asdict(model_config)
        self.model_config = dict(model_config or {})
        self.task_state = task_state
        self.progress_fn = progress_fn or (lambda loss: {"loss": f"{loss:.4f}"})
        self.unit = unit
        self._log = log
        # The loggers of config.logger come first, so a user's callback sees their files updated.
        self.loggers = (
            build_loggers(config.logger, text_sample=text_sample, hparams=hparams)
            if self.is_main
            else []
        )
        self.callbacks = [*self.loggers, *callbacks]

        decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
        no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
        groups = [{"params": decay, "weight_decay": config.weight_decay}]
        if no_decay:
            groups.append({"params": no_decay, "weight_decay": 0.0})
        self.optimizer = torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))
        self._ddp_step: nn.Module | None = None  # loss_fn(model, batch) under DDP, several ranks
        if self.dist is not None:
            distributed.shard_source(train_data, self.dist)
            self._ddp_step = distributed.wrap(self.model, loss_fn, self.dist)
            if not self.is_main:  # same weights, but dropout masks of its own
                torch.manual_seed(distributed.rank_seed(config.seed, self.dist.rank))

        self.step = 0
        self.elapsed_before = 0.0  # seconds spent in earlier runs (resume)
        self.best_val_loss: float | None = None  # best value of the ``select`` metric
        self.best_step: int | None = None
        self.bad_evals = 0
        self.last_eval_step = -1
        self.val_metrics: dict[str, float] | None = None
        self.skipped_steps = 0
        self._nonfinite_in_a_row = 0
        self._stop_requested = False
        self._start_time = time.perf_counter()
        self._smoothed_loss: float | None = None
        self.best_state: dict[str, torch.Tensor] | None = None  # best weights when out_dir is None

    # ------------------------------------------------------------------ public helpers
    def log(self, message: str) -> None:
        """Print a line for the user (above the progress bar), or hand it to ``log``."""
        if not self.is_main:  # one voice: rank 0's
            return
        if self._log is not None:
            self._log(message)
        elif getattr(self, "_bar", None) is not None:
            self._bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def request_stop(self) -> None:
        """Stop after the current step as Ctrl-C does: write ``last.pt`` and raise KeyboardInterrupt."""
        self._stop_requested = True

    @property
    def elapsed(self) -> float:
        """Seconds of training so far, including earlier runs this one resumed from."""
        return self.elapsed_before + (time.perf_counter() - self._start_time)

    def lr_at(self, step: int, elapsed: float) -> float:
        """Learning rate of step ``step`` (0-based) at ``elapsed`` seconds: warmup, then cosine."""
        cfg = self.config
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return cfg.lr * (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return cfg.lr
        progress = 0.0
        if cfg.max_steps is not None:
            span = max(1, cfg.max_steps - cfg.warmup_steps)
            progress = (step - cfg.warmup_steps) / span
        if cfg.max_minutes is not None:
            progress = max(progress, elapsed / (cfg.max_minutes * 60.0))
        progress = min(max(progress, 0.0), 1.0)
        ratio = cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
        return cfg.lr * ratio

    def evaluate(self) -> dict[str, float]:
        """Run ``eval_fn`` in eval mode without gradients; restores training mode."""
        if self.eval_fn is None:
            return {}
        metrics: dict[str, float] | None = None
        if self.is_main:  # with several ranks, rank 0 evaluates and the others take its metrics
            was_training = self.model.training
            self.model.eval()
            try:
                with torch.no_grad(), autocast(self.device, self.config.precision):
                    metrics = {k: float(v) for k, v in dict(self.eval_fn(self.model)).items()}
            finally:
                self.model.train(was_training)
        if self.dist is not None:
            metrics = distributed.broadcast(self.dist, metrics)
        if self.select not in metrics:
            raise ValueError(f"eval_fn must return a dict with a {self.select!r} entry")
        return metrics

    # ------------------------------------------------------------------ checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The whole checkpoint (see :mod:`rnnkit.training.checkpoint` for the layout)."""
        task_state = self.task_state() if callable(self.task_state) else self.task_state
        train: dict[str, Any] = {
            "config": asdict(self.config),
            "step": self.step,
            "elapsed": self.elapsed,
            "optimizer": self.optimizer.state_dict(),
            "rng": get_rng_state(),
            "data": self.train_data.state_dict(),
            "best_val_loss": self.best_val_loss,
            "best_step": self.best_step,
            "bad_evals": self.bad_evals,
            "last_eval_step": self.last_eval_step,
            "val_metrics": self.val_metrics,
            "skipped_steps": self.skipped_steps,
        }
        if self.scaler is not None:
            train["scaler"] = self.scaler.state_dict()  # the loss scale and its growth tracker
        if hasattr(self.loss_fn, "state_dict"):
            train["loss_state"] = self.loss_fn.state_dict()
        train["world_size"] = 1 if self.dist is None else self.dist.world
        return {
            "task": self.task,
            "model_config": self.model_config,
            "model_state": self.model.state_dict(),
            "task_state": dict(task_state or {}),
            "train": train,
        }

    def load_state_dict(self, checkpoint: Mapping[str, Any]) -> None:
        """Restore everything :meth:`state_dict` saved, to continue exactly where it stopped."""
        train = checkpoint.get("train")
        where = checkpoint.get("path", "the checkpoint")
        if not isinstance(train, Mapping):
            raise RnnkitError(f"{where} holds no training state, so training cannot resume from it")
        own = self._own_state(train, where)  # this rank's RNG and carried loss state
        try:
            self.model.load_state_dict(checkpoint["model_state"])
            self.optimizer.load_state_dict(train["optimizer"])
            self.train_data.load_state_dict(train["data"])
            if self.scaler is not None and "scaler" in train:
                self.scaler.load_state_dict(train["scaler"])
            if hasattr(self.loss_fn, "load_state_dict") and "loss_state" in own:
                self.loss_fn.load_state_dict(to_device(own["loss_state"], self.device))
            if "rng" in own:
                set_rng_state(own["rng"])
        except (KeyError, ValueError, RuntimeError, TypeError) as error:
            message = " ".join(str(error).split())[:300]
            raise RnnkitError(f"cannot resume from {where}: {message}") from error
        self.step = int(train["step"])
        self.elapsed_before = float(train["elapsed"])
        self.best_val_loss = train.get("best_val_loss")
        self.best_step = train.get("best_step")
        self.bad_evals = int(train.get("bad_evals", 0))
        self.last_eval_step = int(train.get("last_eval_step", -1))
        self.val_metrics = train.get("val_metrics")
        self.skipped_steps = int(train.get("skipped_steps", 0))

    def _own_state(self, train: Mapping[str, Any], where: str) -> dict[str, Any]:
        """The RNG and loss states this rank resumes from; refuses another number of processes
        when the loss carries a state per process (a language model's streams)."""
        saved, world = int(train.get("world_size", 1)), 1 if self.dist is None else self.dist.world
        if saved != world and hasattr(self.loss_fn, "state_dict"):
            raise RnnkitError(
                f"cannot resume {where} with {world} process(es): it was trained with {saved}, and "
                f"each process carries its own part of the loss's state (its streams' hidden "
                f"state); resume with {saved} (torchrun --nproc_per_node {saved})"
            )
        ranks = train.get("ranks")  # absent from a state_dict() not written by save()
        if saved > 1 and saved == world and isinstance(ranks, Sequence) and len(ranks) == world:
            return dict(ranks[self.dist.rank])  # type: ignore[union-attr]
        if not self.is_main:  # another number of processes: keep this rank's own seeding
            return {}
        return {k: train[k] for k in ("rng", "loss_state") if k in train}

    def save(self, name: str) -> str | None:
        """Write ``out_dir/name`` atomically; returns its path (``None`` without ``out_dir``).

        With several ranks every rank must call it (it gathers each one's RNG and carried loss
        state into ``train["ranks"]``); rank 0 writes, the others return ``None``."""
        if self.config.out_dir is None:
            return None
        ranks = None
        if self.dist is not None:
            own = {"rng": get_rng_state()}
            if hasattr(self.loss_fn, "state_dict"):
                own["loss_state"] = self.loss_fn.state_dict()
            ranks = distributed.gather(self.dist, own)
        if not self.is_main:
            return None
        path = Path(self.config.out_dir) / name
        self._check_finite_weights(path)
        state = self.state_dict()
        if ranks is not None:
            state["train"]["ranks"] = ranks
        save_checkpoint(path, state)
        self._emit("save", {"path": str(path), "name": name, "step": self.step})
        return str(path)

    # ------------------------------------------------------------------ training
    def fit(self, resume: Mapping[str, Any] | None = None) -> TrainResult:
        """Train until ``max_steps``, ``max_minutes`` or early stopping; see the module docstring.

        ``out_dir`` is locked meanwhile (``OUT/.lock``): a second run into it is an ``RnnkitError``.
        """
        with lock_out_dir(self.config.out_dir, note=self.log):
            return self._fit(resume)

    def _fit(self, resume: Mapping[str, Any] | None) -> TrainResult:
        cfg = self.config
        self._stop_requested = self._interrupt_saved = False
        if resume is not None:
            self.load_state_dict(resume)
        out_dir = self._prepare_out_dir() if self.is_main else None
        previous_handler = self._install_sigint()
        self._start_time = time.perf_counter()
        self.model.train()
        bar = self._bar = self._make_bar()
        items_done, step_seconds = 0, 0.0
        window_items, window_start = 0, time.perf_counter()
        stop_reason = "error"  # what "end" reports if an exception ends the run
        last_path = best_path = None
        try:
            self._emit("start", {"step": self.step, "resumed": resume is not None})
            while True:
                elapsed, stop = self.elapsed, self._stop_requested
                if self.dist is not None:  # one clock and one stop for every rank (a sync point)
                    elapsed, stop = distributed.agree(self.dist, elapsed, stop)
                if cfg.max_steps is not None and self.step >= cfg.max_steps:
                    stop_reason = "max_steps"
                    break
                if cfg.max_minutes is not None and elapsed >= cfg.max_minutes * 60:
                    stop_reason = "max_minutes"
                    break
                if stop:  # Ctrl-C or request_stop() (on any rank): between two whole steps
                    self._save_interrupted()
                    raise KeyboardInterrupt
                step_start = time.perf_counter()
                record = self._train_step(None if self.dist is None else elapsed)
                step_seconds += time.perf_counter() - step_start
                items_done += record.get("items") or 0
                window_items += record.get("items") or 0
                self._emit("step", record)
                now = time.perf_counter()
                if bar is not None:
                    rate = window_items / max(now - window_start, 1e-9)
                    self._update_bar(bar, rate)
                    if now - window_start > 5:
                        window_items, window_start = 0, now

                if self.eval_fn is not None and self.step % cfg.eval_every == 0:
                    best_path = self._do_eval() or best_path
                    if cfg.patience is not None and self.bad_evals >= cfg.patience:
                        stop_reason = "early_stopping"
                        self.log(f"early stopping: no improvement in {self.bad_evals} evaluations")
                        break
                if self.step % cfg.save_every == 0:
                    last_path = self.save("last.pt")
            if self.eval_fn is not None and self.last_eval_step != self.step:
                best_path = self._do_eval() or best_path
            last_path = self.save("last.pt")
        except KeyboardInterrupt:
            stop_reason = "interrupted"
            if not self._interrupt_saved:
                self._note_unsaved_interrupt()
            raise
        finally:
            if bar is not None:
                bar.close()
            self._bar = None
            try:
                self._emit("end", {"step": self.step, "stop_reason": stop_reason})
            finally:
                if previous_handler is not None:
                    signal.signal(signal.SIGINT, previous_handler)
        # a resumed run's best may predate this session; a new run's never does (a best.pt
        # there belongs to an earlier run, perhaps of another model)
        stale = out_dir is None or resume is None or not (out_dir / "best.pt").is_file()
        if best_path is None and not stale:
            best_path = str(out_dir / "best.pt")
        return TrainResult(
            step=self.step,
            stop_reason=stop_reason,
            elapsed=self.elapsed,
            train_loss=self._smoothed_loss,
            best_val_loss=self.best_val_loss,
            val_metrics=self.val_metrics,
            items_per_second=items_done / max(step_seconds, 1e-9),
            skipped_steps=self.skipped_steps,
            best_path=best_path,
            last_path=last_path,
            train_seconds=step_seconds,
        )

    def _train_step(self, elapsed: float | None = None) -> dict[str, Any]:
        cfg = self.config
        lr = self.lr_at(self.step, self.elapsed if elapsed is None else elapsed)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = to_device(self.train_data.next_batch(), self.device)
        with autocast(self.device, cfg.precision):  # the forward and the loss; backward outside
            if self._ddp_step is not None:
                output = self._ddp_step(batch)  # loss_fn(model, batch) as one DDP forward
            else:
                output = self.loss_fn(self.model, batch)
        if not isinstance(output, StepOutput):
            output = StepOutput(output)
        loss, items = output.loss, output.items
        if self.dist is None:
            loss_value = float(loss.detach())
        else:  # the global loss and items; DDP's mean gradient becomes the global mean's gradient
            loss_value, items, weight = distributed.reduce_step(self.dist, loss, items)
            loss = loss * weight
        grad_norm = float("nan")
        skipped = not math.isfinite(loss_value)
        scale = None  # the loss scale of a 16-mixed step
        if not skipped:
            if self.scaler is None:
                loss.backward()
            else:
                scale = self.scaler.get_scale()
                self.scaler.scale(loss).backward()
                self.scaler.unscale_(self.optimizer)  # the norm, clipping, loggers: true gradients
            params = [p for p in self.model.parameters() if p.grad is not None]
            if cfg.clip == "norm":
                grad_norm = float(torch.nn.utils.clip_grad_norm_(params, cfg.clip_value))
            else:
                grad_norm = _grad_norm(params)
                if cfg.clip == "value" and math.isfinite(grad_norm):
                    torch.nn.utils.clip_grad_value_(params, cfg.clip_value)
            # Gradients are ready and not yet applied or zeroed: histograms read them here.
            self._emit("backward", {"step": self.step + 1, "grad_norm": grad_norm})
            skipped = not math.isfinite(grad_norm)
            if self.scaler is not None:
                if not skipped:
                    self.scaler.step(self.optimizer)
                self.scaler.update()  # after an overflow, a lower scale
            elif not skipped:
                self.optimizer.step()
        elif self._ddp_step is not None:
            loss.backward()  # DDP expects the backward of its forward; the gradients are dropped
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        record: dict[str, Any] = {
            "step": self.step,
            "loss": loss_value if math.isfinite(loss_value) else str(loss_value),
            "lr": lr,
            "grad_norm": grad_norm if math.isfinite(grad_norm) else str(grad_norm),
            "items": items,
            "time": round(self.elapsed, 3),
        }
        if scale is not None:
            record["loss_scale"] = scale
        record.update({k: float(v) for k, v in output.metrics.items()})
        # A 16-mixed step whose loss is finite but whose gradients overflow float16 at the loss
        # scale is routine: the scaler skips it and halves the scale, so it is not a divergence.
        # Once the scale is below 1 the gradients overflow unscaled, and it counts as one.
        overflow = skipped and scale is not None and scale >= 1.0
        if overflow:
            self.skipped_steps += 1
            record["skipped"] = True
            self.log(f"step {self.step}: gradient overflow at loss scale {scale:g}; step skipped")
        elif skipped:
            self.skipped_steps += 1
            self._nonfinite_in_a_row += 1
            record["skipped"] = True
            what = "loss" if not math.isfinite(loss_value) else "gradient norm"
            self.log(
                f"step {self.step}: non-finite {what} ({loss_value if what == 'loss' else grad_norm}); "
                "step skipped"
            )
            if self._nonfinite_in_a_row >= cfg.max_nonfinite:
                raise RnnkitError(
                    f"training diverged: {self._nonfinite_in_a_row} steps in a row had a non-finite loss "
                    f"or gradient (last at step {self.step}); try a lower learning rate or stronger "
                    "clipping"
                )
        else:
            self._nonfinite_in_a_row = 0
            beta = 0.9 if self._smoothed_loss is not None else 0.0
            self._smoothed_loss = beta * (self._smoothed_loss or 0.0) + (1 - beta) * loss_value
        return record

    def _do_eval(self) -> str | None:
        metrics = self.evaluate()
        self.val_metrics = metrics
        self.last_eval_step = self.step
        score = metrics[self.select]
        best = self.best_val_loss
        improved = math.isfinite(score) and (
            best is None or (score > best if self.maximize else score < best)
        )
        if improved:
            self.best_val_loss, self.best_step = score, self.step
            self.bad_evals = 0
        else:
            self.bad_evals += 1
        record = {"step": self.step, "event": "eval", "time": round(self.elapsed, 3)}
        record.update({f"val_{k}": v for k, v in metrics.items()})
        shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        mark = f" (best {self.select})" if improved else ""
        self.log(f"step {self.step}: validation {shown}{mark}")
        self._emit("eval", record)
        if improved and self.config.out_dir is None:  # no best.pt: keep the best weights in memory
            self.best_state = {
                k: v.detach().cpu().clone() for k, v in self.model.state_dict().items()
            }
        return self.save("best.pt") if improved else None

    # ------------------------------------------------------------------ plumbing
    def _emit(self, event: str, info: dict[str, Any]) -> None:
        for callback in self.callbacks:
            callback(self, event, info)

    def _prepare_out_dir(self) -> Path | None:
        if self.config.out_dir is None:
            return None
        out_dir = Path(self.config.out_dir)
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            probe = out_dir / f".write-test-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as error:
            raise RnnkitError(
                f"cannot write to output directory {out_dir}: {error.strerror or error}"
            ) from error
        return out_dir

    def _save_interrupted(self) -> None:
        """The first Ctrl-C: the step is whole, so write ``last.pt`` (a second Ctrl-C stops that)."""
        path = self.save("last.pt")
        self._interrupt_saved = True
        if path is not None:
            self.log(f"interrupted at step {self.step}; wrote {path}")

    def _note_unsaved_interrupt(self) -> None:
        """A second Ctrl-C, or a KeyboardInterrupt in the middle of a step: stop without writing.

        A step cut short may have changed the weights, the optimiser or the data position without
        counting the step, so a checkpoint of it would not resume exactly; a write cut short left
        the previous file as it was (see :func:`rnnkit.training.checkpoint.atomic_write`).
        """
        if self.config.out_dir is None:
            return
        path = Path(self.config.out_dir) / "last.pt"
        kept = f"{path} is the last one written" if path.is_file() else f"no {path} was written"
        self.log(f"interrupted at step {self.step}: stopped at once without saving; {kept}")

    def _check_finite_weights(self, path: Path) -> None:
        """Refuse to write weights that are not finite (they would replace a usable checkpoint)."""
        named = list(self.model.named_parameters())
        if not named:
            return
        finite = torch.stack([torch.isfinite(p.detach()).all() for _, p in named])
        if bool(finite.all()):  # a sync point, once per save
            return
        name = named[int((~finite).nonzero()[0, 0])][0]
        kept = ", which keeps its earlier weights" if path.is_file() else ""
        raise RnnkitError(
            f"training diverged: parameter {name} is not finite at step {self.step}; "
            f"not writing {path}{kept}"
        )

    def _install_sigint(self):
        if threading.current_thread() is not threading.main_thread():
            return None

        def handler(signum, frame):
            if self._stop_requested:  # second Ctrl-C: stop now
                raise KeyboardInterrupt
            self._stop_requested = True

        try:
            return signal.signal(signal.SIGINT, handler)
        except ValueError:  # not allowed here (e.g. some embedded interpreters)
            return None

    def _make_bar(self):
        enabled = self.config.progress
        if enabled is None:
            enabled = sys.stderr.isatty()
        if not enabled or not self.is_main:  # one progress bar: rank 0's
            return None
        from tqdm.auto import tqdm

        return tqdm(
            total=self.config.max_steps,
            initial=self.step,
            desc="train",
            unit="step",
            file=sys.stderr,
            dynamic_ncols=True,
            bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| [{elapsed}{postfix}]"
            if self.config.max_steps
            else "{desc} {n_fmt} steps [{elapsed}{postfix}]",
        )

    def _update_bar(self, bar, rate: float) -> None:
        cfg = self.config
        shown = (
            dict(self.progress_fn(self._smoothed_loss)) if self._smoothed_loss is not None else {}
        )
        shown[f"{self.unit}/s"] = _si(rate)
        left = []
        if cfg.max_minutes is not None:
            left.append(cfg.max_minutes * 60 - self.elapsed)
        if cfg.max_steps is not None and bar.format_dict.get("rate"):
            left.append((cfg.max_steps - self.step) / bar.format_dict["rate"])
        if left:
            shown["left"] = bar.format_interval(max(0.0, min(left)))
        bar.set_postfix(shown, refresh=False)
        bar.update(1)


def _grad_norm(params: Sequence[torch.Tensor]) -> float:
    if not params:
        return 0.0
    norms = torch.stack([torch.linalg.vector_norm(p.grad.detach()) for p in params])
    return float(torch.linalg.vector_norm(norms))


def _si(value: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value:.1f}"
