"""Gradient flow through time as a figure (PNG or SVG), drawn with matplotlib (the ``plot`` extra)."""

from __future__ import annotations

from typing import Any

from torch import Tensor

from rnnkit.extras import require

__all__ = ["gradient_figure"]


def gradient_figure(trained: Tensor, init: Tensor, title: str) -> Any:
    """A ``matplotlib.figure.Figure`` (no pyplot, no display needed): ``||dL_T/dh_t||`` against t on
    a log scale, for the trained model and at initialisation. Steps with a zero norm (not reached
    by the loss) are left out of the lines."""
    require("plot", "rnnkit inspect --gradients")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.0), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)  # the canvas that renders PNG and SVG files
    axes = figure.add_subplot()
    for values, label, style in ((trained, "trained", "-"), (init, "at initialisation", "--")):
        points = [(t, v) for t, v in enumerate(values.tolist()) if v > 0]
        axes.plot([t for t, _ in points], [v for _, v in points], style, label=label, linewidth=1.8)
    axes.set_yscale("log")
    axes.set_xlabel("time step t")
    axes.set_ylabel("‖dL_T/dh_t‖ (mean over the batch)")
    axes.set_title(title)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend()
    return figure
