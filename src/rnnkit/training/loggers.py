"""Where the Trainer's metrics go: one logger per ``--logger`` choice, each a Trainer callback.

Each logger is a :class:`~rnnkit.training.callbacks.Callback` of the Trainer's events (``start``,
``backward``, ``step``, ``eval``, ``save``, ``end``: :mod:`rnnkit.training.callbacks` describes
them and the order in which callbacks are called; loggers come before the user's callbacks).

The loggers (:data:`LOGGERS`; ``TrainConfig.logger`` names them, ``--logger jsonl,csv``) write
into the run's output directory and nothing without one:

``jsonl`` (:class:`JsonlLogger`, the default): ``OUT/metrics.jsonl``, one JSON object per line,
    the step and eval records above as they come (eval records carry ``"event": "eval"``).
``csv`` (:class:`CsvLogger`): ``OUT/metrics.csv``, the same records as a table: a header, then one
    row per record in order. The columns are ``step, event, time``, then every other key of any
    record, sorted by name; ``event`` is ``step`` or ``eval``; a cell is empty where a record
    has no such key (or ``None``); numbers are written as Python writes them (floats round-trip
    exactly), booleans as ``true``/``false``. Since eval columns appear only with the first
    evaluation, the records are kept in memory and the whole file is rewritten atomically at
    each eval, save and end (so between those it lags behind the steps).
``tensorboard`` (:class:`TensorBoardLogger`, the extra ``rnnkit[tensorboard]``):
    ``OUT/tensorboard/``, for ``tensorboard --logdir OUT/tensorboard``: scalars ``train/loss``,
    ``train/lr``, ``train/grad_norm`` (finite values), ``train/items_per_second``, the task's
    extra step metrics as ``train/<name>``, ``val/<metric>`` at each evaluation; histograms of
    every parameter (``weights/<name>``) and of its gradient (``gradients/<name>``) at the first
    evaluation, every :data:`HISTOGRAM_EVERY`-th after it and the last; the run's settings as
    hparams with the final validation metrics and ``best/val_<select>``; a generated text sample
    (``sample``) at each evaluation for tasks whose model writes text.

On resume each logger keeps what was logged up to the checkpoint's step and drops the rest (the
steps that the checkpoint lost and the resumed run takes again).
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnkit.extras import require
from rnnkit.training.callbacks import EVENTS, Callback
from rnnkit.training.checkpoint import atomic_write

__all__ = [
    "EVENTS",
    "HISTOGRAM_EVERY",
    "LOGGERS",
    "CsvLogger",
    "JsonlLogger",
    "Logger",
    "TensorBoardLogger",
    "build_loggers",
    "check_loggers",
    "flatten",
]

HISTOGRAM_EVERY = 2  # weight and gradient histograms at every 2nd evaluation (they are large)
CSV_FIRST = ("step", "event", "time")  # the first columns of metrics.csv; the rest sorted

# The trainer argument of the callbacks is a rnnkit.training.Trainer; it is typed ``Any`` here
# because the Trainer imports this module (and not the other way round).


class Logger(Callback):
    """A Trainer callback that writes the run's metrics somewhere (one per ``--logger`` name)."""


def _out_file(trainer: Any, name: str) -> Path | None:
    out_dir = trainer.config.out_dir
    return None if out_dir is None else Path(out_dir) / name


# --------------------------------------------------------------------------- jsonl
class JsonlLogger(Logger):
    """``OUT/metrics.jsonl``: every step and eval record as one line of JSON (see the module)."""

    def __init__(self) -> None:
        self.file: Any = None

    def on_start(self, trainer: Any, info: dict[str, Any]) -> None:
        path = _out_file(trainer, "metrics.jsonl")
        if path is None:
            return
        kept = _kept_lines(path, info["step"]) if info["step"] > 0 else []
        self.file = open(path, "w", encoding="utf-8")  # noqa: SIM115 - closed at "end"
        self.file.write("".join(line + "\n" for line in kept))

    def on_step(self, trainer: Any, info: dict[str, Any]) -> None:
        if self.file is not None:
            self.file.write(json.dumps(info) + "\n")

    def on_eval(self, trainer: Any, info: dict[str, Any]) -> None:
        self.on_step(trainer, info)
        self.on_save(trainer, info)

    def on_save(self, trainer: Any, info: dict[str, Any]) -> None:
        if self.file is not None:
            self.file.flush()

    def on_end(self, trainer: Any, info: dict[str, Any]) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


def _kept_lines(path: Path, step: int) -> list[str]:
    """The lines of an earlier run's metrics.jsonl up to ``step`` (a resumed run drops the rest)."""
    if not path.is_file():
        return []
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line).get("step", 0) <= step:
                kept.append(line)
        except (ValueError, AttributeError):  # a torn last line, or not a record
            continue
    return kept


