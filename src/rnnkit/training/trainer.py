"""The model-agnostic :class:`Trainer` every rnnkit task reuses.

The Trainer knows nothing of any task. A task hands it:

``model``
    any ``nn.Module``; the Trainer moves it to the device and owns the AdamW optimiser.
``run``
    a :class:`~rnnkit.training.context.RunContext` (the run's settings, device, process group,
    output directory and loggers, resolved once), or just a :class:`TrainConfig`, from which the
    Trainer makes the context itself.
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
    (optional) validation metrics with at least the selection metric (``best``: a
    :class:`BestMetric`, default ``loss``, minimised), called every ``eval_every`` steps and at the
    end (and before the first step of a new run with ``validate_first``), under
    ``torch.no_grad()`` with the model in eval mode and on the device
    (:func:`model_device` tells which). It drives ``best.pt`` and early stopping.
``task``, ``model_config``, ``task_state``
    stored in every checkpoint: the task name (``"lm"``, ``"classify"``...: ``evaluate`` and
    ``predict`` dispatch on it), ``asdict()`` of the model config, and the task's own plain state
    (vocabulary ``to_dict()``, label maps, scalers); ``task_state`` may be a dict or a function
    returning one. Only tensors and plain Python types are allowed (see
    :mod:`rnnkit.training.checkpoint`).
``callbacks``
    :class:`~rnnkit.training.callbacks.Callback` objects or functions
    ``callback(trainer, event, info)`` (:mod:`rnnkit.training.callbacks`: the events, the hooks
    and their order); ``progress`` the :class:`ProgressBar` (its unit and what it shows).

The loop steps, evaluates and stops; its policies (best and last checkpoints, early stopping after
``patience`` evaluations, loggers, progress bar, the guard against ``max_nonfinite`` non-finite
steps in a row) are the callbacks of :mod:`rnnkit.training.callbacks`. The best weights are also
kept in memory (``best_state``). AdamW, the schedule and clipping: :mod:`rnnkit.training.optim`.
Checkpoints are written atomically and hold everything needed to resume exactly (weights,
optimiser, schedule, every RNG state, step, data position, carried state). Ctrl-C finishes the
current step, writes ``last.pt`` and raises ``KeyboardInterrupt``; a second Ctrl-C stops at once
without writing (a write it cuts short leaves the previous file whole). Weights that are not
finite are never written (an ``RnnkitError``), and ``fit`` holds ``OUT/.lock`` so that a second
run into the same directory refuses to start (:mod:`rnnkit.training.lock`).

Precision (:mod:`rnnkit.training.devices`): ``"bf16"`` runs ``loss_fn`` and ``eval_fn`` under
``torch.autocast`` to bfloat16; ``"16-mixed"`` (CUDA only) to float16, with a
``torch.amp.GradScaler`` whose state is in the checkpoint. Weights and optimiser stay float32.
With the scaler, a step whose loss is finite but whose gradients overflow at a loss scale >= 1 is
skipped without counting towards ``max_nonfinite`` (the scaler lowers the scale).

Under ``torchrun`` (several processes) the Trainer trains data-parallel with DDP, as
:mod:`rnnkit.training.distributed` describes: ``batch_size`` is the global batch and the batch source
needs ``shard(rank, world)``; rank 0 alone writes files, logs and prints, and evaluates.

Usage (a classifier; the language model does the same with ``TBPTTBatches``)::

    from rnnkit.training import ShuffledBatches, StepOutput, TrainConfig, Trainer, seed_everything

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
    print(result.best_metric_name, result.best_metric, result.stop_reason)

Resuming: rebuild the model and the task's state from the checkpoint (``load_checkpoint`` from
:mod:`rnnkit.training.checkpoint`), build the Trainer with the checkpoint's ``train["config"]`` (as a
:class:`TrainConfig` via :meth:`TrainConfig.from_dict`) and call ``fit(resume=checkpoint)``.
"""

from __future__ import annotations

