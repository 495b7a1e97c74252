"""Pictures of runs: training curves from a run's metrics log, and the views a task offers of its
trained model (:class:`~rnnkit.tasks.base.View`), drawn with matplotlib (``pip install
"rnnkit[plot]"``).

Python API::

    from rnnkit import plots, tasks

    run = plots.read_metrics("runs/classify")            # also while the run is still going
    views = tasks.views(tasks.load("runs/classify"), evals=run.evals)
    plots.save(plots.figure([run], views), "classify.png")

Every figure is a :class:`matplotlib.figure.Figure` on the Agg canvas, made without ``pyplot``
and so without global state: it draws without a display, and tests read its axes, lines and
labels. :func:`save` writes it atomically, in the format of the file's extension.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError
from rnnkit.extras import require
from rnnkit.inspection.series_chart import band_styles
from rnnkit.tasks.base import View
from rnnkit.training.checkpoint import atomic_write

__all__ = [
    "FORMATS",
    "SKIPPED",
    "Run",
    "draw_view",
    "figure",
    "image_format",
    "read_metrics",
    "run_names",
    "save",
]

FORMATS = ("png", "svg", "pdf")
PURPOSE = "rnnkit plot"
SKIPPED = "skipped (non-finite)"  # the label of the skipped steps' marks
LOG_NAMES = ("metrics.jsonl", "metrics.csv")


# --------------------------------------------------------------------------- reading runs
@dataclass
class Run:
    """A run's metrics log: ``steps`` (one record per training step) and ``evals`` (one per
    evaluation, ``{"step", "time", "val_loss", "val_<metric>"...}``), oldest first; ``name``
    labels the run in legends."""

    path: Path
    steps: list[dict[str, Any]]
    evals: list[dict[str, Any]]
    name: str


def read_metrics(run_dir: str | Path) -> Run:
    """The records of ``run_dir/metrics.jsonl`` (else ``metrics.csv``). A last line the run is
    still writing (cut short) is left out; non-finite values written as text (``"nan"``) are
    read as floats."""
    directory = Path(run_dir)
    path = next((directory / name for name in LOG_NAMES if (directory / name).is_file()), None)
    if path is None:
        raise RnnkitError(
            f"{directory}: no metrics.jsonl or metrics.csv (is it a run directory written "
            "with --out?)"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise RnnkitError(f"cannot read {path}: {error}") from error
    records = _read_jsonl(text, path) if path.suffix == ".jsonl" else _read_csv(text, path)
    steps = [r for r in records if r.get("event", "step") == "step"]
    evals = [r for r in records if r.get("event") == "eval"]
    return Run(directory, steps, evals, directory.name)


def _value(value: Any) -> Any:
    """A logged value: text that reads as a number (``"nan"``, ``"0.5"``) becomes one."""
    if isinstance(value, str):
        if value in ("true", "True", "false", "False"):  # booleans of a CSV log
            return value in ("true", "True")
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return value
    return value


def _record(raw: dict[str, Any], path: Path, line: int) -> dict[str, Any]:
    record = {key: _value(value) for key, value in raw.items()}
    if not isinstance(record.get("step"), (int, float)) or isinstance(record["step"], bool):
        raise RnnkitError(f"{path} line {line}: expected a record with a step number")
    return record


def _read_jsonl(text: str, path: Path) -> list[dict[str, Any]]:
    lines = text.splitlines()
    records = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except json.JSONDecodeError:
            if number == len(lines):  # the run is writing it
                continue
            raise RnnkitError(
                f"{path} line {number}: expected a JSON record, got {line.strip()[:40]!r}"
            ) from None
        if not isinstance(raw, dict):
            raise RnnkitError(f"{path} line {number}: expected a JSON object, got {line[:40]!r}")
        records.append(_record(raw, path, number))
    return records


def _read_csv(text: str, path: Path) -> list[dict[str, Any]]:
    """One record per row; an empty cell is a missing value."""
    rows = list(csv.reader(text.splitlines()))
    if not text.endswith("\n") and len(rows) > 1:
        rows.pop()  # the run is writing it
    if not rows:
        return []
    header, records = rows[0], []
    for number, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise RnnkitError(
                f"{path} line {number}: expected {len(header)} cells as in the header, "
                f"got {len(row)}"
            )
        records.append(_record({k: v for k, v in zip(header, row) if v != ""}, path, number))
    return records


def run_names(directories: Sequence[str | Path]) -> list[str]:
    """Legend labels: each run directory's name, with its parent's where two names are equal."""
    paths = [Path(d).resolve() for d in directories]
    names = [p.name for p in paths]
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]


# --------------------------------------------------------------------------- figures
def _new_figure(width: float, height: float) -> Any:
    """A Figure on the Agg canvas (no pyplot, no display)."""
    matplotlib_figure = require("plot", PURPOSE, "matplotlib.figure")
    agg = require("plot", PURPOSE, "matplotlib.backends.backend_agg")
    fig = matplotlib_figure.Figure(figsize=(width, height), layout="constrained")
    agg.FigureCanvasAgg(fig)
    return fig


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _skipped(record: dict[str, Any]) -> bool:
    return record.get("skipped") is True or not _finite(record.get("loss"))


def _smooth(values: list[float]) -> list[float]:
    """An exponential moving average over about a 50th of the points (none for short runs)."""
    span = max(1, len(values) // 50)
    beta = 1 - 2 / (span + 1)
    out, average = [], None
    for value in values:
        average = value if average is None else beta * average + (1 - beta) * value
        out.append(average)
    return out


def _points(records: list[dict[str, Any]], x: str, y: str) -> tuple[list, list]:
    pairs = [(r[x], r[y]) for r in records if _finite(r.get(x)) and _finite(r.get(y))]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def _eval_metrics(runs: Sequence[Run]) -> list[str]:
    """The validation metrics other than the loss that some evaluation logged, in order seen."""
    names: list[str] = []
    for run in runs:
        for record in run.evals:
            for key, value in record.items():
                if key.startswith("val_") and key != "val_loss" and _finite(value):
                    names += [] if key in names else [key]
    return names


def _loss_panels(step_ax: Any, time_ax: Any, runs: Sequence[Run]) -> None:
    """Training loss (raw, faint, and smoothed) and validation loss against step and time."""
    records = [r for run in runs for r in run.steps + run.evals]
    seconds = max((r["time"] for r in records if _finite(r.get("time"))), default=0)
    minutes = seconds > 600
    for colour, run in _coloured(runs):
        kept = [r for r in run.steps if not _skipped(r)]
        steps, losses = _points(kept, "step", "loss")
        times, timed = _points(kept, "time", "loss")
        step_ax.plot(steps, losses, color=colour, alpha=0.25, lw=0.8, label=f"_{run.name} raw")
        step_ax.plot(steps, _smooth(losses), color=colour, label=f"{run.name}: training")
        times = [t / 60 for t in times] if minutes else times
        time_ax.plot(times, _smooth(timed), color=colour, label=f"{run.name}: training")
        for ax, x in ((step_ax, "step"), (time_ax, "time")):
            xs, ys = _points(run.evals, x, "val_loss")
            xs = [v / 60 for v in xs] if x == "time" and minutes else xs
            ax.plot(xs, ys, "o--", color=colour, ms=4, label=f"{run.name}: validation")
    step_ax.set(title="loss against step", xlabel="step", ylabel="loss")
    time_ax.set(
        title="loss against time", xlabel="minutes" if minutes else "seconds", ylabel="loss"
    )


def _grad_panel(ax: Any, runs: Sequence[Run]) -> None:
    """Gradient norm (log scale); skipped steps as red ticks along the top."""
    positive = False
    for index, (colour, run) in enumerate(_coloured(runs)):
        steps, norms = _points([r for r in run.steps if not _skipped(r)], "step", "grad_norm")
        ax.plot(steps, norms, color=colour, lw=0.8, label=run.name)
        positive = positive or any(n > 0 for n in norms)
        bad = [r["step"] for r in run.steps if _skipped(r) or not _finite(r.get("grad_norm"))]
        if bad:  # x in data units, y in axes units: ticks at the top whatever the scale
            ax.plot(
                bad,
                [0.97 - 0.05 * index] * len(bad),
                "|",
                color="red",
                ms=10,
                transform=ax.get_xaxis_transform(),
                label=SKIPPED if len(runs) == 1 else f"{run.name}: {SKIPPED}",
            )
    if positive:
        ax.set_yscale("log")
    ax.set(title="gradient norm", xlabel="step", ylabel="gradient norm")


def _coloured(runs: Sequence[Run]) -> list[tuple[str, Run]]:
    """Each run with its colour: the same in every panel."""
    return [(f"C{i % 10}", run) for i, run in enumerate(runs)]


def _curves(axes: list[Any], runs: Sequence[Run], metrics: list[str]) -> None:
    _loss_panels(axes[0], axes[1], runs)
    for colour, run in _coloured(runs):
        axes[2].plot(*_points(run.steps, "step", "lr"), color=colour, label=run.name)
    axes[2].set(title="learning rate", xlabel="step", ylabel="learning rate")
    _grad_panel(axes[3], runs)
    if metrics:
        styles = ("-", "--", ":", "-.")
        for colour, run in _coloured(runs):
            for k, key in enumerate(metrics):
                xs, ys = _points(run.evals, "step", key)
                label = f"{run.name}: {key[4:]}"
                axes[4].plot(xs, ys, styles[k % 4], marker="o", ms=4, color=colour, label=label)
        shown = metrics[0][4:] if len(metrics) == 1 else "metrics"
        axes[4].set(title=f"validation {shown}", xlabel="step", ylabel=shown)


def figure(runs: Sequence[Run], views: Sequence[View] = ()) -> Any:
    """The training curves of ``runs`` (overlaid, one colour per run), then each of ``views``
    in a row of its own.

    Curve panels: loss against step (training loss raw and smoothed, validation loss), loss
    against time, learning rate, gradient norm with the skipped steps marked, and, when the
    evaluations logged a metric other than the loss, that metric against step. With no runs,
    the views alone (a forecast of many series: one view, one row, per series).
    """
    metrics = _eval_metrics(runs)
    panels = 0 if not runs and views else 5 if metrics else 4
    curve_rows = (panels + 1) // 2
    fig = _new_figure(12, 3.2 * curve_rows + 4.2 * len(views))
    grid = fig.add_gridspec(
        curve_rows + len(views), 2, height_ratios=[3.2] * curve_rows + [4.2] * len(views)
    )
    axes = [fig.add_subplot(grid[i // 2, i % 2]) for i in range(panels)]
    if panels:
        _curves(axes, runs, metrics)
    for row, view in enumerate(views):
        axes.append(fig.add_subplot(grid[curve_rows + row, :]))
        draw_view(axes[-1], view)
    for ax in axes:  # the views drew their own legends
        labels = ax.get_legend_handles_labels()[1]
        if ax.get_legend() is None and any(not label.startswith("_") for label in labels):
            ax.legend(fontsize="small")
    if len(runs) == 1:
        fig.suptitle(runs[0].name)
    return fig


def draw_view(ax: Any, view: View) -> None:
    """Draw a task's :class:`~rnnkit.tasks.base.View` on the axes ``ax``."""
    if view.kind == "matrix":
        _draw_matrix(ax, view)
    else:
        numeric = all(_finite(x) for x in view.x)
        positions = list(view.x) if numeric and view.kind == "series" else list(range(len(view.x)))
        if view.kind == "series":
            for k, (label, ys) in enumerate(view.values.items()):
                ax.plot(positions, ys, lw=1.6 if k == 0 else 1.0, label=label)
        else:
            width = 0.8 / max(len(view.values), 1)
            for k, (label, heights) in enumerate(view.values.items()):
                shift = (k - (len(view.values) - 1) / 2) * width
                ax.bar([p + shift for p in positions], heights, width, label=label)
        if not numeric or view.kind == "bars":
            every = 1 if view.kind == "bars" else max(1, len(view.x) // 6)
            ticks = positions[::every]
            ax.set_xticks(ticks, labels=[str(view.x[t]) for t in ticks])
        for k, (label, level) in enumerate(view.levels.items()):
            ax.axhline(level, ls="--", lw=1, color=f"C{len(view.values) + k}", label=label)
        if view.bands:  # after the levels: the legend lists lines, levels, bands, as the page
            _draw_bands(ax, view, positions)
        values = [v for ys in view.values.values() for v in ys if _finite(v)]
        if view.ylog and values and min(values + list(view.levels.values())) > 0:
            ax.set_yscale("log")
        if view.bands:  # beside the axes: over a long history it would hide the lines
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        else:
            ax.legend(fontsize="small")
    ax.set(title=view.title, xlabel=view.xlabel, ylabel=view.ylabel)


def _draw_bands(ax: Any, view: View, positions: list) -> None:
    """Each band of ``view`` shaded between its bounds (a gap where a bound is ``nan``), under the
    lines, in the colour of the line it names (:func:`~rnnkit.inspection.series_chart.band_line`),
    as the inspect page does (:func:`~rnnkit.inspection.series_chart.band_styles`); a dotted
    vertical line where the first band starts (the forecast's origin, easy to miss after a long
    history)."""
    styles, first = band_styles(list(view.values), len(view.levels), view.bands), len(positions)
    for label, (lower, upper) in view.bands.items():
        colour, alpha = styles[label]
        low = [v if _finite(v) else math.nan for v in lower]
        high = [v if _finite(v) else math.nan for v in upper]
        ax.fill_between(
            positions, low, high, color=f"C{colour % 10}", alpha=alpha, lw=0, label=label, zorder=1
        )
        shown = [i for i, (v, u) in enumerate(zip(low, high)) if _finite(v) and _finite(u)]
        first = min([first, *shown[:1]])
    if 0 < first < len(positions):
        ax.axvline(positions[first], ls=":", lw=1, color="0.5", label="_forecast origin")


def _draw_matrix(ax: Any, view: View) -> None:
    """A heat map with each cell's number written in it."""
    ax.imshow(view.values, cmap="Blues")
    ax.set_xticks(range(len(view.x)), labels=[str(x) for x in view.x])
    ax.set_yticks(range(len(view.rows or ())), labels=[str(r) for r in view.rows or ()])
    top = max((v for row in view.values for v in row), default=0)
    if len(view.x) * len(view.values) <= 400:
        for i, row in enumerate(view.values):
            for j, value in enumerate(row):
                text = f"{value:g}" if float(value).is_integer() else f"{value:.2f}"
                colour = "white" if top and value > top / 2 else "black"
                ax.text(j, i, text, ha="center", va="center", color=colour, fontsize="small")


# --------------------------------------------------------------------------- saving
def image_format(path: str | Path, name: str = "the output file") -> str:
    """The format of an image file by its extension (``png``, ``svg`` or ``pdf``); ``name``
    names the file in the error (e.g. ``--out``)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise RnnkitError(
            f"{name}: expected a file name ending in .png, .svg or .pdf, got {str(path)!r}"
        )
    return suffix


def save(fig: Any, path: str | Path, name: str = "the output file") -> Path:
    """Write ``fig`` to ``path`` in the format of its extension, atomically: a temporary file
    beside it renamed over it, so a failure leaves no half-written image."""
    kind = image_format(path, name)
    return atomic_write(path, lambda file: fig.savefig(file, format=kind))
