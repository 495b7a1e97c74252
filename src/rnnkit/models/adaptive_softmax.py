"""An exact adaptive softmax over a vocabulary ordered by frequency, on the output layer's own
weights (so it can stay tied to the embedding).

Grave et al. (2017), "Efficient softmax approximation for GPUs": the frequent tokens
``[0, c_1)`` and one logit per tail cluster ``[c_i, c_{i+1})`` form the *head*; a token of cluster
``i`` has probability

.. math::

    p(w) = p_\\text{head}(\\text{cluster } i) \\cdot p_i(w), \\qquad
    p_i(w) = \\operatorname{softmax}(h W_{[c_i, c_{i+1})}^\\top + b_{[c_i, c_{i+1})})_w

so the probabilities of all ``V`` tokens add up to one: perplexities stay exact. Training computes
the head for every position and a tail cluster only for the positions whose target is in it; with
PTB's 10,000 words and cutoffs ``1000, 4000`` that is about a fifth of the full softmax's work.

Unlike :class:`torch.nn.AdaptiveLogSoftmaxWithLoss`, the tail clusters here are rows of the one
``(V, H)`` output matrix (no down-projection), so the output layer can share its weight with the
embedding, which on word-level data is worth both perplexity and parameters.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["AdaptiveSoftmax", "check_cutoffs"]


def check_cutoffs(cutoffs: Sequence[int], vocab_size: int) -> None:
    """Raise ``ValueError`` unless ``cutoffs`` rise strictly inside ``(0, vocab_size)``."""
    bounds = [0, *cutoffs, vocab_size]
    if any(not isinstance(c, int) or isinstance(c, bool) for c in cutoffs) or any(
        a >= b for a, b in itertools.pairwise(bounds)
    ):
        raise ValueError(
            f"adaptive_cutoffs: expected increasing ints in [1, {vocab_size - 1}] "
            f"(the vocabulary size is {vocab_size}), got {list(cutoffs)}"
        )


class AdaptiveSoftmax(nn.Module):
    """The head's cluster logits: ``Linear(H, K)`` for ``K = len(cutoffs)`` tail clusters; the
    token logits come from the ``weight (V, H)`` and ``bias (V,)`` passed to each call."""

    def __init__(self, hidden_size: int, vocab_size: int, cutoffs: Sequence[int]) -> None:
        super().__init__()
        check_cutoffs(cutoffs, vocab_size)
        self.bounds = [0, *cutoffs, vocab_size]
        self.clusters = nn.Linear(hidden_size, len(cutoffs))
        nn.init.zeros_(self.clusters.weight)
        nn.init.zeros_(self.clusters.bias)

    def _head(self, h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """Log-probabilities ``(T, c_1 + K)`` of the head tokens and of the tail clusters."""
        c1 = self.bounds[1]
        logits = torch.cat([F.linear(h, weight[:c1], bias[:c1]), self.clusters(h)], dim=-1)
        return logits.float().log_softmax(dim=-1)

    def nll(self, h: Tensor, targets: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """Negative log-likelihood ``(T,)`` of ``targets (T,)`` after ``h (T, H)``."""
        c1, bounds = self.bounds[1], self.bounds
        cluster = torch.bucketize(targets, targets.new_tensor(bounds[1:-1]), right=True)  # (T,)
        # in the head: the token's own column; in a tail: its cluster's column
        column = torch.where(cluster == 0, targets, c1 + cluster - 1)
        logp = self._head(h, weight, bias).gather(1, column.unsqueeze(1)).squeeze(1)  # (T,)
        for i in range(1, len(bounds) - 1):
            rows = (cluster == i).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            low, high = bounds[i], bounds[i + 1]
            tail = F.linear(h[rows], weight[low:high], bias[low:high]).float().log_softmax(-1)
            inside = tail.gather(1, (targets[rows] - low).unsqueeze(1)).squeeze(1)
            logp = logp.index_add(0, rows, inside)
        return -logp

    def log_probs(self, h: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        """Log-probabilities ``(T, V)`` of every token after ``h (T, H)`` (each row sums to 1)."""
        c1, bounds = self.bounds[1], self.bounds
        head = self._head(h, weight, bias)
        parts = [head[:, :c1]]
        for i in range(1, len(bounds) - 1):
            low, high = bounds[i], bounds[i + 1]
            tail = F.linear(h, weight[low:high], bias[low:high]).float().log_softmax(-1)
            parts.append(head[:, c1 + i - 1 : c1 + i] + tail)
        return torch.cat(parts, dim=-1)