import dataclasses
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from rnnkit.data.batching import BatchSource
from rnnkit.training import distributed
from rnnkit.training.callbacks import EVENTS, Callback, ProgressBar, policies
from rnnkit.training.context import RunContext
from rnnkit.training.devices import autocast, to_device
from rnnkit.training.optim import build_optimizer, clip_gradients, learning_rate
from rnnkit.training.settings import BestMetric, StepOutput, TrainConfig, TrainResult
from rnnkit.training.state import Checkpointing

__all__ = ["Trainer"]

LossFn = Callable[[nn.Module, Any], "torch.Tensor | StepOutput"]
CallbackFn = Callable[[Any, str, dict[str, Any]], None]


class Trainer(Checkpointing):
    """Train any model with any batch source and loss (see the module docstring)."""

    def __init__(
        self,
        model: nn.Module,
        run: RunContext | TrainConfig,
        train_data: BatchSource,
        loss_fn: LossFn,
        *,
        eval_fn: Callable[[nn.Module], Mapping[str, float]] | None = None,
        task: str = "custom",
        model_config: Mapping[str, Any] | Any | None = None,
        task_state: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
        best: BestMetric | None = None,
        callbacks: Sequence[CallbackFn] = (),
        progress: ProgressBar | None = None,
        log: Callable[[str], None] | None = None,
        validate_first: bool = False,
    ) -> None:
        self.context = run if isinstance(run, RunContext) else RunContext(run, log=log)
        self.config = config = self.context.settings
        self.dist, self.is_main = self.context.dist, self.context.is_main
        self.device = self.context.device
        self._log = log if log is not None else self.context.log
        self.best = best or BestMetric()  # the validation metric that picks best.pt
        # float16 gradients underflow without loss scaling; bfloat16 has float32's range
        self.scaler = torch.amp.GradScaler("cuda") if config.precision == "16-mixed" else None
        self.model = model.to(self.device)
        self.train_data, self.loss_fn, self.eval_fn = train_data, loss_fn, eval_fn
        self.validate_first = validate_first  # also validate a new run's step 0
        self.task = task
        # read at each save: validation may fit a setting (the panel forecaster's spread)
        self._model_config = model_config
        self.task_state = task_state
        first, last = policies(progress)
        # The guard first (a step that ends the run reaches no logger), then the loggers (a
        # user's callback sees their files updated), the user's, then checkpoints and progress.
        self.callbacks: list[CallbackFn] = [*first, *self.context.loggers, *callbacks, *last]
        self.optimizer = build_optimizer(model, config)
        self._ddp_step: nn.Module | None = None  # loss_fn(model, batch) under DDP, several ranks
        if self.dist is not None:
            distributed.shard_source(train_data, self.dist)
            self._ddp_step = distributed.wrap(self.model, loss_fn, self.dist)
            if not self.is_main:  # same weights, but dropout masks of its own
                torch.manual_seed(distributed.rank_seed(config.seed, self.dist.rank))
        self.step, self.elapsed_before = 0, 0.0  # elapsed_before: seconds of earlier runs
        self.last_eval_step, self.val_metrics = -1, None
        self.skipped_steps, self.smoothed_loss = 0, None
        self.improved, self.stop_reason = False, None  # of the last evaluation; of a callback
        self.best_state: dict[str, torch.Tensor] | None = None  # the best weights, in memory
        self.best_path = self.last_path = None  # what this fit() wrote
        self.bar: Any = None  # the progress bar while one is shown
        self._stop_requested = self._interrupt_saved = False
        self._start_time = time.perf_counter()

    # ------------------------------------------------------------------ public helpers
    def log(self, message: str) -> None:
        """Print a line for the user (above the progress bar), or hand it to ``log``."""
        if not self.is_main:  # one voice: rank 0's
            return
        if self._log is not None:
            self._log(message)
        elif self.bar is not None:
            self.bar.write(message, file=sys.stderr)
        else:
            print(message, file=sys.stderr, flush=True)

    def request_stop(self) -> None:
        """Stop after the current step as Ctrl-C does: write ``last.pt`` and raise KeyboardInterrupt."""
        self._stop_requested = True

    def stop(self, reason: str = "stopped") -> None:
        """End the run after the current step, as a limit does (a final evaluation and
        ``last.pt``); ``reason`` becomes the result's ``stop_reason``. For callbacks."""
        self.stop_reason = reason

    @property
    def model_config(self) -> dict[str, Any]:
        """The model's config as a dict, as it is now (what a checkpoint saved now holds)."""
        config = self._model_config
        if dataclasses.is_dataclass(config) and not isinstance(config, type):
            return dataclasses.asdict(config)
        return dict(config or {})

    @property
    def elapsed(self) -> float:
        """Seconds of training so far, including earlier runs this one resumed from."""
        return self.elapsed_before + (time.perf_counter() - self._start_time)

    def lr_at(self, step: int, elapsed: float) -> float:
        """Learning rate of step ``step`` (0-based) at ``elapsed`` seconds: warmup, then cosine."""
        return learning_rate(self.config, step, elapsed)

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
        if self.best.name not in metrics:
            raise ValueError(f"eval_fn must return a dict with a {self.best.name!r} entry")
        return metrics

    # ------------------------------------------------------------------ training
    def fit(self, resume: Mapping[str, Any] | None = None) -> TrainResult:
        """Train until ``max_steps``, ``max_minutes``, early stopping or :meth:`stop`; see the
        module docstring. ``out_dir`` is locked meanwhile (``OUT/.lock``): a second run into it
        is an ``RnnkitError``."""
        with self.context.locked(note=self.log):
            if resume is not None:
                self.load_state_dict(resume)
            previous_handler = self._install_sigint()
            try:
                return self._fit(resume is not None)
            finally:
                if previous_handler is not None:
                    signal.signal(signal.SIGINT, previous_handler)

    def _fit(self, resumed: bool) -> TrainResult:
        self._stop_requested = self._interrupt_saved = False
        self.stop_reason, self.best_path, self.last_path = None, None, None
        self._start_time = time.perf_counter()
        self._items, self._train_seconds = 0, 0.0
        self.model.train()
        reason = "error"  # what "end" reports if an exception ends the run
        try:
            self._emit("start", {"step": self.step, "resumed": resumed})
            if self.validate_first and self.eval_fn is not None and self.step == 0:
                self._validate()  # the untrained model may be the best (a fitted baseline)
            reason = self._loop()
            if self.eval_fn is not None and self.last_eval_step != self.step:
                self._validate()
            self._emit("finish", {"step": self.step, "stop_reason": reason})
        except KeyboardInterrupt:
            reason = "interrupted"
            if not self._interrupt_saved:
                self._note_unsaved_interrupt()
            raise
        finally:
            self._emit("end", {"step": self.step, "stop_reason": reason})
        return self._result(reason, resumed)

    def _loop(self) -> str:
        """Step and evaluate until a limit, a callback's :meth:`stop` or Ctrl-C; the reason."""
        cfg = self.config
        while True:
            elapsed, stop = self.elapsed, self._stop_requested
            if self.dist is not None:  # one clock and one stop for every rank (a sync point)
                elapsed, stop = distributed.agree(self.dist, elapsed, stop)
            if cfg.max_steps is not None and self.step >= cfg.max_steps:
                return "max_steps"
            if cfg.max_minutes is not None and elapsed >= cfg.max_minutes * 60:
                return "max_minutes"
            if stop:  # Ctrl-C or request_stop() (on any rank): between two whole steps
                self._save_interrupted()
                raise KeyboardInterrupt
            start = time.perf_counter()
            record = self._train_step(None if self.dist is None else elapsed)
            self._train_seconds += time.perf_counter() - start
            self._items += record.get("items") or 0
            self._emit("step", record)
            if self.eval_fn is not None and self.step % cfg.eval_every == 0:
                self._validate()
            self._emit("step_end", {"step": self.step})
            if self.stop_reason is not None:
                return self.stop_reason

    def _train_step(self, elapsed: float | None = None) -> dict[str, Any]:
        lr = self.lr_at(self.step, self.elapsed if elapsed is None else elapsed)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        batch = to_device(self.train_data.next_batch(), self.device)
        with autocast(self.device, self.config.precision):  # forward and loss; backward outside
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
        grad_norm, scale = float("nan"), None  # scale: the loss scale of a 16-mixed step
        if math.isfinite(loss_value):
            grad_norm, scale = self._backward(loss)
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
        if math.isfinite(loss_value) and math.isfinite(grad_norm):
            beta = 0.9 if self.smoothed_loss is not None else 0.0
            self.smoothed_loss = beta * (self.smoothed_loss or 0.0) + (1 - beta) * loss_value
        else:  # the NonFiniteGuard callback says so, and counts
            self.skipped_steps += 1
            record["skipped"] = True
        return record

    def _backward(self, loss: torch.Tensor) -> tuple[float, float | None]:
        """Backward, clipping, and the optimiser step when the gradients are finite; returns the
        gradient norm before clipping and the loss scale (16-mixed) or ``None``."""
        scale = None
        if self.scaler is None:
            loss.backward()
        else:
            scale = self.scaler.get_scale()
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)  # the norm, clipping, callbacks: true gradients
        grad_norm = clip_gradients(self.model, self.config)
        # Gradients are ready and not yet applied or zeroed: histograms read them here.
        self._emit("backward", {"step": self.step + 1, "grad_norm": grad_norm})
        finite = math.isfinite(grad_norm)
        if self.scaler is not None:
            if finite:
                self.scaler.step(self.optimizer)
            self.scaler.update()  # after an overflow, a lower scale
        elif finite:
            self.optimizer.step()
        return grad_norm, scale

    def _validate(self) -> None:
        """Evaluate, track the best of the selection metric, say so, and emit ``eval``."""
        metrics = self.evaluate()
        self.val_metrics, self.last_eval_step = metrics, self.step
        self.improved = self.best.update(metrics[self.best.name], self.step)
        record = {"step": self.step, "event": "eval", "time": round(self.elapsed, 3)}
        record.update({f"val_{k}": v for k, v in metrics.items()})
        shown = " ".join(f"{k} {v:.4f}" for k, v in metrics.items())
        mark = f" (best {self.best.name})" if self.improved else ""
        self.log(f"step {self.step}: validation {shown}{mark}")
        self._emit("eval", record)

    def _result(self, reason: str, resumed: bool) -> TrainResult:
        best_path, out_dir = self.best_path, self.context.out_dir if self.is_main else None
        # a resumed run's best may predate this session; a new run's never does (a best.pt
        # there belongs to an earlier run, perhaps of another model)
        best_file = None if out_dir is None else out_dir / "best.pt"
        if best_path is None and resumed and best_file is not None and best_file.is_file():
            best_path = str(best_file)
        return TrainResult(
            step=self.step,
            stop_reason=reason,
            elapsed=self.elapsed,
            train_loss=self.smoothed_loss,
            best_metric=self.best.value,
            val_metrics=self.val_metrics,
            items_per_second=self._items / max(self._train_seconds, 1e-9),
            skipped_steps=self.skipped_steps,
            best_path=best_path,
            last_path=self.last_path,
            train_seconds=self._train_seconds,
            best_metric_name=self.best.name,
            best_metric_mode=self.best.mode,
            best_step=self.best.step,
        )

    # ------------------------------------------------------------------ plumbing
    def _emit(self, event: str, info: dict[str, Any]) -> None:
        """Hand ``event`` to every callback; the hooks beyond :data:`EVENTS` (``step_end``,
        ``finish``) go to :class:`Callback` objects only."""
        for callback in self.callbacks:
            if event in EVENTS or isinstance(callback, Callback):
                callback(self, event, info)

    def _install_sigint(self) -> Any:
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
