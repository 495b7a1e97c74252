"""A classifier's token contributions: gradient times input on the token embeddings."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.inspection.trace import find_recurrent

__all__ = ["token_contributions"]


def token_contributions(
    model: nn.Module,
    ids: Sequence[int],
    forward: Callable[[nn.Module, Tensor], Tensor] | None = None,
) -> dict[str, Any]:
    """How much each token of one text pushes the predicted class's logit: ``e_t · dlogit/de_t``
    (gradient times input, summed over the embedding's features) for each token embedding ``e_t``.

    ``model`` has an ``embedding`` (``nn.Embedding``); ``forward(model, x (1, L))`` gives the
    logits (1, C) (default: ``model(x)``). Run in evaluation mode. Returns ``contributions`` (L,),
    ``probabilities`` (C,) and ``predicted`` (the class index).
    """
    embedding = getattr(model, "embedding", None)
    if not isinstance(embedding, nn.Embedding):
        raise TypeError(f"model: expected one with an nn.Embedding, got {type(model).__name__}")
    device = embedding.weight.device
    x = torch.as_tensor(list(ids), dtype=torch.long, device=device)[None]  # (1, L)
    captured: list[Tensor] = []

    def leaf(module: nn.Module, args: tuple[Any, ...], output: Tensor) -> Tensor:
        # the embedding's output as a leaf of the graph, so its gradient can be read
        captured.append(output.detach().requires_grad_(True))
        return captured[-1]

    handle = embedding.register_forward_hook(leaf)
    was_training = model.training
    model.eval()
    try:
        # the probe changes nothing but runs the reference loop, which differentiates in any mode
        with torch.enable_grad(), find_recurrent(model).probe(lambda *step: step[3]):
            logits = (forward or (lambda m, v: m(v)))(model, x)  # (1, C)
            predicted = int(logits[0].argmax())
            (grad,) = torch.autograd.grad(logits[0, predicted], captured[0])  # (1, L, E)
    finally:
        handle.remove()
        model.train(was_training)
    return {
        "contributions": (grad * captured[0]).sum(-1)[0].detach().cpu(),  # (L,)
        "probabilities": torch.softmax(logits[0].detach().double(), -1).cpu(),
        "predicted": predicted,
    }
