"""The task contract, the registry of tasks, and the one runner that trains any of them.

A task (:class:`Task`) is data plus knowledge: its typed config (a :class:`~rnnkit.config.Config`
with three sections, ``data``, ``model`` and ``train``), how to read its data and build the model,
loss and validation from that config (:meth:`Task.setup`), how to rebuild its model from a
checkpoint (:meth:`Task.restore`), how to evaluate and predict on its file formats and on Python
objects, and what pictures of its model ``rnnkit plot`` draws (:meth:`Task.views`: each a
:class:`View` of plain numbers). :data:`TASKS` maps a name to its task; a task module
registers itself with :func:`register`, and everything that iterates the registry (the ``rnnkit``
command, the tests) picks it up.

:func:`train` does, once for every task: resolving the config (defaults, then a config file, then
explicit settings; on resume the checkpoint's saved config), seeding, writing ``OUT/config.json``,
the :class:`~rnnkit.training.Trainer`, and the final report. The rule for which weights are
reported: where the task has validation data, the weights of the best validation score
(``best.pt``, or a copy in memory without an output directory); otherwise the last weights. The
report says which.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn

from rnnkit import distributed
from rnnkit._lock import lock_out_dir
from rnnkit.checkpoint import atomic_write, load_checkpoint
from rnnkit.config import Config, ConfigError, fields_of
from rnnkit.errors import RnnkitError
from rnnkit.inspection import character_view
from rnnkit.loggers import check_loggers
from rnnkit.metrics.report import Report
from rnnkit.training import (
    TrainConfig,
    Trainer,
    TrainResult,
    resolve_device,
    run_device,
    seed_everything,
)

__all__ = [
    "TASKS",
    "Example",
    "ExportSpec",
    "Report",
    "RunResult",
    "Setup",
    "Task",
    "TrainedModel",
    "View",
    "evaluate",
    "get_task",
    "load",
    "load_plugins",
    "predict",
    "register",
    "resolve_config",
    "train",
    "views",
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


def load_plugins() -> None:
    """Import the task modules that installed packages name in the entry-point group
    ``rnnkit.tasks`` (each registers its task); one that fails to import is skipped with a
    warning, so a broken plugin cannot break rnnkit."""
    import warnings
    from importlib.metadata import entry_points

    for entry in entry_points(group="rnnkit.tasks"):
        try:
            entry.load()
        except Exception as error:  # noqa: BLE001 - any failure of foreign code
            warnings.warn(
                f"rnnkit: the task plugin {entry.name!r} failed to load: {error}", stacklevel=2
            )


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


def _resume_path(resume: Any, out_dir: str | None) -> Path:
    if resume is True:
        if out_dir is None:
            raise ConfigError("train.out_dir", "resuming needs the run's output directory")
        return Path(out_dir) / "last.pt"
    path = Path(resume)
    return path / "last.pt" if path.is_dir() else path


def _load_resume(task: Task, resume: Any, out_dir: str | None) -> dict[str, Any]:
    if isinstance(resume, Mapping):
        return dict(resume)
    path = _resume_path(resume, out_dir)
    if not path.exists():
        raise RnnkitError(f"no checkpoint to resume from at {path}")
    checkpoint = load_checkpoint(path, task=task.name)
    if not isinstance(checkpoint.get("train"), dict):
        raise RnnkitError(f"{path} holds no training state, so training cannot resume from it")
    return checkpoint


def resolve_config(
    task: str | Task, given: Mapping[str, Any] | None = None, *, resume: Any = None
) -> tuple[Config, dict[str, Any] | None]:
    """The full config of a run and the checkpoint it resumes from (``None`` for a new run).

    ``given`` holds the settings the user chose (a config file's table updated by command-line
    options). A new run starts from the task's defaults; a resumed run (``resume``: ``True`` for
    ``OUT/last.pt``, a file, a run directory or a loaded checkpoint) from the checkpoint's config,
    written into the checkpoint's directory. A time budget given without a step limit removes the
    default step limit.
    """
    task = get_task(task)
    given = dict(given or {})
    checkpoint = None
    if resume not in (None, False):
        train = given.get("train")
        out_dir = (train.get("out_dir") if isinstance(train, Mapping) else None) or task.defaults(
            given
        )["train"]["out_dir"]
        checkpoint = _load_resume(task, resume, out_dir)
        base = checkpoint.get("task_state", {}).get("config")
        if not isinstance(base, Mapping):
            raise RnnkitError(f"{checkpoint.get('path')} holds no task config")
        base = merge(base, {"train": {"out_dir": str(Path(checkpoint["path"]).parent)}})
    else:
        base = task.defaults(given)
    train = given.get("train", {})
    train = train if isinstance(train, Mapping) else {}  # not a table: from_dict says so below
    if checkpoint is None and "max_minutes" in train and "max_steps" not in train:
        given = merge(given, {"train": {"max_steps": None}})
    return task.config_class.from_dict(merge(base, given)), checkpoint


def _check_resumable(task: Task, config: Config, checkpoint: Mapping[str, Any]) -> None:
    """A resumed run keeps its model and data settings (data files may be given again)."""
    saved = task.config_class.from_dict(checkpoint["task_state"]["config"])
    for section in ("model", "data"):
        old, new = getattr(saved, section), getattr(config, section)
        for f, _ in fields_of(type(old)):
            if f.metadata.get("file") or getattr(old, f.name) == getattr(new, f.name):
                continue
            raise ConfigError(
                f"{section}.{f.name}",
                f"the checkpoint was trained with {getattr(old, f.name)!r}; a resumed run keeps it "
                f"(got {getattr(new, f.name)!r})",
            )


# --------------------------------------------------------------------------- the runner
@dataclass
class RunResult:
    """What :func:`train` returns."""

    task: str
    config: Any
    trained: TrainedModel
    train: TrainResult
    reports: list[Report]
    weights: str  # which weights the reports score, e.g. "best.pt (step 1,750)"
    start_step: int = 0  # the step a resumed run started from
    already_finished: bool = False  # a resumed run that had nothing left to train

    def summary(self) -> str:
        r = self.train
        if self.already_finished:
            return f"the run had already finished at step {r.step:,}; nothing was trained"
        done = f"trained {r.step:,} steps"
        if self.start_step:
            done = f"resumed at step {self.start_step:,} and trained to step {r.step:,}"
        speed = f"{r.items_per_second:,.0f} {get_task(self.task).unit}s/s"
        return f"{done} in {r.train_seconds:,.0f} s ({speed}); the reports score {self.weights}"


def train(
    task: str | Task,
    config: Config | Mapping[str, Any] | None = None,
    *,
    resume: Any = None,
    log: Log | None = None,
    callbacks: Sequence[Callable[[Trainer, str, dict[str, Any]], None]] = (),
) -> RunResult:
    """Train a task's model and report it on its validation (or test) data.

    ``config``: the task's config object, or a dict of the settings to change from the defaults
    (``{"data": {"train": "train.tsv"}, "train": {"max_steps": 500}}``), or ``None`` to resume
    with the saved config. ``resume``: ``True`` (``OUT/last.pt``), a checkpoint file or run
    directory, or a loaded checkpoint. ``log`` receives progress lines (default: standard error).
    ``callbacks`` are called after the loggers of ``config.train.logger`` with the Trainer's events
    (see :mod:`rnnkit.loggers`). The output directory is locked for the whole run (``OUT/.lock``,
    see :mod:`rnnkit._lock`): a second run into it refuses with an ``RnnkitError``.
    """
    task = get_task(task)
    config, checkpoint = _run_config(task, config, resume)
    with lock_out_dir(config.train.out_dir, note=log or stderr_log):
        return _train(task, config, resume=checkpoint, log=log, callbacks=callbacks)


def _train(
    task: Task,
    config: Config,
    *,
    resume: Mapping[str, Any] | None,
    log: Log | None,
    callbacks: Sequence[Callable[[Trainer, str, dict[str, Any]], None]],
) -> RunResult:
    """:func:`train` once the run's config is resolved and its output directory locked."""
    config, checkpoint = _run_config(task, config, resume)
    # Under torchrun: join the process group (idempotent); the other ranks than 0 stay silent.
    main = distributed.init(config.train.device) is None or distributed.is_main()
    say = (log or stderr_log) if main else (lambda message: None)
    check_loggers(config.train.logger)  # a missing optional package, before reading the data
    try:  # and a device this machine lacks
        run_device(config.train)
    except ConfigError as error:
        raise error.under("train") from None
    seed_everything(config.train.seed)
    setup = task.setup(config, None if checkpoint is None else checkpoint["task_state"], say)
    settings: TrainConfig = config.train
    trainer = Trainer(
        setup.model,
        settings,
        setup.batches,
        setup.loss_fn,
        eval_fn=setup.eval_fn,
        task=task.name,
        model_config=setup.model.config,
        task_state={"config": config.to_dict(), **setup.saved},
        progress_fn=setup.progress_fn,
        unit=task.unit,
        log=log,
        callbacks=callbacks,
        select=setup.select,
        maximize=setup.maximize,
        text_sample=lambda model: task.text_sample(
            TrainedModel(task.name, model, config, setup.state)
        ),
        hparams=config.to_dict(),
    )
    if settings.out_dir is not None and main:
        _write_config(Path(settings.out_dir), config)
        say(f"writing checkpoints and metrics to {settings.out_dir}")
    start = 0 if checkpoint is None else int(checkpoint["train"]["step"])
    finished = checkpoint is not None and _finished(settings, checkpoint["train"])
    result = trainer.fit(resume=checkpoint)
    weights, reports = "the last weights of a rank that does not report", []
    if main:  # rank 0 alone scores and reports
        weights = _best_weights(trainer, result)
    trained = TrainedModel(task.name, setup.model.eval(), config, setup.state, result.last_path)
    if main:
        with torch.no_grad():
            reports = setup.report(trained)
    return RunResult(task.name, config, trained, result, reports, weights, start, finished)