# --------------------------------------------------------------------------- csv
class CsvLogger(Logger):
    """``OUT/metrics.csv``: the step and eval records as one table (format in the module doc)."""

    def __init__(self) -> None:
        self.path: Path | None = None
        self.rows: list[dict[str, str]] = []
        self.keys: set[str] = set()
        self.dirty = False

    def on_start(self, trainer: Any, info: dict[str, Any]) -> None:
        self.path = _out_file(trainer, "metrics.csv")
        self.rows, self.keys, self.dirty = [], set(CSV_FIRST), False
        if self.path is not None and info["step"] > 0 and self.path.is_file():
            self._read_back(info["step"])

    def _read_back(self, step: int) -> None:
        with open(self.path, encoding="utf-8", newline="") as file:
            for row in csv.DictReader(file):
                try:
                    if int(row["step"]) > step:
                        continue
                except (KeyError, TypeError, ValueError):  # a torn row: drop it
                    continue
                kept = {k: v for k, v in row.items() if k is not None and v not in (None, "")}
                self.keys.update(kept)
                self.rows.append(kept)
        self.dirty = True

    def on_step(self, trainer: Any, info: dict[str, Any]) -> None:
        self._add({"event": "step", **info})

    def on_eval(self, trainer: Any, info: dict[str, Any]) -> None:
        self._add(info)
        self._write()

    def on_save(self, trainer: Any, info: dict[str, Any]) -> None:
        self._write()

    def on_end(self, trainer: Any, info: dict[str, Any]) -> None:
        self._write()

    def _add(self, record: Mapping[str, Any]) -> None:
        if self.path is None:
            return
        row = {key: _cell(value) for key, value in record.items() if value is not None}
        self.keys.update(row)
        self.rows.append(row)
        self.dirty = True

    def _write(self) -> None:
        if self.path is None or not self.dirty:
            return
        columns = [*CSV_FIRST, *sorted(self.keys - set(CSV_FIRST))]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, columns, restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows)
        text = buffer.getvalue().encode("utf-8")
        atomic_write(self.path, lambda file: file.write(text))
        self.dirty = False


def _cell(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)  # str(float) is its shortest exact repr


