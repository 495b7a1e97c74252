"""The hidden state's path over a sequence, projected to 2-D by principal component analysis."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.inspection.trace import find_recurrent, trace

__all__ = ["pca_paths", "project_pca"]


def project_pca(states: Tensor, k: int = 2) -> tuple[Tensor, Tensor]:
    """``states`` (N, L, H) projected on the first ``k`` principal components of all N * L states
    (centred; SVD): ``(paths (N, L, k), explained (k,))``, the share of the variance of each
    component. Components beyond H (or the rank) are zero."""
    n, steps, size = states.shape
    flat = states.reshape(n * steps, size).double()
    centred = flat - flat.mean(0)
    _, singular, vh = torch.linalg.svd(centred, full_matrices=False)
    paths = torch.zeros(n * steps, k, dtype=torch.float64)
    explained = torch.zeros(k, dtype=torch.float64)
    used = min(k, vh.shape[0])
    paths[:, :used] = centred @ vh[:used].T
    total = singular.square().sum()
    if total > 0:
        explained[:used] = singular[:used].square() / total
    return paths.reshape(n, steps, k), explained


@torch.no_grad()
def pca_paths(
    model: nn.Module, x: Tensor, forward: Callable[[nn.Module, Tensor], Any] | None = None
) -> dict[str, Tensor]:
    """Run ``model`` on ``x`` (evaluation mode) and project the top layer's hidden states (its
    forward direction) at every step to 2-D: ``states`` (N, L, H), ``paths`` (N, L, 2),
    ``explained`` (2,), and ``outputs`` (what the forward returned)."""
    layer = find_recurrent(model)
    was_training = model.training
    model.eval()
    try:
        outputs, recorded = trace(layer, lambda: (forward or (lambda m, v: m(v)))(model, x))
    finally:
        model.train(was_training)
    states = recorded.component(layer.num_layers - 1, 0).transpose(0, 1).cpu()  # (N, L, H)
    paths, explained = project_pca(states)
    return {"states": states, "paths": paths, "explained": explained, "outputs": outputs}
