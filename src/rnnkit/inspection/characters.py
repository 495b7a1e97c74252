"""A character language model over a text: what each unit does at each character.

After Karpathy, Johnson and Fei-Fei (2015), "Visualizing and understanding recurrent networks":
each character coloured by one unit's activation, the units ranked by how well they follow
features of the text (inside quotes, bracket depth, position in the line), the model's top five
next characters at each position, and per gate the fraction of steps each unit is left-saturated
(below 0.1) and right-saturated (above 0.9).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.text import encode_text
from rnnkit.data.vocab import Vocabulary
from rnnkit.inspection.trace import gate_values, trace
from rnnkit.nn import Recurrent

__all__ = ["SATURATION", "character_view", "rank_units", "text_features"]

SATURATION = (
    0.1,
    0.9,
)  # a gate below the first is left-saturated, above the second right-saturated
OPENING, CLOSING = "([{", ")]}"
TOP = 5  # next characters shown at each position


def text_features(text: str) -> dict[str, Tensor]:
    """Features of the text at each character, as the model has read it up to and including
    that character: inside double quotes (0/1), bracket depth (``([{`` minus ``)]}``, at least
    0), and position in the line (0 at a line's first character). Each a float tensor (T,)."""
    quoted, depth, column = [], [], []
    inside, level, position = False, 0, 0
    for char in text:
        if char == '"':
            inside = not inside
        if char in OPENING:
            level += 1
        elif char in CLOSING:
            level = max(0, level - 1)
        quoted.append(float(inside))
        depth.append(float(level))
        column.append(float(position))
        position = 0 if char == "\n" else position + 1
    return {
        "inside quotes": torch.tensor(quoted),
        "bracket depth": torch.tensor(depth),
        "position in line": torch.tensor(column),
    }


def _pearson(values: Tensor, feature: Tensor) -> Tensor:
    """Pearson's r of each column of ``values`` (T, H) with ``feature`` (T,); 0 where either is
    constant."""
    a = values.double() - values.double().mean(0)  # (T, H)
    f = feature.double() - feature.double().mean()  # (T,)
    denominator = (a.square().sum(0) * f.square().sum()).sqrt()  # (H,)
    r = (f @ a) / denominator.clamp_min(1e-300)
    return torch.where(denominator > 1e-12, r, torch.zeros_like(r))


FLAT = 0.01  # a unit whose activation varies less than this over the text shows one colour


def rank_units(values: Tensor, features: dict[str, Tensor]) -> list[dict[str, Any]]:
    """The units of ``values`` (T, H), most telling first: for each unit the feature it follows
    best (largest ``|r|``), that r, and its variance over the text; ranked by ``|r|``, then by
    variance, except that flat units (a standard deviation below :data:`FLAT`, a colour that does
    not change on the page, whatever tiny wiggle correlates) come after all the others."""
    variance = (
        values.double().var(0, unbiased=False)
        if len(values) > 1
        else values.new_zeros(values.shape[1])
    )
    names = list(features)
    rs = torch.stack([_pearson(values, features[name]) for name in names])  # (F, H)
    best = rs.abs().argmax(0)  # (H,)
    units = [
        {
            "unit": unit,
            "feature": names[int(best[unit])],
            "r": float(rs[best[unit], unit]),
            "variance": float(variance[unit]),
        }
        for unit in range(values.shape[1])
    ]
    flat = FLAT**2
    return sorted(units, key=lambda u: (u["variance"] < flat, -abs(u["r"]), -u["variance"]))


@torch.no_grad()
def character_view(
    model: nn.Module,
    vocab: Vocabulary,
    text: str,
    *,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the language model ``model`` (ids (N, L) -> (logits, state), with a recurrent layer
    ``model.rnn``) over ``text`` in one forward, from a zero state, in evaluation mode.

    Returns a dict: ``chars`` (the T characters), ``states`` (``{"h": (T, H)}``, and ``"c"`` for
    LSTM-like cells: the top layer's states after each character), ``ranks`` (per state,
    :func:`rank_units`), ``top_ids`` and ``top_probs`` (T, 5): the most likely next characters
    after each position and their probabilities, ``top_chars`` (their text), and ``gates``:
    ``{layer: {gate: {"left": (H,), "right": (H,)}}}``, the fraction of the T steps each unit of
    each gate spent below 0.1 and above 0.9.
    """
    layer = model.rnn
    if not isinstance(layer, Recurrent):
        raise TypeError(
            f"model.rnn: expected an rnnkit recurrent layer, got {type(layer).__name__}"
        )
    device = next(model.parameters()).device
    ids = encode_text(vocab, text, warn=warn, what="text").to(device)
    was_training = model.training
    model.eval()
    try:
        (logits, _), recorded = trace(layer, lambda: model(ids[None]))  # logits (1, T, V)
        gates = gate_values(recorded)
    finally:
        model.train(was_training)
    top = layer.num_layers - 1
    components = recorded.states[top, 0][0]
    states = {"h": recorded.component(top, 0)[:, 0]}  # (T, H)
    if len(components) > 1:
        states["c"] = recorded.component(top, 1)[:, 0]
    features = text_features(text)
    probs = torch.softmax(logits[0].double(), dim=-1)  # (T, V)
    top_probs, top_ids = probs.topk(min(TOP, probs.shape[-1]), dim=-1)
    low, high = SATURATION
    return {
        "chars": list(text),
        "states": {name: s.cpu() for name, s in states.items()},
        "ranks": {name: rank_units(s.cpu(), features) for name, s in states.items()},
        "top_ids": top_ids.cpu(),
        "top_probs": top_probs.float().cpu(),
        "top_chars": [[vocab.itos[int(i)] for i in row] for row in top_ids.cpu()],
        "gates": {
            index: {
                name: {
                    "left": (values < low).double().mean((0, 1)).cpu(),
                    "right": (values > high).double().mean((0, 1)).cpu(),
                }
                for name, values in found.items()
            }
            for index, found in gates.items()
        },
    }
