"""A bag of n-grams classifier: logistic regression on a text's word uni- and bigrams.

The baseline every classification score is printed beside (does the recurrent model earn its
cost?), and ``--model bag`` on its own. It reads the same padded token ids as
:class:`~rnnkit.models.classifier.SequenceClassifier`::

    tokens (N, L) --> n-gram ids (N, 2L-1): unigram t_i, hashed bigram V + h(t_i, t_{i+1}) mod B
                  --> each distinct valid n-gram once (binarised, as NBSVM does)
                  --> mean of their weight rows (N, C) + bias --> logits (N, C)

so the logits are ``W^T x / |x|_1 + b`` with ``x`` the 0/1 vector of the n-grams present: a
linear model (fastText without its low-rank bottleneck). Legend: N = batch, L = padded length,
V = vocabulary size, B = bigram buckets, C = classes. The bigram hash is
``(a * 1_000_003 + b) mod B``: fixed, so a saved model reads the same features everywhere.

Padding never changes a result: n-grams at or past a text's length are masked out.
:func:`fit_bag` trains one in a few seconds (Adam, full epochs of length-bucketed batches).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data.labelled import batch_order, pad_sequences
from rnnkit.models.recurrent import check_lengths, valid_mask

__all__ = ["BagClassifier", "BagClassifierConfig", "buckets_for", "fit_bag"]

PRIME = 1_000_003  # the bigram hash's multiplier
MAX_BUCKETS = 1 << 18


def buckets_for(tokens: int) -> int:
    """Bigram buckets for ``tokens`` training tokens: the power of two at or above it, at most
    2**18 (SST-2 and BBC news both reach the cap; a toy set gets a small model)."""
    return min(MAX_BUCKETS, 1 << max(4, (max(tokens, 1) - 1).bit_length()))


@dataclass
class BagClassifierConfig:
    """What rebuilds a :class:`BagClassifier` (stored in checkpoints as a dict).

    Attributes:
        num_classes: number of classes C (>= 2).
        vocab_size: size of the token vocabulary V (unigram features).
        buckets: number of hashed bigram features B (0: unigrams only).
        padding_idx: id of the padding token (its unigram is never a feature).
        kind: always ``"bag"``; tells a checkpoint's model apart from the recurrent one.
    """

    num_classes: int
    vocab_size: int
    buckets: int = MAX_BUCKETS
    padding_idx: int | None = 0
    kind: str = "bag"

    def __post_init__(self) -> None:
        if self.num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {self.num_classes}")
        if self.vocab_size < 1:
            raise ValueError(f"vocab_size must be >= 1, got {self.vocab_size}")
        if self.buckets < 0:
            raise ValueError(f"buckets must be >= 0, got {self.buckets}")
        if self.kind != "bag":
            raise ValueError(f"kind must be 'bag', got {self.kind!r}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BagClassifierConfig:
        return cls(**data)


def ngram_ids(x: Tensor, lengths: Tensor, vocab_size: int, buckets: int) -> tuple[Tensor, Tensor]:
    """The n-gram feature ids ``(N, 2L-1)`` of padded tokens ``x (N, L)`` and their validity mask:
    unigrams ``x`` (valid at ``t < length``), then bigrams ``V + (x_t * P + x_{t+1}) mod B``
    (valid at ``t + 1 < length``); an n-gram repeated within a text is valid once."""
    mask = valid_mask(lengths, x.shape[1], x.device)  # (N, L)
    ids, valid = [x], [mask]
    if buckets > 0 and x.shape[1] > 1:
        ids.append(vocab_size + (x[:, :-1] * PRIME + x[:, 1:]) % buckets)  # (N, L-1)
        valid.append(mask[:, 1:])
    ids_t, valid_t = torch.cat(ids, dim=1), torch.cat(valid, dim=1)  # (N, 2L-1)
    # binarise: sort each row (invalid entries pushed to the end), drop repeats of the one before
    ordered, order = torch.sort(torch.where(valid_t, ids_t, -1), dim=1, descending=True)
    repeated = torch.zeros_like(valid_t)
    repeated[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    return ordered.clamp_min(0), valid_t.gather(1, order) & ~repeated


class BagClassifier(nn.Module):
    """Binarised uni+bigram logistic regression on padded token ids (see the module docstring).

    Inputs: ``x, lengths``: token ids ``(N, L)`` and optional true lengths ``(N,)``.
    Outputs: **logits** ``(N, C)``.
    """

    def __init__(self, config: BagClassifierConfig) -> None:
        super().__init__()
        self.config = config
        # a convex problem: start from the uniform prediction (and leave the global RNG alone, so
        # fitting the baseline beside a recurrent model does not change that model's draws)
        rows = config.vocab_size + config.buckets
        self.weight = nn.Embedding(
            rows, config.num_classes, _weight=torch.zeros(rows, config.num_classes)
        )
        self.bias = nn.Parameter(torch.zeros(config.num_classes))

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if x.dim() != 2 or x.dtype.is_floating_point:
            raise ValueError(
                f"expected token ids of shape (N, L) and an integer dtype, got shape "
                f"{tuple(x.shape)} and dtype {x.dtype}"
            )
        batch, max_len = x.shape
        if max_len == 0:
            raise ValueError("expected sequences of length >= 1, got L = 0")
        lengths = check_lengths(lengths, batch, max_len)
        if lengths is None:
            lengths = torch.full((batch,), max_len, dtype=torch.long, device=x.device)
        ids, valid = ngram_ids(x.long(), lengths, self.config.vocab_size, self.config.buckets)
        weights = valid.to(self.weight.weight.dtype)  # (N, F)
        total = torch.einsum("nf,nfc->nc", weights, self.weight(ids))  # (N, C)
        return total / weights.sum(dim=1, keepdim=True).clamp_min(1.0).sqrt() + self.bias

    @torch.no_grad()
    def predict_proba(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        """Class probabilities ``(N, C)``."""
        return torch.softmax(self.forward(x, lengths), dim=-1)

    def to_config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    @classmethod
    def from_config_dict(cls, data: dict[str, Any]) -> BagClassifier:
        return cls(BagClassifierConfig.from_dict(data))

    def extra_repr(self) -> str:
        return f"buckets={self.config.buckets}, num_classes={self.config.num_classes}"


def fit_bag(
    config: BagClassifierConfig,
    ids: Sequence[Sequence[int]],
    labels: Sequence[int],
    *,
    epochs: int = 5,
    batch_size: int = 64,
    lr: float = 0.05,
    seed: int = 0,
) -> BagClassifier:
    """A :class:`BagClassifier` trained on encoded texts ``ids`` and label ids ``labels``:
    ``epochs`` passes of Adam over length-bucketed batches, the learning rate decaying linearly
    to zero (deterministic for ``seed``; seconds on SST-2's 67k sentences on 2 cores)."""
    model = BagClassifier(config)
    model.weight.sparse = True  # a batch touches a few rows: sparse Adam updates only those
    optimizers = [
        torch.optim.SparseAdam([model.weight.weight], lr=lr),
        torch.optim.Adam([model.bias], lr=lr),
    ]
    target = torch.as_tensor(list(labels), dtype=torch.long)
    plans = [
        batch_order([len(s) for s in ids], batch_size, seed=seed, epoch=epoch)
        for epoch in range(epochs)
    ]
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small ops: a second thread only waits (10x slower on a busy machine)
    try:
        _epochs(model, optimizers, plans, ids, target, lr)
    finally:
        torch.set_num_threads(threads)
        model.weight.sparse = False
    return model.eval()


def _epochs(
    model: BagClassifier,
    optimizers: list[torch.optim.Optimizer],
    plans: list[list[list[int]]],
    ids: Sequence[Sequence[int]],
    target: Tensor,
    lr: float,
) -> None:
    """The steps of :func:`fit_bag`: cross-entropy, learning rate ``lr`` decaying linearly to 0."""
    total, step = sum(len(plan) for plan in plans), 0
    for plan in plans:
        for batch in plan:
            x, lengths = pad_sequences([ids[i] for i in batch], model.config.padding_idx or 0)
            loss = F.cross_entropy(model(x, lengths), target[batch])
            for optimizer in optimizers:
                optimizer.param_groups[0]["lr"] = lr * (1 - step / total)
                optimizer.zero_grad(set_to_none=True)
            loss.backward()
            for optimizer in optimizers:
                optimizer.step()
            step += 1