# --------------------------------------------------------------------------- tensorboard
class TensorBoardLogger(Logger):
    """``OUT/tensorboard/`` through ``torch.utils.tensorboard`` (what it logs: the module doc).

    ``text_sample(model) -> str | None`` writes a sample of the model's text (``None``: none); it
    must not touch the training RNG (use a seeded generator of its own). ``hparams``: the run's
    settings as nested tables (default: the train config under ``train``).
    """

    def __init__(
        self,
        *,
        text_sample: Callable[[Any], str | None] | None = None,
        hparams: Mapping[str, Any] | None = None,
    ) -> None:
        self.tensorboard = _import_tensorboard()  # now: a missing package stops the run early
        self.text_sample = text_sample
        self.hparams = hparams
        self.writer: Any = None
        self.gradients: tuple[int, dict[str, Any]] | None = None  # (step, name -> gradient)
        self.last_step_time: float | None = None

    def on_start(self, trainer: Any, info: dict[str, Any]) -> None:
        path = _out_file(trainer, "tensorboard")
        if path is None:
            return
        step = info["step"]
        # purge_step: TensorBoard hides the events an earlier run logged after the checkpoint.
        self.writer = self.tensorboard.SummaryWriter(
            str(path), purge_step=step + 1 if step else None
        )
        self.gradients, self.last_step_time = None, None

    def histograms_at(self, trainer: Any, step: int) -> bool:
        """Whether the evaluation at ``step`` logs histograms: the first of the ``eval_every``
        grid and every :data:`HISTOGRAM_EVERY`-th after it, and the last one (``max_steps``, or
        the final evaluation off the grid)."""
        cfg = trainer.config
        if step == cfg.max_steps or step % cfg.eval_every:
            return True
        return (step // cfg.eval_every - 1) % HISTOGRAM_EVERY == 0

    def on_backward(self, trainer: Any, info: dict[str, Any]) -> None:
        step = info["step"]
        if self.writer is None or trainer.eval_fn is None or not math.isfinite(info["grad_norm"]):
            return
        if step % trainer.config.eval_every and step != trainer.config.max_steps:
            return  # no evaluation after this step (cheap: most steps end here)
        if not self.histograms_at(trainer, step):
            return
        # A copy: zero_grad and the next backward reuse or drop these tensors.
        self.gradients = (
            step,
            {
                name: p.grad.detach().to("cpu", copy=True)
                for name, p in trainer.model.named_parameters()
                if p.grad is not None
            },
        )

    def on_step(self, trainer: Any, info: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = info["step"]
        for key, value in info.items():
            if key in ("step", "time", "items", "skipped"):
                continue
            if _finite_number(value):
                self.writer.add_scalar(f"train/{key}", value, step)
        now = time.perf_counter()
        if info.get("items") and self.last_step_time is not None:
            rate = info["items"] / max(now - self.last_step_time, 1e-9)
            self.writer.add_scalar("train/items_per_second", rate, step)
        self.last_step_time = now

    def on_eval(self, trainer: Any, info: dict[str, Any]) -> None:
        if self.writer is None:
            return
        step = info["step"]
        for key, value in info.items():
            if key.startswith("val_") and _finite_number(value):
                self.writer.add_scalar(f"val/{key[4:]}", value, step)
        if self.histograms_at(trainer, step):
            for name, parameter in trainer.model.named_parameters():
                self.writer.add_histogram(f"weights/{name}", parameter.detach().cpu(), step)
            if self.gradients is not None and self.gradients[0] == step:
                for name, gradient in self.gradients[1].items():
                    self.writer.add_histogram(f"gradients/{name}", gradient, step)
            self.gradients = None
        if self.text_sample is not None:
            text = self.text_sample(trainer.model)
            if text:
                # TensorBoard reads text summaries as Markdown: indented, the text is shown as is.
                self.writer.add_text("sample", markdown_verbatim(text), step)
        self.writer.flush()
        self.last_step_time = None  # the next step's rate would include the evaluation

    def on_save(self, trainer: Any, info: dict[str, Any]) -> None:
        self.last_step_time = None

    def on_end(self, trainer: Any, info: dict[str, Any]) -> None:
        if self.writer is None:
            return
        try:
            self._log_hparams(trainer, info["step"])
        finally:
            self.writer.close()
            self.writer = None

    def _log_hparams(self, trainer: Any, step: int) -> None:
        settings = flatten(self.hparams if self.hparams is not None else {"train": trainer.config})
        metrics = {
            f"val/{key}": value
            for key, value in (trainer.val_metrics or {}).items()
            if math.isfinite(value)
        }
        best = trainer.best.value
        if best is not None and math.isfinite(best):
            metrics[f"best/val_{trainer.best.name}"] = best
            self.writer.add_scalar(f"best/val_{trainer.best.name}", best, step)
        # The hparams plugin's three summaries, in this run (add_hparams would make a new run):
        # the dashboard reads each metric's last value from the run's scalar of that tag.
        writer = self.writer.file_writer
        for summary in self.tensorboard.summary.hparams(settings, metrics):
            writer.add_summary(summary, step)


def _finite_number(value: Any) -> bool:
    """Whether a record's value can be a scalar (not a bool, a string such as "nan", or None)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _import_tensorboard() -> Any:
    return require("tensorboard", "--logger tensorboard", module="torch.utils.tensorboard")


def markdown_verbatim(text: str) -> str:
    """``text`` as a Markdown code block (every line indented by four spaces)."""
    return "\n".join("    " + line for line in text.split("\n"))


def flatten(settings: Mapping[str, Any] | Any, prefix: str = "") -> dict[str, Any]:
    """Nested settings (dicts or dataclasses) as ``{"model.hidden_size": 256, ...}``, every value
    a number, bool or string (lists comma-joined, ``None`` as ``"none"``) for TensorBoard."""
    if not isinstance(settings, Mapping):
        settings = settings.to_dict() if hasattr(settings, "to_dict") else dict(vars(settings))
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            flat[name] = ",".join(map(str, value))
        elif value is None:
            flat[name] = "none"
        elif isinstance(value, (bool, int, float, str)):
            flat[name] = value
        else:
            flat[name] = str(value)
    return flat


# --------------------------------------------------------------------------- the registry
LOGGERS: dict[str, Callable[..., Logger]] = {
    "jsonl": lambda **hooks: JsonlLogger(),
    "csv": lambda **hooks: CsvLogger(),
    "tensorboard": lambda **hooks: TensorBoardLogger(**hooks),
}


def build_loggers(
    names: Sequence[str],
    *,
    text_sample: Callable[[Any], str | None] | None = None,
    hparams: Mapping[str, Any] | None = None,
) -> list[Logger]:
    """The loggers named in ``names`` (keys of :data:`LOGGERS`), in that order; the hooks go to
    the loggers that use them (TensorBoard's text samples and hparams)."""
    unknown = [name for name in names if name not in LOGGERS]
    if unknown:
        raise ValueError(f"logger: expected one of {', '.join(LOGGERS)}, got {unknown[0]!r}")
    return [LOGGERS[name](text_sample=text_sample, hparams=hparams) for name in names]


def check_loggers(names: Sequence[str]) -> None:
    """Raise the one-line :class:`~rnnkit.errors.RnnkitError` of a missing optional package of
    the loggers in ``names`` now (before a run reads its data), rather than when they are built."""
    if "tensorboard" in names:
        _import_tensorboard()
