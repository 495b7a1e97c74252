"""The ``rnnkit inspect`` page: one self-contained HTML file (styles, script and data inline, no
reference to anything outside it) that opens from disk.

The data are embedded as JSON in ``<script type="application/json" id="rnnkit-data">`` (values
rounded to 6 decimals, gradient norms to 6 significant digits; the states of every character and
unit, the bulk of a page, as ``{"shape": [T, H], "float32": base64}``: their exact float32 bytes,
little-endian, in about half the characters of decimal text); the text's characters and the
classifier's tokens are written as spans, one each, which the script colours. The script draws
the charts as SVG markup, sets ``data-ready="1"`` on the body when done, and records any error
in ``data-errors``.
"""

from __future__ import annotations

import base64
import json
import math
from importlib import resources
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnnkit.inspection.series_chart import escaped as _text
from rnnkit.inspection.series_chart import series_svg

__all__ = ["packed", "page_data", "render", "unpacked"]

DECIMALS = 6  # activations and probabilities: absolute error below 5e-7


def _rounded(values: Any, decimals: int = DECIMALS) -> Any:
    """A tensor (or nested lists of floats) as nested lists of floats rounded to ``decimals``."""
    if isinstance(values, Tensor):
        values = values.tolist()
    if isinstance(values, list):
        return [_rounded(v, decimals) for v in values]
    return round(float(values), decimals) if math.isfinite(values) else None


def _significant(values: Tensor) -> list[float | None]:
    """Floats to 6 significant digits (gradient norms span many orders of magnitude)."""
    return [float(f"{v:.6g}") if math.isfinite(v) else None for v in values.tolist()]


def packed(values: Tensor) -> dict[str, Any]:
    """A (T, H) tensor as its float32 values, little-endian, in base64 (see the module)."""
    array = values.detach().cpu().float().contiguous().numpy().astype("<f4")
    return {
        "shape": list(array.shape),
        "float32": base64.b64encode(array.tobytes()).decode("ascii"),
    }


def unpacked(data: dict[str, Any]) -> Tensor:
    """The tensor that :func:`packed` wrote."""
    array = np.frombuffer(base64.b64decode(data["float32"]), dtype="<f4")
    return torch.from_numpy(array.astype(np.float32).reshape(data["shape"]))


def page_data(data: dict[str, Any], unit: int | None = None) -> dict[str, Any]:
    """The JSON the page embeds, from the inspect command's dict of tensors (``meta``, the task's
    views, ``gradients``); ``unit``: the unit shown first (default: the top-ranked unit of h)."""
    plain: dict[str, Any] = {"meta": data["meta"]}
    if data.get("characters") is not None:
        plain["characters"] = _characters_data(data["characters"], unit)
    if "gradients" in data:
        flow = data["gradients"]
        plain["gradients"] = {
            "trained": _significant(flow["trained"]),
            "init": _significant(flow["init"]),
        }
    if "tokens" in data:
        plain["tokens"] = _tokens_data(data["tokens"])
    if "paths" in data:
        plain["paths"] = _paths_data(data["paths"])
    return plain


def _characters_data(view: dict[str, Any], unit: int | None) -> dict[str, Any]:
    """The character view (a language model's states, unit ranks, top next characters, gates)."""
    return {
        "chars": view["chars"],
        "states": {name: packed(s) for name, s in view["states"].items()},
        "ranks": {
            name: [
                {**r, "r": round(r["r"], DECIMALS), "variance": round(r["variance"], DECIMALS)}
                for r in ranks
            ]
            for name, ranks in view["ranks"].items()
        },
        "top": [
            [[char, round(float(p), DECIMALS)] for char, p in zip(chars, probs)]
            for chars, probs in zip(view["top_chars"], view["top_probs"].tolist())
        ],
        "gates": [
            {
                "layer": layer,
                "gate": gate,
                "left": _rounded(v["left"]),
                "right": _rounded(v["right"]),
            }
            for layer, found in view["gates"].items()
            for gate, v in found.items()
        ],
        "unit": view["ranks"]["h"][0]["unit"] if unit is None else unit,
    }


