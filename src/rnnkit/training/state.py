"""What a Trainer writes and resumes from: its checkpoint state, atomic saves, and what Ctrl-C
leaves behind (:class:`Checkpointing`, a part of :class:`~rnnkit.training.Trainer`).

The train state of a checkpoint (``checkpoint["train"]``, see :mod:`rnnkit.training.checkpoint`):
the train config, ``step``, ``elapsed``, the optimiser, every RNG state, the data position, the
selection metric (``best_metric``: its value; ``best_metric_name``, ``best_metric_mode``: ``min``
or ``max``; ``best_step``, ``bad_evals``), ``last_eval_step``, ``val_metrics``, ``skipped_steps``,
the gradient scaler's state (16-mixed), the loss's carried state, and ``world_size`` (with several
processes ``ranks``: each one's RNG and loss state). Checkpoints of rnnkit 0.1 hold the best value
as ``best_val_loss`` (whatever the metric); they resume as well.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.training import distributed
from rnnkit.training.checkpoint import save_checkpoint
from rnnkit.training.devices import to_device
from rnnkit.training.rng import get_rng_state, set_rng_state

__all__ = ["Checkpointing", "check_finite_weights"]


class Checkpointing:
    """The checkpoint methods of :class:`~rnnkit.training.Trainer` (which sets the attributes
    they read: model, optimizer, train_data, loss_fn, scaler, best, context...)."""

    # The Trainer's attributes these methods use (set in Trainer.__init__).
    model: nn.Module
    context: Any
    dist: Any
    is_main: bool

    def state_dict(self) -> dict[str, Any]:
        """The whole checkpoint (see :mod:`rnnkit.training.checkpoint` for the layout)."""
        task_state = self.task_state() if callable(self.task_state) else self.task_state
        train: dict[str, Any] = {
            "config": dataclasses.asdict(self.config),
            "step": self.step,
            "elapsed": self.elapsed,
            "optimizer": self.optimizer.state_dict(),
            "rng": get_rng_state(),
            "data": self.train_data.state_dict(),
            "best_metric": self.best.value,
            "best_metric_name": self.best.name,
            "best_metric_mode": self.best.mode,
            "best_step": self.best.step,
            "bad_evals": self.best.bad_evals,
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
        # rnnkit 0.1 named the best value of the selection metric "best_val_loss", whatever it was
        self.best.value = train.get("best_metric", train.get("best_val_loss"))
        self.best.step = train.get("best_step")
        self.best.bad_evals = int(train.get("bad_evals", 0))
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
        if self.context.out_dir is None:
            return None
        ranks = None
        if self.dist is not None:
            own = {"rng": get_rng_state()}
            if hasattr(self.loss_fn, "state_dict"):
                own["loss_state"] = self.loss_fn.state_dict()
            ranks = distributed.gather(self.dist, own)
        if not self.is_main:
            return None
        path = self.context.out_dir / name
        check_finite_weights(self.model, path, self.step)
        state = self.state_dict()
        if ranks is not None:
            state["train"]["ranks"] = ranks
        save_checkpoint(path, state)
        if name == "best.pt":
            self.best_path = str(path)
        elif name == "last.pt":
            self.last_path = str(path)
        self._emit("save", {"path": str(path), "name": name, "step": self.step})
        return str(path)

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
        if self.context.out_dir is None:
            return
        path = self.context.out_dir / "last.pt"
        kept = f"{path} is the last one written" if path.is_file() else f"no {path} was written"
        self.log(f"interrupted at step {self.step}: stopped at once without saving; {kept}")


def check_finite_weights(model: nn.Module, path: Path, step: int) -> None:
    """Refuse to write weights that are not finite (they would replace a usable checkpoint)."""
    named = list(model.named_parameters())
    if not named:
        return
    finite = torch.stack([torch.isfinite(p.detach()).all() for _, p in named])
    if bool(finite.all()):  # a sync point, once per save
        return
    name = named[int((~finite).nonzero()[0, 0])][0]
    kept = ", which keeps its earlier weights" if path.is_file() else ""
    raise RnnkitError(
        f"training diverged: parameter {name} is not finite at step {step}; "
        f"not writing {path}{kept}"
    )
