"""The one runner that trains any task, and loads, evaluates and predicts with its models.

:func:`train` does, once for every task: resolving the config (defaults, then a config file, then
explicit settings; on resume the checkpoint's saved config), seeding, writing ``OUT/config.json``,
the :class:`~rnnkit.training.Trainer`, and the final report. The rule for which weights are
reported: where the task has validation data, the weights of the best validation score
(``best.pt``, or a copy in memory without an output directory); otherwise the last weights. The
report says which.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnkit.config import IN_MEMORY, Config, ConfigError, describe_data, fields_of
from rnnkit.data.tables import is_frame, predictions_frame
from rnnkit.errors import RnnkitError, short
from rnnkit.metrics.report import Report
from rnnkit.tasks.base import (
    TASKS,
    Log,
    Task,
    TrainedModel,
    View,
    get_task,
    merge,
    stderr_log,
)
from rnnkit.tasks.capabilities import HasViews, text_sample
from rnnkit.training.callbacks import Callback, ProgressBar
from rnnkit.training.checkpoint import atomic_write, load_checkpoint
from rnnkit.training.context import RunContext
from rnnkit.training.devices import resolve_device
from rnnkit.training.rng import seed_everything
from rnnkit.training.settings import BestMetric, TrainConfig, TrainResult
from rnnkit.training.trainer import Trainer

__all__ = ["RunResult", "evaluate", "load", "predict", "resolve_config", "train", "views"]


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
    train = given.get("train", {})
    train = train if isinstance(train, Mapping) else {}  # not a table: from_dict says so below
    checkpoint = None
    if resume not in (None, False):
        out_dir = train.get("out_dir") or task.defaults(given)["train"]["out_dir"]
        checkpoint = _load_resume(task, resume, out_dir)
        base = checkpoint.get("task_state", {}).get("config")
        if not isinstance(base, Mapping):
            raise RnnkitError(f"{checkpoint.get('path')} holds no task config")
        base = merge(base, {"train": {"out_dir": str(Path(checkpoint["path"]).parent)}})
    else:
        base = task.defaults(given)
    if checkpoint is None and "max_minutes" in train and "max_steps" not in train:
        given = merge(given, {"train": {"max_steps": None}})
    # older names of settings (in a checkpoint, a config file or a dict) become the current ones
    # before the tables are merged, so that a setting given again replaces the saved one
    base, given = task.config_class.current_names(base), task.config_class.current_names(given)
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
    unit: str = "item"  # what items_per_second counts (chars, tokens, windows...)

    def summary(self) -> str:
        r = self.train
        if self.already_finished:
            return f"the run had already finished at step {r.step:,}; nothing was trained"
        done = f"trained {r.step:,} steps"
        if self.start_step:
            done = f"resumed at step {self.start_step:,} and trained to step {r.step:,}"
        speed = f"{r.items_per_second:,.0f} {self.unit}s/s"
        return f"{done} in {r.train_seconds:,.0f} s ({speed}); the reports score {self.weights}"


def train(
    task: str | Task,
    config: Config | Mapping[str, Any] | None = None,
    *,
    resume: Any = None,
    log: Log | None = None,
    callbacks: Sequence[Callback | Callable[[Trainer, str, dict[str, Any]], None]] = (),
) -> RunResult:
    """Train a task's model and report it on its validation (or test) data.

    ``config``: the task's config object, or a dict of the settings to change from the defaults
    (``{"data": {"train": "train.tsv"}, "train": {"max_steps": 500}}``), or ``None`` to resume
    with the saved config. ``resume``: ``True`` (``OUT/last.pt``), a checkpoint file or run
    directory, or a loaded checkpoint. ``log`` receives progress lines (default: standard error).
    ``callbacks``: :class:`~rnnkit.training.Callback` objects or functions
    ``callback(trainer, event, info)``, called after the loggers of ``config.train.logger`` (see
    :mod:`rnnkit.training.callbacks`). The output directory is locked for the whole run
    (``OUT/.lock``, see :mod:`rnnkit.training.lock`): a second run into it refuses with an
    ``RnnkitError``.
    """
    task = get_task(task)
    config, checkpoint = _run_config(task, config, resume)
    try:  # the run's device, process group and loggers, resolved once for the whole run
        context = RunContext(config.train, log=log, hparams=config.to_dict())
    except ConfigError as error:
        raise error.under("train") from None
    say = (log or stderr_log) if context.is_main else (lambda message: None)
    with context.locked(note=log or stderr_log):
        return _train(task, config, context, checkpoint, say, callbacks)


def _train(
    task: Task,
    config: Config,
    context: RunContext,
    checkpoint: Mapping[str, Any] | None,
    say: Log,
    callbacks: Sequence[Callback | Callable[[Trainer, str, dict[str, Any]], None]],
) -> RunResult:
    """:func:`train` once the run's config is resolved and its output directory locked."""
    seed_everything(config.train.seed)
    setup = task.setup(config, None if checkpoint is None else checkpoint["task_state"], say)
    context.text_sample = lambda model: text_sample(
        task, TrainedModel(task.name, model, config, setup.state)
    )
    trainer = Trainer(
        setup.model,
        context,
        setup.batches,
        setup.loss_fn,
        eval_fn=setup.eval_fn,
        task=task.name,
        model_config=setup.model.config,
        task_state={"config": config.to_dict(), **setup.saved},
        best=BestMetric(setup.select, "max" if setup.maximize else "min"),
        callbacks=callbacks,
        progress=ProgressBar(setup.unit or task.unit, setup.progress_fn),
        validate_first=setup.validate_first,
    )
    settings: TrainConfig = config.train
    if context.out_dir is not None and context.is_main:
        _write_config(context.out_dir, config)
        say(f"writing checkpoints and metrics to {settings.out_dir}")
    start = 0 if checkpoint is None else int(checkpoint["train"]["step"])
    finished = checkpoint is not None and _finished(settings, checkpoint["train"])
    result = trainer.fit(resume=checkpoint)
    trained = TrainedModel(task.name, setup.model.eval(), config, setup.state, result.last_path)
    weights, reports = "the last weights of a rank that does not report", []
    if context.is_main:  # rank 0 alone scores and reports
        weights = _best_weights(trainer, result)
        with torch.no_grad():
            reports = setup.report(trained)
    unit = setup.unit or task.unit
    return RunResult(task.name, config, trained, result, reports, weights, start, finished, unit)


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
    _check_data_given(config)
    return config, checkpoint