def _tokens_data(view: dict[str, Any]) -> dict[str, Any]:
    """A classifier's token contributions, one entry per example."""
    return {
        "labels": view["labels"],
        "source": view["source"],
        "examples": [
            {
                "tokens": e["tokens"],
                "contributions": _rounded(e["contributions"]),
                "probabilities": _rounded(e["probabilities"]),
                "predicted": e["predicted"],
                "gold": e["gold"],
            }
            for e in view["examples"]
        ],
    }


def _paths_data(view: dict[str, Any]) -> dict[str, Any]:
    """Hidden-state paths projected on their principal components, one per sequence."""
    return {
        "names": view["names"],
        "source": view["source"],
        "explained": _rounded(view["explained"]),
        "paths": [
            {"label": int(label), "predicted": int(predicted), "points": _rounded(points)}
            for label, predicted, points in zip(
                view["labels"].tolist(), view["predicted"].tolist(), view["paths"]
            )
        ],
    }


def _json(plain: dict[str, Any]) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>``, ``&`` or ``/`` left as such."""
    text = json.dumps(plain, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("/", "\\/")):
        text = text.replace(char, escape)
    return text


def _header(meta: dict[str, Any]) -> str:
    parts = [f"task <b>{_text(meta['task'])}</b>", f"cell <b>{_text(meta['cell'])}</b>"]
    if meta.get("num_layers") is not None:
        layers = meta["num_layers"]
        parts.append(f"<b>{layers}</b> layer{'s' if layers != 1 else ''}")
    if meta.get("hidden_size") is not None:
        parts.append(f"hidden size <b>{meta['hidden_size']}</b>")
    parts.append(f"<b>{meta['parameters']:,}</b> parameters")
    return (
        f"<header><h1>rnnkit inspect: {_text(meta['run'] or 'a trained model')}</h1>"
        f'<div class="meta">{" &middot; ".join(parts)}</div></header>'
    )


def _characters(view: dict[str, Any]) -> str:
    spans = "".join(
        f'<span class="ch" data-t="{t}">{_text(char)}</span>'
        for t, char in enumerate(view["chars"])
    )
    switch = ""
    if "c" in view["states"]:
        switch = (
            '<label for="state">state</label><select id="state">'
            '<option value="h">h (hidden state)</option><option value="c">c (cell state)</option>'
            "</select>"
        )
    gates = ""
    if view["gates"]:
        gates = (
            '<section id="gates"><h2>Gate saturation</h2><p class="note">For each gate of each '
            "layer, over the text: the fraction of steps each unit spends left-saturated (below "
            "0.1) against right-saturated (above 0.9), one point per unit, as in Karpathy, Johnson "
            "and Fei-Fei (2015), and how many units are saturated for what share of the time. "
            "Points on the dashed line are always saturated; near the origin, never.</p>"
            '<div class="charts" id="gate-charts"></div></section>'
        )
    return (
        '<section id="characters"><h2>Characters</h2><p class="note">Each character coloured by '
        "one unit's state of the top layer after reading it. The units are ranked by their "
        "largest correlation |r| with a feature of the text (inside quotes, bracket depth, "
        "position in the line), then by their variance. Hover over a character for the five "
        "most likely next characters.</p>"
        f'<div class="controls">{switch}<label for="unit">unit</label><select id="unit"></select>'
        '<span class="legend"><span class="ramp"></span><span id="scale"></span></span></div>'
        f'<div class="text" id="text">{spans}</div></section>{gates}'
    )


def _tokens(view: dict[str, Any]) -> str:
    rows = []
    for e, example in enumerate(view["examples"]):
        probability = float(example["probabilities"][view["labels"].index(example["predicted"])])
        gold = "" if example["gold"] is None else f" &middot; gold <b>{_text(example['gold'])}</b>"
        spans = " ".join(
            f'<span class="tok" data-e="{e}" data-k="{k}">{_text(token)}</span>'
            for k, token in enumerate(example["tokens"])
        )
        rows.append(
            f'<div class="example"><div class="label">predicted <b>{_text(example["predicted"])}'
            f'</b> ({probability:.3f}){gold}</div><div class="toks">{spans}</div></div>'
        )
    return (
        '<section id="tokens"><h2>Token contributions</h2><p class="note">How much each token '
        "pushes the predicted class: gradient &times; input on the token embeddings (the "
        "embedding times the gradient of the predicted class's logit, summed over its features); "
        "blue for the predicted class, red against it, scaled per example. "
        f"{_text(view['source'])}.</p>"
        f'<div id="examples">{"".join(rows)}</div></section>'
    )


def _paths(view: dict[str, Any]) -> str:
    return (
        '<section id="paths"><h2>Hidden-state paths</h2><p class="note">The top layer\'s hidden '
        "state at every step of each sequence, projected on the first two principal components "
        "of all of them: a hollow dot at the start, a filled one at the end; colour: the true "
        f"class. {_text(view['source'])}.</p>"
        '<div class="chart" id="path-chart"></div></section>'
    )


def _gradients() -> str:
    return (
        '<section id="gradients"><h2>Gradient flow through time</h2><p class="note">The norm '
        "of dL<sub>T</sub>/dh<sub>t</sub>: the gradient of the training loss at the last step T "
        "with respect to the top layer's hidden state at step t, through the recurrence, "
        "averaged over one training batch, for the trained weights and for the same model at "
        "initialisation. Where it falls towards early steps, gradients vanish: what happened "
        "there barely reaches the last step's loss, and the model cannot learn to use it.</p>"
        '<div class="chart" id="gradient-chart"></div></section>'
    )


def _views(views: list[Any]) -> str:
    """The task's series views (a forecast of each chosen series), as SVG written here."""
    charts = "".join(
        f'<div class="chart view"><div class="title">{_text(view.title)}</div>'
        f"{series_svg(view)}</div>"
        for view in views
    )
    return (
        '<section id="views"><h2>Views</h2><p class="note">The task\'s views of the model: '
        "for a forecaster, each chosen series' history, its actual future and the forecasts. "
        "A shaded band is an interval, in the colour of the line its label starts with "
        "(\u201cmodel 80%\u201d is the model's 80% interval); nested intervals overlap, the "
        "narrower darker. A dotted line marks where the forecast starts.</p>"
        f'<div class="charts">{charts}</div></section>'
    )


