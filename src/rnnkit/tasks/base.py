"""The task contract and the registry of tasks.

A task (:class:`Task`) is data plus knowledge: its typed config (a :class:`~rnnkit.config.Config`
with three sections, ``data``, ``model`` and ``train``), how to read its data and build the model,
loss and validation from that config (:meth:`Task.setup`), how to rebuild its model from a
checkpoint (:meth:`Task.restore`), how to evaluate and predict on its file formats and on Python
objects, and what pictures of its model ``rnnkit plot`` draws (:meth:`Task.views`: each a
:class:`View` of plain numbers). :data:`TASKS` maps a name to its task; a task module
registers itself with :func:`register`, and everything that iterates the registry (the ``rnnkit``
command, the tests) picks it up.

The runner that trains any task is :mod:`rnnkit.tasks.run`.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit.config import Config
from rnnkit.errors import RnnkitError
from rnnkit.inspection import character_view
from rnnkit.metrics.report import Report

__all__ = [
    "TASKS",
    "Example",
    "ExportSpec",
    "Report",
    "Setup",
    "Task",
    "TrainedModel",
    "View",
    "get_task",
    "register",
]

Log = Callable[[str], None]


def stderr_log(message: str) -> None:
    """Progress and notes go to standard error, above a progress bar if one is shown."""
    from tqdm.auto import tqdm

    tqdm.write(message, file=sys.stderr)


def short(error: BaseException, limit: int = 300) -> str:
    """An exception's message on one line, at most ``limit`` characters."""
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= limit else text[: limit - 3].rsplit(" ", 1)[0] + "..."


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


