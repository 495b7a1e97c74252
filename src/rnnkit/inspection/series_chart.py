"""Series views as SVG markup for the ``rnnkit inspect`` page, and the rule that gives each shaded
band its line's colour (shared with :mod:`rnnkit.plots`).

A view here is a :class:`rnnkit.tasks.capabilities.View` of kind ``"series"``, read by its
attributes (``title``, ``x``, ``values``, ``bands``, ``levels``, ``xlabel``, ``ylabel``): this layer
is below the tasks. Lines are polylines (broken where a value is ``nan``), each band a filled
polygon: the upper bound left to right, then the lower bound right to left, one polygon for each
stretch where both bounds are finite. The markup is written here, in Python, so that the page
shows it without running its script, and a test reads the polygon's points.

Colours follow matplotlib's default cycle (``C0``, ``C1``...), so a chart on the page and the same
view drawn by ``rnnkit plot`` agree: line k has colour k, then the levels, then any band that
names no line.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "BAND_ALPHA",
    "BAND_ALPHAS",
    "PALETTE",
    "band_line",
    "band_styles",
    "escaped",
    "series_svg",
]

# matplotlib's "tab10" cycle, the colours C0...C9 of rnnkit plot
PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
BAND_ALPHA = 0.25  # a line's only band
BAND_ALPHAS = (0.15, 0.3)  # a line's widest band to its narrowest: 80% lighter than 50%

WIDTH, HEIGHT = 940, 300  # the whole chart, legend included
LEFT, RIGHT, TOP, BOTTOM = 56, 190, 12, 40  # the plot area's margins; the legend on the right


def escaped(value: Any) -> str:
    """Escaped for HTML, ``/`` included: no address of any kind can appear from the data."""
    return html.escape(str(value)).replace("/", "&#47;")


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def band_line(label: str, lines: Sequence[str] = ()) -> str:
    """The line a band belongs to: its label up to the first space (``"model 80%"``: ``model``),
    or the longest of ``lines`` (a label with spaces) that the band's label is or starts with,
    followed by a space (``"seasonal naive 80%"``: ``seasonal naive``)."""
    named = [line for line in lines if label == line or label.startswith(line + " ")]
    return max(named, key=len) if named else label.split(" ", 1)[0]


def _width(lower: Sequence[float], upper: Sequence[float]) -> float:
    gaps = [u - v for v, u in zip(lower, upper) if _finite(v) and _finite(u)]
    return sum(gaps) / len(gaps) if gaps else 0.0


def band_styles(
    lines: Sequence[str], levels: int, bands: Mapping[str, tuple[Sequence[float], Sequence[float]]]
) -> dict[str, tuple[int, float]]:
    """Each band's ``(colour index, opacity)``, for a view with the lines ``lines`` (in order)
    and ``levels`` levels.

    Colour: that of the line the band names (:func:`band_line`; line k has colour k), else the
    next colour after the lines, the levels and the bands before it that name no line. Opacity:
    a line's only band :data:`BAND_ALPHA`; several bands of one line from ``BAND_ALPHAS[0]`` for
    the widest (mean width where both bounds are finite) to ``BAND_ALPHAS[1]`` for the narrowest,
    so that nested intervals are told apart in the legend (where they overlap the inner one is
    darker still)."""
    index = {label: k for k, label in enumerate(lines)}
    owner = {label: band_line(label, lines) for label in bands}
    spare, colours = len(lines) + levels, {}
    for label in bands:
        if owner[label] in index:
            colours[label] = index[owner[label]]
        else:
            colours[label], spare = spare, spare + 1
    styles = {}
    low, high = BAND_ALPHAS
    for line in dict.fromkeys(owner.values()):
        own = [b for b in bands if owner[b] == line]
        own.sort(key=lambda b: _width(*bands[b]), reverse=True)
        for k, label in enumerate(own):
            alpha = BAND_ALPHA if len(own) == 1 else low + (high - low) * k / (len(own) - 1)
            styles[label] = (colours[label], round(alpha, 4))
    return {label: styles[label] for label in bands}


def _stretches(finite: Sequence[bool]) -> list[tuple[int, int]]:
    """``(start, end)`` of each run of ``True`` in ``finite``, end excluded."""
    runs, start = [], None
    for i, ok in enumerate([*finite, False]):
        if ok and start is None:
            start = i
        elif not ok and start is not None:
            runs.append((start, i))
            start = None
    return runs


def _first_finite(lower: Sequence[float], upper: Sequence[float]) -> int | None:
    """The first position where both bounds of a band are finite."""
    return next(
        (i for i, (v, u) in enumerate(zip(lower, upper)) if _finite(v) and _finite(u)), None
    )


class _Frame:
    """The mapping from data to the plot area's pixels."""

    def __init__(self, xs: list[float], ys: list[float]) -> None:
        self.x0, self.x1 = min(xs, default=0.0), max(xs, default=1.0)
        if self.x1 <= self.x0:
            self.x0, self.x1 = self.x0 - 1, self.x1 + 1
        lo, hi = min(ys, default=0.0), max(ys, default=1.0)
        if hi <= lo:
            lo, hi = lo - 1, hi + 1
        pad = 0.05 * (hi - lo)
        self.y0, self.y1 = lo - pad, hi + pad

    def X(self, x: float) -> float:
        return LEFT + (x - self.x0) / (self.x1 - self.x0) * (WIDTH - LEFT - RIGHT)

    def Y(self, y: float) -> float:
        return TOP + (self.y1 - y) / (self.y1 - self.y0) * (HEIGHT - TOP - BOTTOM)

    def point(self, x: float, y: float) -> str:
        return f"{self.X(x):.1f},{self.Y(y):.1f}"


