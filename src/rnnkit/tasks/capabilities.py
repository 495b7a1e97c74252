"""What a task *may* do beyond its core (:class:`~rnnkit.tasks.base.Task`): optional capabilities.

The core of a task is its config, its set-up (data, model, loss), evaluate, predict and a small
example. Everything a user *looks at or ships* is a separate protocol that a task implements when
it can, by defining the methods (no base class needed):

- :class:`HasViews`: pictures of a trained model for ``rnnkit plot`` (:class:`View`);
- :class:`HasInspectPage`: the task's own views for ``rnnkit inspect`` (token contributions,
  hidden-state paths...);
- :class:`Exportable`: what ``rnnkit export`` traces (:class:`ExportSpec`);
- :class:`WritesText`: a character language model, for ``rnnkit sample``, the loggers' text
  samples and the character view of ``rnnkit inspect``.

The commands ask for the capability (``isinstance(task, Exportable)``), never for a task's name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.export.spec import ExportSpec

if TYPE_CHECKING:
    from rnnkit.tasks.base import Task, TrainedModel

__all__ = [
    "ExportSpec",
    "Exportable",
    "HasInspectPage",
    "HasViews",
    "View",
    "WritesText",
    "exportable",
    "language_model_of",
    "text_sample",
    "text_view",
]


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

    ``bands`` (series only) maps a label to ``(lower, upper)``, each ``len(x)`` numbers (``nan``
    where the band is absent, e.g. over the history): a shaded interval, such as a forecast's
    80% interval from its 0.1 and 0.9 quantiles. The band's label up to its first space names
    the line it belongs to, whose colour it takes: ``"model 80%"`` is shaded in the colour of
    line ``"model"``; a line whose label has spaces is named whole (``"seasonal naive 80%"``:
    line ``"seasonal naive"``), and a band naming no line gets a colour of its own. A forecast of
    many series is one view per series.
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
    bands: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)

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
        self.bands = {str(k): self._band(str(k), band) for k, band in dict(self.bands).items()}

    def _band(self, label: str, band: Any) -> tuple[list[float], list[float]]:
        """``band`` as ``(lower, upper)`` lists of ``len(x)`` numbers, or a ``ValueError``."""
        if self.kind != "series":
            raise ValueError(f"bands: expected none for a {self.kind!r} view, got {label!r}")
        bounds = list(band)
        if len(bounds) != 2:
            raise ValueError(f"bands[{label!r}]: expected (lower, upper), got {len(bounds)} parts")
        lower, upper = list(bounds[0]), list(bounds[1])
        for part in (lower, upper):
            if len(part) != len(self.x):
                raise ValueError(
                    f"bands[{label!r}]: expected {len(self.x)} numbers a bound, got {len(part)}"
                )
        return lower, upper


@runtime_checkable
class HasViews(Protocol):
    """Pictures of a trained model for ``rnnkit plot``, beyond the training curves. A task whose
    views can be drawn on a given file of its format also sets ``view_data = True``."""

    def views(
        self, trained: TrainedModel, data: Any = None, *, evals: Sequence[Mapping[str, Any]] = ()
    ) -> list[View]:
        """``data``: a file of the task's format (tasks with ``view_data``; ``None``: the run's
        stored validation sample, or its own validation or test data); ``evals``: the run's
        evaluation records from its metrics log (``{"step", "val_loss", "val_<metric>"...}``),
        oldest first. A task may take keyword options of its own: a forecaster of many series
        takes ``series`` (a list of ids, from ``rnnkit plot --series``; passed only when given)
        and returns one view per series."""
        ...


@runtime_checkable
class HasInspectPage(Protocol):
    """The task's own views of its model for ``rnnkit inspect`` (see :mod:`rnnkit.inspection`).

    A model that writes text (:class:`WritesText`) is shown by its character view instead. A task
    that reads a given text may also define ``text_view(trained) -> "lines" | "chars" | None``
    (how ``--text`` is read; default: none)."""

    def inspect(
        self, trained: TrainedModel, text: str | None = None, *, chars: int = 2000
    ) -> dict[str, Any]:
        """Views by name: ``"tokens"`` (a classifier's token contributions), ``"paths"``
        (hidden-state paths), ``"views"`` (a list of :class:`View`, whose ``"series"`` views the
        page draws as charts, bands included)...; a ``text`` the task cannot read is an
        ``RnnkitError``."""
        ...


@runtime_checkable
class Exportable(Protocol):
    """A model that ``rnnkit export`` writes as one ONNX or TorchScript file."""

    def export_spec(self, trained: TrainedModel) -> ExportSpec:
        """What is traced (see :class:`ExportSpec`); a model that cannot be exported is an
        ``RnnkitError`` saying which part and why."""
        ...


@runtime_checkable
class WritesText(Protocol):
    """A task whose model writes text one character at a time."""

    def language_model(self, trained: TrainedModel) -> tuple[nn.Module, Any] | None:
        """``(LanguageModel, character Vocabulary)``, or ``None`` when this run's model writes no
        text (a task may write text for some configs only)."""
        ...

    def inspection_text(self, trained: TrainedModel) -> str:
        """The text ``rnnkit inspect`` reads when none is given (stored in the run)."""
        ...


def language_model_of(task: Task, trained: TrainedModel) -> tuple[nn.Module, Any] | None:
    """``(model, vocabulary)`` when ``trained`` writes text, else ``None``."""
    return task.language_model(trained) if isinstance(task, WritesText) else None


def text_view(task: Task, trained: TrainedModel) -> str | None:
    """How ``rnnkit inspect --text`` reads a text for this model: the task's own answer, else
    ``"chars"`` for a model that writes text, else ``None`` (no view of a text)."""
    own = task.text_view(trained) if hasattr(task, "text_view") else None
    if own is not None:
        return own
    return "chars" if language_model_of(task, trained) is not None else None


def text_sample(task: Task, trained: TrainedModel) -> str | None:
    """A short sample of the model's writing for the loggers (``None``: it writes no text).

    The task's ``text_sample`` must leave the global RNG states as they are (a seeded generator
    of its own), so that logging does not change training."""
    sample = getattr(task, "text_sample", None)
    if sample is None or language_model_of(task, trained) is None:
        return None
    return sample(trained)


def exportable(task: Task) -> Exportable:
    """``task`` when it can export, else an ``RnnkitError``."""
    if not isinstance(task, Exportable):
        raise RnnkitError(f"exporting {task.name!r} models is not supported")
    return task