@dataclass
class Setup:
    """What :meth:`Task.setup` hands the runner.

    ``state`` is the task's state object (kept in :attr:`TrainedModel.state`) and ``saved`` its
    plain-data form for checkpoints. ``eval_fn`` returns validation metrics including ``select``
    (``None`` without validation data); ``report`` gives the final report(s) of a trained model.
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


@dataclass
class Example:
    """Tiny data and settings of a task that train in seconds (see :meth:`Task.example`)."""

    settings: dict[str, Any]  # settings to train with (data files, a small model, a few steps)
    evaluate: str | None  # a file to evaluate on (None: the task evaluates without one)
    predict: str | None  # an input file for predict (None: the task has no predict)
    bad: dict[str, Any]  # settings naming a malformed data file


@dataclass
class ExportSpec:
    """What :meth:`Task.export_spec` hands ``rnnkit export`` (see :mod:`rnnkit.tasks.exporting`).

    ``module`` is what is traced: a copy of the task's model in evaluation mode, its layers on the
    native backend where they have a kernel, taking and returning tensors only. ``make_inputs(N,
    L)`` gives valid example inputs of batch size N and sequence length L (``length``, if set, is
    the one length the export takes: a language model's step on a layer without a native kernel).
    ``dynamic_axes`` maps an input or output name to ``{dim: symbol}`` of its dimensions that vary
    (``"N"``, ``"L"``...); ``metadata`` holds plain strings stored in the file (vocabularies...).
    """

    module: nn.Module
    make_inputs: Callable[[int, int], tuple[torch.Tensor, ...]]
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    metadata: dict[str, str] = field(default_factory=dict)
    length: int | None = None
    note: str = ""  # a line for the user: what the file computes, what runs outside it


VIEW_KINDS = ("series", "matrix", "bars")


@dataclass
class View:
    """One picture of a trained model that a task offers (:meth:`Task.views`), as plain numbers:
    :mod:`rnnkit.plots` draws it; the tasks import no plotting library.

    ``kind`` says what ``x`` and ``values`` hold:

    - ``"series"``: lines over a shared x axis; ``x`` the x values (numbers, or dates as strings),
      ``values`` maps each line's label to its ``len(x)`` y values (``nan`` for a gap);
    - ``"bars"``: grouped bars; ``x`` the bar labels, ``values`` maps each group's label to its
      ``len(x)`` heights;
    - ``"matrix"``: a table of counts or scores; ``x`` the column labels, ``rows`` the row labels,
      ``values`` the rows (``len(rows)`` lists of ``len(x)`` numbers).

    ``levels`` maps a label to a y value drawn as a horizontal reference line (series and bars:
    a baseline, a goal); ``ylog`` asks for a logarithmic y axis.
    """

    kind: str
    title: str
    x: list[Any]
    values: Any
    xlabel: str = ""
    ylabel: str = ""
    rows: list[str] | None = None
    levels: dict[str, float] = field(default_factory=dict)
    ylog: bool = False

    def __post_init__(self) -> None:
        if self.kind not in VIEW_KINDS:
            raise ValueError(f"kind: expected one of {', '.join(VIEW_KINDS)}, got {self.kind!r}")
        self.x = list(self.x)
        if self.kind == "matrix":
            rows = [list(row) for row in self.values]
            if self.rows is None or len(rows) != len(self.rows):
                raise ValueError(
                    f"values: expected one row per row label ({len(self.rows or ())}), "
                    f"got {len(rows)}"
                )
            self.values = rows
            lines = rows
        else:
            self.values = {str(k): list(v) for k, v in dict(self.values).items()}
            lines = list(self.values.values())
        for line in lines:
            if len(line) != len(self.x):
                raise ValueError(f"values: expected {len(self.x)} numbers a line, got {len(line)}")


class Task:
    """Base of the tasks: subclasses set the class attributes and the methods that raise."""

    name: ClassVar[str]
    config_class: ClassVar[type[Config]]
    help: ClassVar[str]  # one line
    description: ClassVar[str] = ""  # a paragraph for ``rnnkit train NAME --help``
    examples: ClassVar[str] = ""
    unit: ClassVar[str] = "example"  # what the throughput counts
    needs_data: ClassVar[bool] = True  # evaluate needs a data file
    view_data: ClassVar[bool] = False  # views read a data file when given one (see views)
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

    def evaluate(
        self, trained: TrainedModel, data: Any = None, *, batch_size: int | None = None
    ) -> list[Report]:
        """Scores on ``data`` (a file of the task's format, or Python objects) beside baselines."""
        raise NotImplementedError

    def example(self, folder: Path) -> Example:
        """Write tiny data of this task into ``folder`` and return settings that train on it in
        seconds: what the contract tests run for every registered task."""
        raise NotImplementedError

    def views(
        self, trained: TrainedModel, data: Any = None, *, evals: Sequence[Mapping[str, Any]] = ()
    ) -> list[View]:
        """Pictures of the trained model for ``rnnkit plot`` (default: none beyond the training
        curves). ``data``: a file of the task's format (tasks with :attr:`view_data`; ``None``:
        the run's own validation or test data); ``evals``: the run's evaluation records from its
        metrics log (``{"step", "val_loss", "val_<metric>"...}``), oldest first."""
        return []

    def language_model(self, trained: TrainedModel) -> tuple[nn.Module, Any] | None:
        """``(LanguageModel, character Vocabulary)`` when the model writes text, for sampling."""
        return None

    def text_sample(self, trained: TrainedModel) -> str | None:
        """A short sample of the model's writing, for the loggers (TensorBoard shows it at each
        evaluation); ``None`` when the model writes no text. It must leave the global RNG states
        as they are (a seeded generator of its own), so that logging does not change training."""
        return None

    def export_spec(self, trained: TrainedModel) -> ExportSpec:
        """What ``rnnkit export`` traces of the model (see :class:`ExportSpec`); a model that
        cannot be exported is an ``RnnkitError`` saying which part and why."""
        raise RnnkitError(f"exporting {self.name!r} models is not supported")

    def predict(self, trained: TrainedModel, inputs: Any) -> list[dict[str, Any]]:
        """One record per input (a file path, ``"-"`` for standard input, or Python objects)."""
        raise RnnkitError(f"predict does not support {self.name!r} models ({self.predict_hint})")

    # -- rnnkit inspect: the views of a trained model besides gradient flow (every task has that)

    def text_view(self, trained: TrainedModel) -> str | None:
        """How :meth:`inspect` reads a given text: ``"chars"`` (a language model reads it
        character by character), ``"lines"`` (one example a line), or ``None`` (no view of a
        text)."""
        return "chars" if self.language_model(trained) is not None else None

    def inspection_text(self, trained: TrainedModel) -> str:
        """The text a language model is inspected on when none is given."""
        raise RnnkitError(f"inspecting a {self.name!r} model needs a text to read")

    def inspect(
        self, trained: TrainedModel, text: str | None = None, *, chars: int = 2000
    ) -> dict[str, Any]:
        """The task's views of its model for ``rnnkit inspect`` (see :mod:`rnnkit.inspection`), by
        name: ``"characters"`` for a language model (:func:`~rnnkit.inspection.character_view`
        over the first ``chars`` characters of ``text``, else of :meth:`inspection_text`),
        ``"tokens"`` (a classifier's token contributions), ``"paths"`` (hidden-state paths), or
        none. A ``text`` for a model without a view of a text is an ``RnnkitError``."""
        found = self.language_model(trained)
        if found is None:
            if text is not None:
                raise RnnkitError(f"a {self.name!r} model has no view of a text")
            return {}
        model, vocab = found
        shown = (self.inspection_text(trained) if text is None else text)[:chars]
        if not shown:
            raise RnnkitError("the text to inspect is empty")
        return {"characters": character_view(model, vocab, shown, warn=stderr_log)}


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
