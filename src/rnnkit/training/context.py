"""The run context: what one run resolves once, and everything downstream receives.

One :class:`RunContext` is made per ``train`` (by :func:`rnnkit.tasks.train`, or by a
:class:`~rnnkit.training.Trainer` given only a :class:`TrainConfig`). Making it resolves, once:

- the run's settings (a :class:`TrainConfig`, already validated: nothing checks them again);
- the process group under ``torchrun`` (:func:`rnnkit.training.distributed.init`) and whether
  this process is the one that writes and prints (rank 0);
- the device, checked against this machine and the precision (:func:`run_device`), and the
  number of CPU threads (``settings.threads``);
- the metric loggers of ``settings.logger`` (rank 0 only; a missing optional package is an
  error now, before any data is read).

``with context.locked():`` then creates the output directory and holds ``OUT/.lock`` (see
:mod:`rnnkit.training.lock`) for the block; nested use holds it once, so the runner locks the
directory for the whole run and the Trainer's ``fit`` inside it does nothing more.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import torch

from rnnkit.training import distributed
from rnnkit.training.devices import run_device
from rnnkit.training.lock import lock_out_dir
from rnnkit.training.loggers import Logger, build_loggers
from rnnkit.training.settings import TrainConfig

__all__ = ["RunContext"]


class RunContext:
    """The resolved settings, device, process group, output directory and loggers of one run.

    ``log`` receives the run's messages (default: standard error, above a progress bar);
    ``hparams`` are the run's settings as nested tables for TensorBoard (default: ``settings``
    under ``train``). ``text_sample(model) -> str | None`` may be set once the model exists: the
    TensorBoard logger writes it at each evaluation.
    """

    def __init__(
        self,
        settings: TrainConfig,
        *,
        log: Callable[[str], None] | None = None,
        hparams: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        if settings.threads is not None:  # process-wide, as torch.set_num_threads is
            torch.set_num_threads(settings.threads)
        # Under torchrun: this process's rank and device (None in a single process); rank 0 alone
        # writes files and prints (see rnnkit.training.distributed).
        self.dist = distributed.init(settings.device)
        self.is_main = self.dist is None or self.dist.is_main
        self.text_sample: Callable[[Any], str | None] | None = None
        self.loggers: list[Logger] = (  # first: a missing optional package is the error to report
            build_loggers(settings.logger, text_sample=self._sample, hparams=hparams)
            if self.is_main
            else []
        )
        self.device = run_device(settings) if self.dist is None else self.dist.device
        self.out_dir = None if settings.out_dir is None else Path(settings.out_dir)
        self.log = log
        self._locked = False

    def _sample(self, model: Any) -> str | None:
        return None if self.text_sample is None else self.text_sample(model)

    @contextlib.contextmanager
    def locked(self, note: Callable[[str], None] | None = None) -> Iterator[RunContext]:
        """Create the output directory and hold its lock for the block (once when nested);
        ``note`` hears of a stale lock taken over."""
        if self._locked:
            yield self
            return
        with lock_out_dir(self.out_dir, note=note or self.log):
            self._locked = True
            try:
                yield self
            finally:
                self._locked = False
