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

**Constraints** (:meth:`CRF.constrain`). Bool masks ``S[j]``, ``M[i, j]``, ``F[i]`` (True =
allowed, e.g. a tagging scheme's: ``O -> I-X`` forbidden) replace the scores they forbid::

    s'[j] = s[j] if S[j] else -P      A'[i, j] = A[i, j] if M[i, j] else -P      f' likewise

with the finite penalty ``P = 1e4`` (:data:`FORBIDDEN` = -P) in the score of a path and in the
forward algorithm, and ``P = inf`` in Viterbi and N-best. A path with a forbidden step adds
``exp(-1e4 + ...)``, which is exactly 0 in every float type, to ``Z``, so ``log Z`` is the sum over
the allowed paths; a finite penalty (as in AllenNLP's constrained CRF) keeps every logsumexp and
every gradient finite where ``-inf`` gives ``exp(-inf - (-inf)) = NaN`` for a tag that no allowed
path reaches. Decoding needs no gradient, so there forbidden means ``-inf``: Viterbi and N-best
never return a forbidden path, whatever the emissions (a sequence that no allowed path fits, which
no scheme of ``rnnkit.data.schemes`` makes, decodes to an arbitrary path and has no N-best path).
The log-likelihood of a gold path with a forbidden step is finite, about ``-1e4`` per forbidden
step: mathematically it is ``-inf``, but one ill-formed training sentence should give a large loss
with finite gradients, not stop training as non-finite (data converted to a well-formed scheme
never has one).

**Marginals** by forward-backward: ``beta_n[i] = f[i]``,
``beta_t[i] = logsumexp_j(A[i, j] + e[t+1, j] + beta_{t+1}[j])`` and
``p(y_t = j | x) = exp(alpha_t[j] + beta_t[j] - log Z)``.

**N-best** (list Viterbi): keep the k best partial scores ``delta_t[j, r]``, r = 0..k-1, of the paths
ending in tag j at step t; ``delta_t[j, :] = top-k over (i, r) of (delta_{t-1}[i, r] + A[i, j])
+ e[t, j]``, and the k best complete paths are the top k of ``delta_n[j, r] + f[j]``: exact, in
O(n T^2 k log(T k)).

**Span probability**: ``p(y_a..y_{b-1} = the given tags | x) = Z_fixed / Z``, where ``Z_fixed`` sums
the paths through the given tags; from one forward-backward pass it is::

    log Z_fixed = in_a + e[a, y_a] + sum_{t=a+1..b-1} (A[y_{t-1}, y_t] + e[t, y_t]) + beta_{b-1}[y_{b-1}]
    in_a        = s[y_a] if a = 0, else logsumexp_i(alpha_{a-1}[i] + A[i, y_a])

(the path's own scores inside the span are differences of one cumulative sum, in float64).

Legend: N = batch, L = padded length, T = number of tags, k = number of paths, S = number of spans.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

__all__ = ["CRF", "FORBIDDEN"]

FORBIDDEN = -1e4
"""The score that a forbidden start, transition or end gets in a path's score and in ``log Z``
(finite: see the module docstring; representable in float16 and bfloat16)."""

# The buffers that hold the constraints, with the shape of each as a function of T.
_MASKS = ("allowed_start", "allowed_transitions", "allowed_end")


class CRF(nn.Module):
    """Linear-chain CRF with learned transition, start and end scores, optionally constrained.

    Args:
        num_tags: number of tags T (>= 1).

    Buffers (saved in the ``state_dict``, so a loaded model decodes under the same constraints):
        allowed_start ``(T,)``, allowed_transitions ``(T, T)`` (``[i, j]``: tag i may be followed by
        tag j), allowed_end ``(T,)``: bool, all True (unconstrained) until :meth:`constrain`.
    """

    def __init__(self, num_tags: int) -> None:
        super().__init__()
        if num_tags < 1:
            raise ValueError(f"num_tags must be >= 1, got {num_tags}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))  # (T, T): from i to j
        self.start_transitions = nn.Parameter(torch.empty(num_tags))  # (T,)
        self.end_transitions = nn.Parameter(torch.empty(num_tags))  # (T,)
        self.register_buffer("allowed_start", torch.ones(num_tags, dtype=torch.bool))
        self.register_buffer(
            "allowed_transitions", torch.ones(num_tags, num_tags, dtype=torch.bool)
        )
        self.register_buffer("allowed_end", torch.ones(num_tags, dtype=torch.bool))
        # Whether a mask forbids anything, kept as a Python bool (set by constrain() and on
        # loading) so that the loss does not read the masks back from the device at every step.
        self._forbids = False
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # Small uniform scores: the emissions dominate at first and the CRF learns the structure.
        for parameter in (self.transitions, self.start_transitions, self.end_transitions):
            nn.init.uniform_(parameter, -0.1, 0.1)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}" + (", constrained" if self.constrained else "")

    # ------------------------------------------------------------------ constraints
    def constrain(self, start: Tensor, transitions: Tensor, end: Tensor) -> None:
        """Forbid the starts, transitions and ends whose mask entry is False (True = allowed).

        Args:
            start: ``(T,)`` bool, the tags a sequence may start with.
            transitions: ``(T, T)`` bool, ``[i, j]`` True when tag j may follow tag i.
            end: ``(T,)`` bool, the tags a sequence may end with.

        The masks are in the shapes ``rnnkit.data.schemes.allowed_transitions`` returns. All True
        removes every constraint. Raises ValueError on a wrong shape or dtype, or when no tag may
        start or no tag may end a sequence.
        """
        for name, mask in zip(_MASKS, (start, transitions, end)):
            expected = tuple(getattr(self, name).shape)
            if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
                got = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
                raise ValueError(f"expected {name} as a bool tensor, got {got}")
            if tuple(mask.shape) != expected:
                raise ValueError(f"expected {name} of shape {expected}, got {tuple(mask.shape)}")
        for name, mask in (("start", start), ("end", end)):
            if not bool(mask.any()):
                raise ValueError(f"expected at least one allowed {name} tag, got none")
        for name, mask in zip(_MASKS, (start, transitions, end)):
            getattr(self, name).copy_(mask)
        self._forbids = not all(bool(mask.all()) for mask in (start, transitions, end))

    @property
    def constrained(self) -> bool:
        """Whether any start, transition or end is forbidden (the masks change through
        :meth:`constrain` and ``load_state_dict`` only)."""
        return self._forbids

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing, *rest):
        # A state_dict written before the constraints existed has no masks: it is a CRF that was
        # trained and decoded unconstrained, so it loads (strict or not) as one, whatever masks
        # this module held; a task may call constrain() after loading to add constraints. (A
        # partial state_dict without this CRF's scores, loaded with strict=False, leaves it be.)
        old = prefix + "transitions" in state_dict
        absent = [name for name in _MASKS if old and prefix + name not in state_dict]
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing, *rest)
        for name in absent:
            if prefix + name in missing:
                missing.remove(prefix + name)
            getattr(self, name).fill_(True)
        self._forbids = not all(bool(getattr(self, name).all()) for name in _MASKS)

    def _scores(self, penalty: float) -> tuple[Tensor, Tensor, Tensor]:
        """Start ``(T,)``, transition ``(T, T)`` and end ``(T,)`` scores with ``penalty`` in the
        forbidden entries."""
        if not self._forbids:  # unconstrained: the very computation of before the constraints
            return self.start_transitions, self.transitions, self.end_transitions
        return (
            self.start_transitions.masked_fill(~self.allowed_start, penalty),
            self.transitions.masked_fill(~self.allowed_transitions, penalty),
            self.end_transitions.masked_fill(~self.allowed_end, penalty),
        )

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
        """Unnormalised score of the given tag paths, ``(N,)`` (with :data:`FORBIDDEN` for each
        forbidden start, transition or end the path takes)."""
        mask = self._check(emissions, mask, tags)
        start, transitions, end = self._scores(FORBIDDEN)
        tags = tags.long().masked_fill(~mask, 0)  # padded tags may be anything (e.g. -100)
        maskf = mask.to(emissions.dtype)  # (N, L)
        emitted = emissions.gather(2, tags.unsqueeze(-1)).squeeze(-1)  # (N, L)
        total = start[tags[:, 0]] + (emitted * maskf).sum(dim=1)  # (N,)
        moves = transitions[tags[:, :-1], tags[:, 1:]]  # (N, L-1)
        total = total + (moves * maskf[:, 1:]).sum(dim=1)
        last = mask.long().sum(dim=1) - 1  # (N,) index of each true last step
        last_tags = tags.gather(1, last.unsqueeze(1)).squeeze(1)  # (N,)
        return total + end[last_tags]

    def log_partition(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """``log Z`` of each sequence by the forward algorithm (over the allowed paths), ``(N,)``."""
        mask = self._check(emissions, mask)
        start, transitions, end = self._scores(FORBIDDEN)
        alphas = _forward(emissions, mask, start, transitions)
        return torch.logsumexp(alphas[-1] + end, dim=1)  # (N,)

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """``log p(tags | emissions)`` of each sequence, ``(N,)`` (<= 0; about -1e4 per forbidden
        step of a path that breaks the constraints)."""
        return self.score(emissions, tags, mask) - self.log_partition(emissions, mask)

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor | None = None) -> Tensor:
        """Negative log-likelihood summed over the batch divided by the number of valid tokens."""
        mask = self._check(emissions, mask, tags)
        return -self.log_likelihood(emissions, tags, mask).sum() / mask.sum().clamp(min=1)

    @torch.no_grad()
    def marginals(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """``p(y_t = j | x)`` of every step and tag by forward-backward, ``(N, L, T)``.

        Each valid step's row sums to 1 (a forbidden tag there has probability 0); padded steps
        hold zeros.
        """
        mask = self._check(emissions, mask)
        start, transitions, end = self._scores(FORBIDDEN)
        alpha = torch.stack(_forward(emissions, mask, start, transitions), dim=1)  # (N, L, T)
        beta = _backward(emissions, mask, transitions, end)  # (N, L, T)
        log_z = torch.logsumexp(alpha[:, -1] + end, dim=1)  # (N,)
        probs = (alpha + beta - log_z[:, None, None]).exp()
        return probs.masked_fill(~mask.unsqueeze(2), 0.0)

    @torch.no_grad()
    def span_probability(
        self,
        emissions: Tensor,
        mask: Tensor | None,
        tags: Tensor,
        spans: Tensor | Sequence[tuple[int, int, int]],
    ) -> Tensor:
        """The probability under the CRF that a span's tags are exactly the given ones, ``(S,)``.

        Args:
            emissions: ``(N, L, T)``; mask: ``(N, L)`` or None.
            tags: ``(N, L)`` long, e.g. ``decode``'s paths.
            spans: ``(S, 3)`` rows ``(sequence n, start, end exclusive)``.

        Exact: ``Z_fixed / Z`` of the module docstring, from one forward-backward pass of the
        batch (not the cheaper product or minimum of token marginals). With IOBES or BILOU
        tags, the tags of an entity's tokens fix the entity (``E-X``/``L-X`` ends it), so this is
        the probability of that entity; with IOB2 a caller may extend ``end`` by one token when
        the next tag is not ``I-X`` to also fix where the entity stops.
        """
        mask = self._check(emissions, mask, tags)
        spans = torch.as_tensor(spans, dtype=torch.long, device=emissions.device).reshape(-1, 3)
        index, begin, stop = spans.unbind(1)  # (S,) each
        lengths = mask.long().sum(dim=1)
        if len(spans) and not bool(
            ((index >= 0) & (index < len(mask))).all()
            and ((begin >= 0) & (begin < stop)).all()
            and (stop <= lengths[index.clamp(0, len(mask) - 1)]).all()
        ):
            raise ValueError(
                f"expected spans (n, start, end) with 0 <= start < end <= length of sequence n, "
                f"got {spans.tolist()}"
            )
        # float64: the span's path score is a difference of cumulative sums over the sequence
        emissions = emissions.double()
        start, transitions, end = (score.double() for score in self._scores(FORBIDDEN))
        alpha = torch.stack(_forward(emissions, mask, start, transitions), dim=1)  # (N, L, T)
        beta = _backward(emissions, mask, transitions, end)  # (N, L, T)
        log_z = torch.logsumexp(alpha[:, -1] + end, dim=1)  # (N,)
        tags = tags.long()
        own = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)  # (N, L): e[t, y_t]
        moves = torch.zeros_like(own)
        moves[:, 1:] = transitions[tags[:, :-1], tags[:, 1:]]  # A[y_{t-1}, y_t]
        running = (own + moves).cumsum(dim=1)  # (N, L)
        first, last = tags[index, begin], tags[index, stop - 1]  # (S,)
        before = alpha[index, (begin - 1).clamp(min=0)]  # (S, T)
        enter = torch.where(
            begin == 0,
            start[first],
            torch.logsumexp(before + transitions[:, first].T, dim=1),
        )
        inside = own[index, begin] + running[index, stop - 1] - running[index, begin]
        leave = beta[index, stop - 1].gather(1, last.unsqueeze(1)).squeeze(1)
        log_fixed = enter + inside + leave
        return (log_fixed - log_z[index]).exp().clamp(max=1.0).to(self.transitions.dtype)

    # ------------------------------------------------------------------ decoding
    @torch.no_grad()
    def decode(self, emissions: Tensor, mask: Tensor | None = None) -> Tensor:
        """Best allowed tag path of every sequence by Viterbi, ``(N, L)`` long; padded steps hold 0."""
        mask = self._check(emissions, mask)
        batch, length, _ = emissions.shape
        start, transitions, end = self._scores(float("-inf"))
        score = start + emissions[:, 0]  # (N, T)
        # At a padded step point each tag back to itself, so the path passes through unchanged.
        identity = torch.arange(self.num_tags, device=emissions.device).expand(batch, -1)
        backpointers = []
        for t in range(1, length):
            candidates = score.unsqueeze(2) + transitions  # (N, T_prev, T_next)
            best, best_prev = candidates.max(dim=1)  # (N, T)
            step = best + emissions[:, t]
            valid = mask[:, t].unsqueeze(1)  # (N, 1)
            score = torch.where(valid, step, score)
            backpointers.append(torch.where(valid, best_prev, identity))
        best_last = (score + end).argmax(dim=1)  # (N,)
        path = [best_last]
        for pointers in reversed(backpointers):
            path.append(pointers.gather(1, path[-1].unsqueeze(1)).squeeze(1))
        tags = torch.stack(path[::-1], dim=1)  # (N, L)
        return tags.masked_fill(~mask, 0)

    @torch.no_grad()
    def nbest(
        self, emissions: Tensor, mask: Tensor | None = None, k: int = 1
    ) -> list[list[tuple[list[int], float]]]:
        """The k best allowed tag paths of every sequence (list Viterbi), best first.

        Returns, per sequence, up to k distinct ``(tags of its true length, log p(tags | x))``;
        fewer when fewer paths are allowed. The first path is ``decode``'s (barring exact ties).
        """
        if not isinstance(k, int) or k < 1:
            raise ValueError(f"expected k >= 1, got {k!r}")
        mask = self._check(emissions, mask)
        start, transitions, end = self._scores(float("-inf"))
        scores, paths = _kbest(emissions, mask, start, transitions, end, k)  # (N, k), (N, k, L)
        log_probs = scores - self.log_partition(emissions, mask).unsqueeze(1)
        lengths = mask.long().sum(dim=1).tolist()
        found = torch.isfinite(scores).tolist()
        return [
            [
                (path[:length], value)
                for path, value, ok in zip(rows, values, oks)
                if ok  # -inf: no further allowed path
            ]
            for rows, values, oks, length in zip(paths.tolist(), log_probs.tolist(), found, lengths)
        ]


def _forward(emissions: Tensor, mask: Tensor, start: Tensor, transitions: Tensor) -> list[Tensor]:
    """``alpha_t`` of every step, L tensors ``(N, T)``; a padded step repeats the previous one."""
    alpha = start + emissions[:, 0]  # (N, T)
    alphas = [alpha]
    for t in range(1, emissions.shape[1]):
        # (N, T, 1) + (T, T) -> (N, T, T), reduce over the previous tag i
        step = torch.logsumexp(alpha.unsqueeze(2) + transitions, dim=1) + emissions[:, t]
        alpha = torch.where(mask[:, t].unsqueeze(1), step, alpha)  # padded: unchanged
        alphas.append(alpha)
    return alphas


def _backward(emissions: Tensor, mask: Tensor, transitions: Tensor, end: Tensor) -> Tensor:
    """``beta_t`` of every step, ``(N, L, T)``; ``beta_t = f`` at each sequence's last step (and
    at its padded steps)."""
    batch, length, num_tags = emissions.shape
    final = end.expand(batch, num_tags)  # (N, T)
    beta = final
    betas = [beta]
    for t in range(length - 2, -1, -1):
        # (T, T) + (N, 1, T) -> (N, T_i, T_j), reduce over the next tag j
        ahead = (emissions[:, t + 1] + beta).unsqueeze(1)
        step = torch.logsumexp(transitions + ahead, dim=2)
        beta = torch.where(mask[:, t + 1].unsqueeze(1), step, final)  # next step padded: the end
        betas.append(beta)
    return torch.stack(betas[::-1], dim=1)


def _kbest(
    emissions: Tensor, mask: Tensor, start: Tensor, transitions: Tensor, end: Tensor, k: int
) -> tuple[Tensor, Tensor]:
    """List Viterbi: the k best path scores ``(N, k)`` (-inf where fewer paths exist) and their
    tags ``(N, k, L)``, best first."""
    batch, length, num_tags = emissions.shape
    score = emissions.new_full((batch, num_tags, k), float("-inf"))  # (N, T, k): delta[j, r]
    score[:, :, 0] = start + emissions[:, 0]
    # A back-pointer is the flat index i * k + r of the previous (tag, rank); at a padded step
    # each (tag, rank) points at itself so the paths pass through unchanged.
    identity = torch.arange(num_tags * k, device=emissions.device).view(1, num_tags, k)
    backpointers = []
    for t in range(1, length):
        # (N, T_prev, k, 1) + (T_prev, 1, T_next) -> (N, T_prev * k, T_next)
        candidates = (score.unsqueeze(3) + transitions.unsqueeze(1)).flatten(1, 2)
        best, best_prev = candidates.topk(k, dim=1)  # (N, k, T_next), sorted
        step = best.transpose(1, 2) + emissions[:, t].unsqueeze(2)  # (N, T, k)
        valid = mask[:, t].view(batch, 1, 1)
        score = torch.where(valid, step, score)
        backpointers.append(torch.where(valid, best_prev.transpose(1, 2), identity))
    final, last = (score + end.view(1, num_tags, 1)).flatten(1).topk(k, dim=1)  # (N, k)
    path = [last]  # flat (tag, rank) indices at each step, (N, k)
    for pointers in reversed(backpointers):
        path.append(pointers.flatten(1).gather(1, path[-1]))
    tags = torch.div(torch.stack(path[::-1], dim=2), k, rounding_mode="floor")  # (N, k, L)
    return final, tags