def _run_config(task: Task, config: Any, resume: Any) -> tuple[Any, dict[str, Any] | None]:
    """The checked config of a run and the checkpoint it resumes from (see :func:`train`)."""
    if config is None or isinstance(config, Mapping):
        config, checkpoint = resolve_config(task, config, resume=resume)
    else:
        checkpoint = None
        if resume not in (None, False):
            checkpoint = _load_resume(task, resume, config.train.out_dir)
    if not isinstance(config, task.config_class):
        raise TypeError(
            f"config: expected a {task.config_class.__name__}, got {type(config).__name__}"
        )
    if checkpoint is not None:
        _check_resumable(task, config, checkpoint)
    for key in config.missing():
        raise ConfigError(key, "required, but not set")
    return config, checkpoint


def _finished(settings: TrainConfig, state: Mapping[str, Any]) -> bool:
    if settings.max_steps is not None and int(state["step"]) >= settings.max_steps:
        return True
    budget = settings.max_minutes
    return budget is not None and float(state["elapsed"]) >= budget * 60


def _write_config(out_dir: Path, config: Config) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RnnkitError(f"cannot write to output directory {out_dir}: {error}") from error
    text = json.dumps(config.to_dict(), indent=2) + "\n"
    atomic_write(out_dir / "config.json", lambda file: file.write(text.encode("utf-8")))