def _check_data_given(config: Config) -> None:
    """A data setting that records data once given in memory (a resumed run's saved config, or
    a run's config.json read as a config file) needs the data again: the run did not keep it."""
    for f, _ in fields_of(type(config)):
        section = getattr(config, f.name)
        if not isinstance(section, Config):
            continue
        for g, _ in fields_of(type(section)):
            value = getattr(section, g.name)
            if g.metadata.get("file") and isinstance(value, str) and value.startswith(IN_MEMORY):
                raise ConfigError(
                    f"{f.name}.{g.name}",
                    f"the run was trained on data in memory, {value}, which it does not keep: "
                    "give the data again",
                )


def _finished(settings: TrainConfig, state: Mapping[str, Any]) -> bool:
    if settings.max_steps is not None and int(state["step"]) >= settings.max_steps:
        return True
    budget = settings.max_minutes
    return budget is not None and float(state["elapsed"]) >= budget * 60


def _write_config(out_dir: Path, config: Config) -> None:
    text = json.dumps(config.to_dict(), indent=2) + "\n"
    atomic_write(out_dir / "config.json", lambda file: file.write(text.encode("utf-8")))


def _best_weights(trainer: Trainer, result: TrainResult) -> str:
    """Load the weights the report scores into the model (see the module docstring): the best
    weights kept in memory when they were saved; a resumed run whose best predates it reads the
    earlier session's best.pt."""
    if trainer.best_state is not None:
        trainer.model.load_state_dict(trainer.best_state)
        if result.best_path is None:
            return f"the best validation weights (step {trainer.best.step:,})"
        return f"best.pt (step {trainer.best.step:,})"
    if result.best_path is not None:
        best = load_checkpoint(result.best_path)
        trainer.model.load_state_dict(best["model_state"])
        return f"best.pt (step {int(best['train']['step']):,})"
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
        raise ConfigError("data", f"evaluating a {task.name!r} model needs data to evaluate on")
    if isinstance(data, (list, tuple)) and not data:
        raise ConfigError(
            "data", f"expected data to evaluate on, got an empty {type(data).__name__}"
        )
    if not task.needs_data and data is not None:
        raise RnnkitError(
            f"a {task.name!r} model is evaluated on a fresh draw of its own data, "
            f"not on given data (got {_named(data)})"
        )
    with torch.no_grad():
        return task.evaluate(trained, data, batch_size=batch_size)


def _named(data: Any) -> str:
    """Data in a message: a path (or text) as given, cut; data in memory by its description."""
    return repr(str(data)[:60]) if isinstance(data, (str, Path)) else describe_data(data)


def views(
    trained: TrainedModel,
    data: Any = None,
    *,
    evals: Sequence[Mapping[str, Any]] = (),
    **options: Any,
) -> list[View]:
    """The task's pictures of a trained model (see :meth:`Task.views`), drawn by
    :mod:`rnnkit.plots`; ``data`` only for a task whose views read a data file; ``options``: the
    task's own keyword options (a forecaster's ``series``), as for :func:`predict`."""
    task = get_task(trained.task)
    if not isinstance(task, HasViews):
        return []
    what = f"the views of a {task.name!r} model"
    _check_options(task.views, options, what, ("evals",), ("have", "they take"))
    if data is not None and not getattr(task, "view_data", False):
        raise RnnkitError(
            f"the plots of a {task.name!r} model read no data file (got {_named(data)})"
        )
    with torch.no_grad():
        return task.views(trained, data, evals=evals, **options)


def _check_options(
    method: Any, options: Mapping[str, Any], what: str, own=(), verbs=("has", "it takes")
) -> None:
    """A :class:`~rnnkit.config.ConfigError` for an option that ``method`` does not take as a
    keyword (those in ``own`` are rnnkit's, not the user's), naming those it takes."""
    known = [
        p.name
        for p in inspect.signature(method).parameters.values()
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in own
    ]
    for name in options:
        if name not in known:
            takes = f"{verbs[1]} {', '.join(known)}" if known else f"{verbs[1]} none"
            raise ConfigError(name, f"{what} {verbs[0]} no such option ({takes})")


def predict(trained: TrainedModel, inputs: Any, **options: Any) -> Any:
    """Predictions of a trained model: one record per input (see the task's ``predict``), as a
    list of dicts; for a pandas DataFrame, a DataFrame: the inputs' columns and the predictions'
    (a forecast: the steps after the history, one row each). ``options``: the task's own
    keyword options (the tagger's ``top_k``...); one the task does not take is a
    :class:`~rnnkit.config.ConfigError` naming the options it takes."""
    task = get_task(trained.task)
    _check_options(task.predict, options, f"predict of a {task.name!r} model")
    with torch.no_grad():
        records = task.predict(trained, inputs, **options)
    if not is_frame(inputs):
        return records
    if getattr(task, "one_record_per_input", True):
        return predictions_frame(inputs, records)
    return type(inputs)([{k: v for k, v in r.items() if k != "line"} for r in records])
