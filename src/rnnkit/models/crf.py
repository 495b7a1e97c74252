"""A linear-chain conditional random field over tag sequences, vectorised over the batch.

For emissions ``e[t, y]`` (scores from the tagger, ``(N, L, T)``), transition scores ``A[i, j]``
(from tag i to tag j), start scores ``s[j]`` and end scores ``f[i]``, a tag path ``y_1..y_n`` of a
sequence of true length n scores::

    score(y) = s[y_1] + e[1, y_1] + sum_{t=2..n} (A[y_{t-1}, y_t] + e[t, y_t]) + f[y_n]

and ``p(y | x) = exp(score(y)) / Z`` with the log-partition ``log Z = logsumexp over all T^n paths``,
computed in O(n T^2) by the forward algorithm::

    alpha_1[j] = s[j] + e[1, j]
    alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + A[i, j]) + e[t, j]
    log Z      = logsumexp_j(alpha_n[j] + f[j])

Viterbi decoding replaces logsumexp by max and keeps back-pointers. Padding: ``mask (N, L)`` is
True on the valid steps, which must be a prefix of each row (step 0 always valid); at a padded step
the recursion leaves alpha unchanged, so each sequence ends at its own true length.

Legend: N = batch, L = padded length, T = number of tags.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["CRF"]


class CRF(nn.Module):
    """Linear-chain CRF with learned transition, start and end scores.

    Args:
        num_tags: number of tags T (>= 1).
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # (T, T): from i to j
        self.start_transitions = nn.Parameter(torch.empty(num_tags))  # (T,)
        self.end_transitions = nn.Parameter(torch.empty(num_tags))  # (T,)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Small uniform scores: the emissions dominate at first and the CRF learns the structure.
        for parameter in (self.transitions, self.start_transitions, self.end_transitions):
            nn.init.uniform_(parameter, -0.1, 0.1)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    # ------------------------------------------------------------------ checks
    def _check(self, emissions: Tensor, mask: Tensor | None, tags: Tensor | None = None) -> Tensor:
        if emissions.dim() != 3 or emissions.shape[-1] != self.num_tags:
            raise ValueError(
                f"expected emissions of shape (N, L, {self.num_tags}), got {tuple(emissions.shape)}"
            )
        batch, length = emissions.shape[:2]
        if length == 0:
            raise ValueError("expected sequences of length >= 1, got L = 0")
        if tags is not None and tags.shape != (batch, length):
            raise ValueError(f"expected tags of shape ({batch}, {length}), got {tuple(tags.shape)}")
        if mask is None:
            return emissions.new_ones(batch, length, dtype=torch.bool)
        if mask.shape != (batch, length):
            raise ValueError(f"expected mask of shape ({batch}, {length}), got {tuple(mask.shape)}")
        mask = mask.to(device=emissions.device, dtype=torch.bool)
        if not bool(mask[:, 0].all()):
            raise ValueError("the first step of every sequence must be valid (mask[:, 0] all True)")
        return mask

    # ------------------------------------------------------------------ scores
    def score(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """Unnormalised score of the given tag paths, ``(N,)``."""
        mask = self._check(emissions, mask, tags)
        tags = tags.long().masked_fill(~mask, 0)  # padded tags may be anything (e.g. -100)
        maskf = mask.to(emissions.dtype)  # (N, L)
        emitted = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)  # (N, L)
        total = self.start_transitions[tags[:, 0]] + (emitted * maskf).sum(dim=1)  # (N,)
        moves = self.transitions[tags[:, :-1], tags[:, 1:]]  # (N, L-1)
        total = total + (moves * maskf[:, 1:]).sum(dim=1)
        last = mask.long().sum(dim=1) - 1  # (N,) index of each true last step
        last_tags = tags.gather(1, last.unsqueeze(1)).squeeze(1)  # (N,)
        return total + self.end_transitions[last_tags]

    def log_partition(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """``log Z`` of each sequence by the forward algorithm, ``(N,)``."""
        mask = self._check(emissions, mask)
        alpha = self.start_transitions + emissions[:, 0]  # (N, T)
        for t in range(1, emissions.shape[1]):
            # (N, T, 1) + (T, T) -> (N, T, T), reduce over the previous tag i
            step = torch.logsumexp(alpha.unsqueeze(2) + self.transitions, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)  # padded: unchanged
        return torch.logsumexp(alpha + self.end_transitions, dim=1)  # (N,)

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """``log p(tags | emissions)`` of each sequence, ``(N,)`` (<= 0)."""
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """Negative log-likelihood summed over the batch divided by the number of valid tokens."""
        mask = self._check(emissions, mask, tags)
        return -self.log_likelihood(emissions, tags, mask).sum() / mask.sum().clamp(min=1)

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """Best tag path of every sequence by Viterbi, ``(N, L)`` long; padded steps hold 0."""
        mask = self._check(emissions, mask)
        batch, length, _ = emissions.shape
        score = self.start_transitions + emissions[:, 0]  # (N, T)
        backpointers = []
        for t in range(1, length):
            candidates = score.unsqueeze(2) + self.transitions  # (N, T_prev, T_next)
            best, best_prev = candidates.max(dim=1)  # (N, T)
            step = best + emissions[:, t]
            valid = mask[:, t].unsqueeze(1)  # (N, 1)
            score = torch.where(valid, step, score)
            # At a padded step point each tag back to itself, so the path passes through unchanged.
            identity = torch.arange(self.num_tags, device=emissions.device).expand(batch, -1)
            backpointers.append(torch.where(valid, best_prev, identity))
        best_last = (score + self.end_transitions).argmax(dim=1)  # (N,)
        path = [best_last]
        for pointers in reversed(backpointers):
            path.append(pointers.gather(1, path[-1].unsqueeze(1)).squeeze(1))
        tags = torch.stack(path[::-1], dim=1)  # (N, L)
        return tags.masked_fill(~mask, 0)