def render(data: dict[str, Any], unit: int | None = None) -> str:
    """The page for the inspect command's ``data`` (see :func:`page_data`), as one HTML string.
    ``data["views"]``, when given: a task's :class:`~rnnkit.tasks.capabilities.View` list, whose
    ``"series"`` views are drawn as charts (:func:`~rnnkit.inspection.series_chart.series_svg`);
    the other kinds are left out."""
    plain = page_data(data, unit)
    assets = resources.files("rnnkit.inspection")
    style = assets.joinpath("page.css").read_text(encoding="utf-8")
    script = assets.joinpath("page.js").read_text(encoding="utf-8")
    body = [_header(plain["meta"]), "<main>"]
    if "characters" in plain:
        body.append(_characters(plain["characters"]))
    if "tokens" in plain:
        body.append(_tokens(plain["tokens"]))
    if "paths" in plain:
        body.append(_paths(plain["paths"]))
    series = [view for view in data.get("views") or () if view.kind == "series"]
    if series:
        body.append(_views(series))
    if "gradients" in plain:
        body.append(_gradients())
    body.append("</main>")
    title = f"rnnkit inspect: {plain['meta']['run'] or plain['meta']['task']}"
    # the error recorder comes first, so that it sees the main script's errors
    recorder = (
        "window.onerror = function (message, source, line) {"
        ' var b = document.body, seen = b.getAttribute("data-errors");'
        ' b.setAttribute("data-errors", (seen ? seen + " | " : "") + message + " (line " + line + ")");'
        "};"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_text(title)}</title>\n<style>\n{style}</style>\n</head>\n<body>\n"
        f"<script>{recorder}</script>\n"
        + "\n".join(body)
        + '\n<div id="tip"></div>\n'
        + f'<script type="application/json" id="rnnkit-data">{_json(plain)}</script>\n'
        + f"<script>\n{script}</script>\n</body>\n</html>\n"
    )
