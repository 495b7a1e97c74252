"""The task contract and the registry of tasks.

A task (:class:`Task`) is data plus knowledge: its typed config (a :class:`~rnnkit.config.Config`
with three sections, ``data``, ``model`` and ``train``), how to read its data and build the model
and loss from that config (:meth:`Task.setup`), how to rebuild its model from a checkpoint
(:meth:`Task.restore`), one scoring path (:meth:`Task.score`: validation during training, the
final report and ``evaluate`` all call it), and how to predict on its file formats and on Python
objects. What users look at and ship are optional capabilities (:mod:`.capabilities`).
:data:`TASKS` maps a name to its task; a task module
registers itself with :func:`register`, and everything that iterates the registry (the ``rnnkit``
command, the tests) picks it up.

The runner that trains any task is :mod:`rnnkit.tasks.run`.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.config import Config
from rnnkit.errors import RnnkitError
from rnnkit.metrics.report import Report
from rnnkit.tasks.capabilities import ExportSpec, View, exportable  # noqa: F401 - View for the tasks

__all__ = [
    "TASKS",
    "Example",
    "Report",
    "Scores",
    "Setup",
    "Task",
    "TrainedModel",
    "get_task",
    "register",
]

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    """Progress and notes go to standard error, above a progress bar if one is shown."""
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)


# --------------------------------------------------------------------------- the contract
@dataclass
class TrainedModel:
    """A task's model with everything needed to use it: its config and the task's state
    (vocabularies, scalers, baselines...), e.g. from :func:`load` or :func:`train`."""

    task: str
    model: nn.Module = field(repr=False)
    config: Any = field(repr=False)
    state: Any = field(repr=False)
    path: str | None = None  # the checkpoint file it came from

    @property
    def device(self) -> torch.device:
        return next(iter(self.model.parameters())).device

    def export_spec(self) -> ExportSpec:
        """What :func:`rnnkit.export.export` writes of this model: its task's ``export_spec``
        (an ``RnnkitError`` for a task that cannot export)."""
        return exportable(get_task(self.task)).export_spec(self)


@dataclass
class Scores:
    """What :meth:`Task.score` returns for one data set: the model's ``metrics`` by name (what
    validation during training logs as ``val_<name>`` and selects on), and the ``report`` that
    prints the model's figures beside the baselines (``None`` when scored without baselines)."""

    metrics: dict[str, float]
    report: Report | None = None


@dataclass
class Setup:
    """What :meth:`Task.setup` hands the runner.

    ``state`` is the task's state object (kept in :attr:`TrainedModel.state`) and ``saved`` its
    plain-data form for checkpoints. ``eval_fn`` returns validation metrics including ``select``
    (``None`` without validation data); ``report`` gives the final report(s) of a trained model
    (:meth:`Task.scored_setup` makes both from :meth:`Task.score`).
    """

    model: nn.Module
    batches: Any
    loss_fn: Callable[[nn.Module, Any], Any]
    eval_fn: Callable[[nn.Module], dict[str, float]] | None
    state: Any
    saved: dict[str, Any]
    report: Callable[[TrainedModel], list[Report]]
    select: str = "loss"
    maximize: bool = False
    progress_fn: Callable[[float], dict[str, str]] | None = None
    unit: str | None = None  # what the throughput counts, when not the task's unit (tokens...)
    # validate the untrained model of a new run too (step 0), so that best.pt keeps a model that
    # starts as a fitted baseline (the hybrid classifier) when training does not improve on it
    validate_first: bool = False


@dataclass
class Example:
    """Tiny data and settings of a task that train in seconds (see :meth:`Task.example`)."""

    settings: dict[str, Any]  # settings to train with (data files, a small model, a few steps)
    evaluate: str | None  # a file to evaluate on (None: the task evaluates without one)
    predict: str | None  # an input file for predict (None: the task has no predict)
    bad: dict[str, Any]  # settings naming a malformed data file


