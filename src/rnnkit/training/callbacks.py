"""What happens around the Trainer's loop: one small interface, and the policies built on it.

The loop of :class:`~rnnkit.training.Trainer` only steps, evaluates and stops. Everything else is
a callback: the best and last checkpoints, early stopping, the metric loggers
(:mod:`rnnkit.training.loggers`), the progress bar and the guard against non-finite steps.

The interface
-------------
A callback is any callable ``callback(trainer, event, info)``. The Trainer calls each one with
these events (:data:`EVENTS`) and no others:

``"start"``
    ``fit()`` begins: the output directory exists and a resumed checkpoint is loaded; no step has
    run yet. info: ``{"step": the step training starts from (0, or the checkpoint's), "resumed"}``.
``"backward"``
    a step's gradients are ready: after ``backward()`` and clipping, before the optimiser step and
    ``zero_grad``, so ``p.grad`` of ``trainer.model`` can be read (copy what you keep). Not emitted
    when the loss is not finite (no backward ran). info: ``{"step": the step being taken
    (1-based), "grad_norm": its norm before clipping}``.
``"step"``
    a step is done; info is its record: ``step, loss, lr, grad_norm, items, time`` (seconds of
    training so far) and the task's extra metrics; a skipped step (loss or gradient not finite)
    has ``"skipped": True`` and its non-finite values as strings (``"nan"``).
``"eval"``
    a validation is done; info is its record: ``step, event ("eval"), time, val_<metric>...``
    (``val_loss`` always). ``trainer.improved`` says whether it is a new best of
    ``trainer.best`` (a :class:`~rnnkit.training.settings.BestMetric`: name, mode, value, step).
``"save"``
    a checkpoint was written. info: ``{"path", "name" ("last.pt" or "best.pt"), "step"}``.
``"end"``
    ``fit()`` ends, also when interrupted or failing. info: ``{"step", "stop_reason"}``: the run's
    reason (``"max_steps"``, ``"max_minutes"``, ``"early_stopping"``, or the one a callback gave
    :meth:`~rnnkit.training.Trainer.stop`), or ``"interrupted"`` (Ctrl-C, ``request_stop()``) or
    ``"error"``.

A :class:`Callback` object receives event ``E`` as its method ``on_E(trainer, info)`` (those it
lacks cost nothing), and two more hooks that plain functions do not receive:

``on_step_end(trainer, info)``
    after a step and the evaluation that followed it, if any: where checkpoints are written and
    stopping is decided. info: ``{"step"}``.
``on_finish(trainer, info)``
    the loop ended without an error (any stop reason but an interrupt), after the final
    evaluation and before ``end``: the run's last writes. info: ``{"step", "stop_reason"}``.

To stop training from a callback, call ``trainer.stop(reason)``: the loop ends after the current
step as if a limit was reached (a final evaluation, ``last.pt``), and ``reason`` becomes the
result's ``stop_reason``. ``trainer.request_stop()`` is Ctrl-C's stop instead (``last.pt``, then
``KeyboardInterrupt``).

A run reads: start; then each step's backward and step; after every ``eval_every``-th step an
eval (and a save of ``best.pt`` when it improved); after every ``save_every``-th step a save of
``last.pt``; at the end an eval if the last step had none, a save of ``last.pt``, and end.

Order: the Trainer calls the non-finite guard first (a step that ends the run reaches no logger),
then the loggers (so a callback sees their files updated), then the callbacks given to it, then
the checkpoint and stopping policies, then the progress bar. Example, a callback of one's own::

    class StopAtLoss(Callback):
        def on_step(self, trainer, info):
            if isinstance(info["loss"], float) and info["loss"] < 0.1:
                trainer.stop("loss below 0.1")

    rnnkit.train("lm", settings, callbacks=[StopAtLoss()])
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping
from typing import Any

import torch

from rnnkit.errors import RnnkitError

__all__ = [
    "EVENTS",
    "BestCheckpoint",
    "Callback",
    "EarlyStopping",
    "LastCheckpoint",
    "NonFiniteGuard",
    "ProgressBar",
    "copy_state",
    "policies",
]

EVENTS = ("start", "backward", "step", "eval", "save", "end")

# The trainer argument of the hooks is a rnnkit.training.Trainer; it is typed ``Any`` here
# because the Trainer imports this module (and not the other way round).


class Callback:
    """A Trainer callback that hands event ``E`` to its method ``on_E(trainer, info)`` if it has
    one (see the module docstring for the events and the hooks)."""

    def __call__(self, trainer: Any, event: str, info: dict[str, Any]) -> None:
        method = getattr(self, f"on_{event}", None)
        if method is not None:
            method(trainer, info)


class NonFiniteGuard(Callback):
    """Says which steps were skipped, and stops the run with an :class:`RnnkitError` after
    ``config.max_nonfinite`` non-finite steps in a row.

    A 16-mixed step whose loss is finite but whose gradients overflow float16 at a loss scale
    >= 1 is routine (the scaler skips it and lowers the scale): said, but not counted.
    """

    def __init__(self) -> None:
        self.in_a_row = 0

    def on_start(self, trainer: Any, info: dict[str, Any]) -> None:
        self.in_a_row = 0

    def on_step(self, trainer: Any, info: dict[str, Any]) -> None:
        step = info["step"]
        if not info.get("skipped"):
            self.in_a_row = 0
            return
        scale = info.get("loss_scale")  # only for a finite loss under a gradient scaler
        if scale is not None and scale >= 1.0:
            trainer.log(f"step {step}: gradient overflow at loss scale {scale:g}; step skipped")
            return
        self.in_a_row += 1
        loss = info["loss"]
        what = "loss" if isinstance(loss, str) else "gradient norm"
        value = loss if what == "loss" else info["grad_norm"]
        trainer.log(f"step {step}: non-finite {what} ({value}); step skipped")
        if self.in_a_row >= trainer.config.max_nonfinite:
            raise RnnkitError(
                f"training diverged: {self.in_a_row} steps in a row had a non-finite loss "
                f"or gradient (last at step {step}); try a lower learning rate or stronger "
                "clipping"
            )


class BestCheckpoint(Callback):
    """On each new best validation score: keep the weights in memory (``trainer.best_state``,
    which the final report scores) and write ``best.pt``."""

    def on_eval(self, trainer: Any, info: dict[str, Any]) -> None:
        if not trainer.improved:
            return
        trainer.best_state = copy_state(trainer.model)
        trainer.save("best.pt")


class EarlyStopping(Callback):
    """Stop after ``config.patience`` evaluations in a row without a new best (none: never)."""

    def on_step_end(self, trainer: Any, info: dict[str, Any]) -> None:
        patience, bad = trainer.config.patience, trainer.best.bad_evals
        if patience is None or trainer.last_eval_step != trainer.step or bad < patience:
            return
        trainer.log(f"early stopping: no improvement in {bad} evaluations")
        trainer.stop("early_stopping")


class LastCheckpoint(Callback):
    """``last.pt`` every ``config.save_every`` steps and at the end of the run."""

    def on_step_end(self, trainer: Any, info: dict[str, Any]) -> None:
        if trainer.stop_reason is None and trainer.step % trainer.config.save_every == 0:
            trainer.save("last.pt")  # (when the run stops here, on_finish writes it)

    def on_finish(self, trainer: Any, info: dict[str, Any]) -> None:
        trainer.save("last.pt")


class ProgressBar(Callback):
    """A tqdm bar on stderr (rank 0; ``config.progress``, default: when stderr is a terminal).

    ``show(loss) -> {name: text}`` is what it shows for the smoothed training loss (default
    ``{"loss": "1.5234"}``); ``unit`` names the items of the throughput (``char`` -> ``char/s``).
    """

    def __init__(
        self, unit: str = "item", show: Callable[[float], Mapping[str, str]] | None = None
    ) -> None:
        self.unit = unit
        self.show = show or (lambda loss: {"loss": f"{loss:.4f}"})
        self.bar: Any = None
        self.window_items, self.window_start = 0, 0.0

    def on_start(self, trainer: Any, info: dict[str, Any]) -> None:
        enabled = trainer.config.progress
        if enabled is None:
            enabled = sys.stderr.isatty()
        if not enabled or not trainer.is_main:  # one progress bar: rank 0's
            return
        from tqdm.auto import tqdm

        steps = trainer.config.max_steps
        self.bar = trainer.bar = tqdm(
            total=steps,
            initial=info["step"],
            desc="train",
            unit="step",
            file=sys.stderr,
            dynamic_ncols=True,
            bar_format="{desc} {n_fmt}/{total_fmt} |{bar}| [{elapsed}{postfix}]"
            if steps
            else "{desc} {n_fmt} steps [{elapsed}{postfix}]",
        )
        self.window_items, self.window_start = 0, time.perf_counter()

    def on_step(self, trainer: Any, info: dict[str, Any]) -> None:
        if self.bar is None:
            return
        self.window_items += info.get("items") or 0
        now = time.perf_counter()
        rate = self.window_items / max(now - self.window_start, 1e-9)
        loss = trainer.smoothed_loss
        shown = dict(self.show(loss)) if loss is not None else {}
        shown[f"{self.unit}/s"] = _si(rate)
        left = self._left(trainer)
        if left is not None:
            shown["left"] = self.bar.format_interval(left)
        self.bar.set_postfix(shown, refresh=False)
        self.bar.update(1)
        if now - self.window_start > 5:  # the throughput of the last few seconds
            self.window_items, self.window_start = 0, now

    def _left(self, trainer: Any) -> float | None:
        """Seconds left: the sooner of the time budget and the steps at the bar's rate."""
        cfg, left = trainer.config, []
        if cfg.max_minutes is not None:
            left.append(cfg.max_minutes * 60 - trainer.elapsed)
        if cfg.max_steps is not None and self.bar.format_dict.get("rate"):
            left.append((cfg.max_steps - trainer.step) / self.bar.format_dict["rate"])
        return max(0.0, min(left)) if left else None

    def on_end(self, trainer: Any, info: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar = trainer.bar = None


def _si(value: float) -> str:
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value:.1f}"


def policies(progress: ProgressBar | None = None) -> tuple[list[Callback], list[Callback]]:
    """The built-in callbacks a Trainer runs before its loggers (the guard) and after the
    callbacks given to it (checkpoints, early stopping, the progress bar)."""
    after: list[Callback] = [BestCheckpoint(), EarlyStopping(), LastCheckpoint()]
    return [NonFiniteGuard()], [*after, progress or ProgressBar()]


def copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of ``model``'s state (kept in memory as the best weights)."""
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