def _best_weights(trainer: Trainer, result: TrainResult) -> str:
    """Load the weights the report scores into the model (see the module docstring)."""
    if result.best_path is not None:
        best = load_checkpoint(result.best_path)
        trainer.model.load_state_dict(best["model_state"])
        return f"best.pt (step {int(best['train']['step']):,})"
    if trainer.best_state is not None:
        trainer.model.load_state_dict(trainer.best_state)
        return f"the best validation weights (step {trainer.best_step:,})"
    return f"the last weights (step {result.step:,})"


# --------------------------------------------------------------------------- using a model
def load(
    checkpoint: str | Path | Mapping[str, Any], device: str | torch.device = "auto"
) -> TrainedModel:
    """A trained model from a checkpoint file, a run directory (best.pt, else last.pt) or a loaded
    checkpoint, on ``device``, in evaluation mode; its ``task`` picks the task. The checkpoint is
    read onto the CPU and the model then moved to ``device``, so it loads onto any device."""
    target = resolve_device(device)  # first: a device this machine lacks is the error to report
    if not isinstance(checkpoint, Mapping):
        checkpoint = load_checkpoint(checkpoint)
    where = checkpoint.get("path", "the checkpoint")
    name = checkpoint.get("task")
    if name not in TASKS:
        raise RnnkitError(
            f"{where} is for task {name!r}, which this rnnkit does not know "
            f"(known: {', '.join(TASKS)})"
        )
    task = TASKS[name]
    try:
        state = checkpoint["task_state"]
        config = task.config_class.from_dict(state["config"])
        model, task_state = task.restore(config, state, checkpoint["model_config"])
        model.load_state_dict(checkpoint["model_state"])
    except (KeyError, TypeError, ValueError, RuntimeError, RnnkitError) as error:
        raise RnnkitError(f"{where} is not a usable {name} checkpoint: {short(error)}") from error
    model.to(target).eval()
    return TrainedModel(name, model, config, task_state, checkpoint.get("path"))


def evaluate(
    trained: TrainedModel, data: Any = None, *, batch_size: int | None = None
) -> list[Report]:
    """Scores of a trained model on ``data`` beside the task's baselines."""
    task = get_task(trained.task)
    if batch_size is not None and batch_size < 1:
        raise ConfigError("batch_size", f"expected a value >= 1, got {batch_size}")
    if task.needs_data and data is None:
        raise RnnkitError(f"evaluating a {task.name!r} model needs data to evaluate on")
    if not task.needs_data and data is not None:
        raise RnnkitError(
            f"a {task.name!r} model is evaluated on a fresh draw of its own data, "
            f"not on given data (got {str(data)[:60]!r})"
        )
    with torch.no_grad():
        return task.evaluate(trained, data, batch_size=batch_size)


def views(
    trained: TrainedModel, data: Any = None, *, evals: Sequence[Mapping[str, Any]] = ()
) -> list[View]:
    """The task's pictures of a trained model (see :meth:`Task.views`), drawn by
    :mod:`rnnkit.plots`; ``data`` only for a task whose views read a data file."""
    task = get_task(trained.task)
    if data is not None and not task.view_data:
        raise RnnkitError(
            f"the plots of a {task.name!r} model read no data file (got {str(data)[:60]!r})"
        )
    with torch.no_grad():
        return task.views(trained, data, evals=evals)


def predict(trained: TrainedModel, inputs: Any) -> list[dict[str, Any]]:
    """Predictions of a trained model: one record per input (see the task's ``predict``)."""
    with torch.no_grad():
        return get_task(trained.task).predict(trained, inputs)