def _ticks(low: float, high: float, about: int = 5) -> list[float]:
    """Round values between ``low`` and ``high``, about ``about`` of them (steps of 1, 2, 2.5 or
    5 times a power of ten)."""
    raw = (high - low) / about
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    first = math.ceil(low / step)
    return [round(k * step, 12) for k in range(first, math.floor(high / step) + 1)]


def _axes(frame: _Frame, view: Any, positions: list[float]) -> str:
    """Axis lines, about five y ticks with grid lines, about six x tick labels, axis titles."""
    right, bottom = WIDTH - RIGHT, HEIGHT - BOTTOM
    parts = []
    for y in _ticks(frame.y0, frame.y1):
        py = frame.Y(y)
        parts.append(f'<line class="grid" x1="{LEFT}" y1="{py:.1f}" x2="{right}" y2="{py:.1f}"/>')
        parts.append(f'<text x="{LEFT - 5}" y="{py + 4:.1f}" text-anchor="end">{y:.6g}</text>')
    for i in range(0, len(view.x), max(1, len(view.x) // 6)):
        px = frame.X(positions[i])
        parts.append(
            f'<text x="{px:.1f}" y="{bottom + 15}" text-anchor="middle">{escaped(view.x[i])}</text>'
        )
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/>')
    parts.append(f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{bottom}"/>')
    if view.xlabel:
        middle = (LEFT + right) / 2
        parts.append(
            f'<text x="{middle:.1f}" y="{HEIGHT - 4}" text-anchor="middle">'
            f"{escaped(view.xlabel)}</text>"
        )
    if view.ylabel:
        middle = (TOP + bottom) / 2
        parts.append(
            f'<text x="12" y="{middle:.1f}" text-anchor="middle" '
            f'transform="rotate(-90 12 {middle:.1f})">{escaped(view.ylabel)}</text>'
        )
    return "".join(parts)


def _band_polygons(frame: _Frame, positions: list[float], band: tuple, style: tuple) -> str:
    lower, upper = band
    colour, alpha = PALETTE[style[0] % 10], style[1]
    both = [_finite(v) and _finite(u) for v, u in zip(lower, upper)]
    shapes = []
    for start, end in _stretches(both):
        span = range(start, end)
        points = [frame.point(positions[i], upper[i]) for i in span]
        points += [frame.point(positions[i], lower[i]) for i in reversed(span)]
        shapes.append(
            f'<polygon class="band" fill="{colour}" fill-opacity="{alpha}" stroke="none" '
            f'points="{" ".join(points)}"/>'
        )
    return "".join(shapes)


def _line(frame: _Frame, positions: list[float], ys: Sequence[float], k: int) -> str:
    colour, width = PALETTE[k % 10], 1.6 if k == 0 else 1.0
    parts = []
    for start, end in _stretches([_finite(y) for y in ys]):
        if end - start == 1:  # a lone value: a dot, as a polyline of one point draws nothing
            x, y = frame.X(positions[start]), frame.Y(ys[start])
            parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2" fill="{colour}"/>')
            continue
        points = " ".join(frame.point(positions[i], ys[i]) for i in range(start, end))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="{width}" '
            f'stroke-linejoin="round" points="{points}"/>'
        )
    return "".join(parts)


def _legend(view: Any, styles: dict[str, tuple[int, float]]) -> str:
    """Right of the plot area, one row each: the lines, the levels (dashed), the bands."""
    x = WIDTH - RIGHT + 14
    rows = [
        (label, f'stroke="{PALETTE[k % 10]}" stroke-width="{1.6 if k == 0 else 1.0}"')
        for k, label in enumerate(view.values)
    ]
    rows += [
        (label, f'stroke="{PALETTE[(len(view.values) + k) % 10]}" stroke-dasharray="4 3"')
        for k, label in enumerate(view.levels)
    ]
    parts = []
    for row, label in enumerate([*(r[0] for r in rows), *styles]):
        y = TOP + 10 + 17 * row
        if row < len(rows):
            parts.append(f'<line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" {rows[row][1]}/>')
        else:
            colour, alpha = styles[label]
            parts.append(
                f'<rect class="band-key" x="{x}" y="{y - 5}" width="22" height="10" '
                f'fill="{PALETTE[colour % 10]}" fill-opacity="{alpha}"/>'
            )
        parts.append(f'<text x="{x + 28}" y="{y + 4}" text-anchor="start">{escaped(label)}</text>')
    return "".join(parts)


def series_svg(view: Any) -> str:
    """One series view as an ``<svg>`` element: bands under the lines, dashed levels, axes and a
    legend (lines, levels, then bands). ``x`` is placed by value when every x is a number, else
    by position (dates as text), as :mod:`rnnkit.plots` does."""
    numeric = all(_finite(x) for x in view.x)
    positions = [float(x) for x in view.x] if numeric else [float(i) for i in range(len(view.x))]
    bands = dict(getattr(view, "bands", {}) or {})
    levels = dict(view.levels)
    ys = [v for line in view.values.values() for v in line if _finite(v)]
    ys += [v for band in bands.values() for bound in band for v in bound if _finite(v)]
    ys += [v for v in levels.values() if _finite(v)]
    frame = _Frame(positions, ys)
    styles = band_styles(list(view.values), len(levels), bands)
    body = [_axes(frame, view, positions)]
    body += [_band_polygons(frame, positions, bands[b], styles[b]) for b in bands]
    starts = [_first_finite(*band) for band in bands.values()]
    first = min((i for i in starts if i is not None), default=0)
    if first > 0:  # the forecast's origin, easy to miss after a long history
        px = frame.X(positions[first])
        body.append(
            f'<line class="origin" x1="{px:.1f}" y1="{TOP}" x2="{px:.1f}" '
            f'y2="{HEIGHT - BOTTOM}" stroke="#808080" stroke-dasharray="2 3"/>'
        )
    for k, (label, level) in enumerate(levels.items()):
        colour, py = PALETTE[(len(view.values) + k) % 10], frame.Y(level)
        body.append(
            f'<line x1="{LEFT}" y1="{py:.1f}" x2="{WIDTH - RIGHT}" y2="{py:.1f}" '
            f'stroke="{colour}" stroke-dasharray="4 3"/>'
        )
    body += [_line(frame, positions, ys, k) for k, ys in enumerate(view.values.values())]
    body.append(_legend(view, styles))
    return (
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img">'
        + "".join(body)
        + "</svg>"
    )