class Task:
    """Base of the tasks: subclasses set the class attributes and the methods that raise."""

    name: ClassVar[str]
    config_class: ClassVar[type[Config]]
    help: ClassVar[str]  # one line
    description: ClassVar[str] = ""  # a paragraph for ``rnnkit train NAME --help``
    examples: ClassVar[str] = ""
    unit: ClassVar[str] = "example"  # what the throughput counts
    needs_data: ClassVar[bool] = True  # evaluate needs a data file
    predict_hint: ClassVar[str] = ""  # what ``predict`` reads, or why it is not supported

    def defaults(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The default config as a dict, given the settings the user chose (a task may choose its
        defaults by one of them, as the synthetic tasks do by ``data.task``)."""
        return self.config_class().to_dict()

    def setup(self, config: Any, saved: Mapping[str, Any] | None, log: Log) -> Setup:
        """Read the data and build the model; ``saved`` is the checkpoint's task state on resume."""
        raise NotImplementedError

    # What restore builds: the model class, its config class, the task state's class.
    model_class: ClassVar[type[nn.Module]]
    model_config_class: ClassVar[type]
    state_class: ClassVar[type]

    def sizes(self, config: Any, state: Any) -> dict[str, Any]:
        """The settings of the model's config that come from the data (vocabulary sizes...)."""
        return {}

    def restore(
        self, config: Any, saved: Mapping[str, Any], model_config: Mapping[str, Any] | None
    ) -> tuple[nn.Module, Any]:
        """The untrained model and the task state, from a checkpoint's task state ``saved`` and
        ``model_config`` (``None``: a new model from the config's model options)."""
        state = self.state_class.from_dict(saved)
        if model_config is not None:
            return self.model_class(self.model_config_class.from_dict(dict(model_config))), state
        names = {f.name for f in dataclasses.fields(self.model_config_class)}
        options = {k: v for k, v in config.model.to_dict().items() if k in names}
        settings = self.model_config_class(**options, **self.sizes(config, state))
        return self.model_class(settings), state

    def score(self, trained: TrainedModel, data: Any, *, baselines=True, batch_size=None) -> Scores:
        """The one scoring path: the scores of ``trained`` on ``data``, one data set in the form
        the task prepares (what :meth:`setup` holds for validation and the final report, what
        :meth:`evaluate` reads). Without ``baselines`` (validation, every ``eval_every`` steps)
        only the metrics are computed."""
        raise NotImplementedError

    def scored_setup(
        self, config, model, batches, loss_fn, state, saved, val, reported, **options
    ) -> Setup:
        """A :class:`Setup` whose ``eval_fn`` scores ``val`` without baselines (``None``: no
        validation) and whose ``report`` scores each data set of ``reported``, both by
        :meth:`score`; ``options``: ``select``, ``maximize``, ``progress_fn``, ``unit``,
        ``validate_first``."""

        def eval_fn(model: nn.Module) -> dict[str, float]:
            trained = TrainedModel(self.name, model, config, state)
            return self.score(trained, val, baselines=False).metrics

        def report(trained: TrainedModel) -> list[Report]:
            return [self.score(trained, data).report for data in reported]

        validate = None if val is None else eval_fn
        return Setup(model, batches, loss_fn, validate, state, saved, report, **options)

    def evaluate(
        self, trained: TrainedModel, data: Any = None, *, batch_size: int | None = None
    ) -> list[Report]:
        """:meth:`score` beside baselines on ``data`` (a file of the task's format, or objects)."""
        raise NotImplementedError

    def example(self, folder: Path) -> Example:
        """Write tiny data of this task into ``folder`` and return settings that train on it in
        seconds: what the contract tests run for every registered task."""
        raise NotImplementedError

    def predict(self, trained: TrainedModel, inputs: Any) -> list[dict[str, Any]]:
        """One record per input (a file path, ``"-"`` for standard input, or Python objects)."""
        raise RnnkitError(f"predict does not support {self.name!r} models ({self.predict_hint})")


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    """Add ``task`` to :data:`TASKS` under its name (replacing one of the same name)."""
    TASKS[task.name] = task
    return task


def get_task(name: str | Task) -> Task:
    if isinstance(name, Task):
        return name
    if name not in TASKS:
        raise RnnkitError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}")
    return TASKS[name]


# --------------------------------------------------------------------------- configs
def merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` updated by ``extra``, tables merged key by key."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out
