"""What the classify task does for honest scores on long texts (see :mod:`rnnkit.tasks.classify`).

- **Length cap.** :func:`encode_capped` encodes texts and counts what a ``max_length`` cap cuts,
  so the log never truncates silently (:meth:`Cut.message`).
- **The bag-of-n-grams baseline.** :func:`fit_baseline` trains a
  :class:`~rnnkit.models.bag.BagClassifier` on the training split when a run starts (seconds);
  the task state saves it, so the final report and every later ``evaluate`` print it beside the
  model (validation during training skips it). A run written before it existed has none.
- **``--model bag``**: :func:`bag_model` builds the bag model the Trainer trains instead of the
  recurrent one; :func:`is_bag` tells which a config or checkpoint holds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rnnkit.data import labelled
from rnnkit.data.labelled import pad_sequences
from rnnkit.errors import RnnkitError
from rnnkit.metrics.classification import accuracy, macro_f1
from rnnkit.models.bag import BagClassifier, BagClassifierConfig, buckets_for, fit_bag
from rnnkit.training.devices import model_device

__all__ = [
    "BAG",
    "Cut",
    "bag_model",
    "baseline",
    "class_probabilities",
    "encode_capped",
    "fit_baseline",
    "is_bag",
    "probability_metrics",
]

BAG = "bag of n-grams"  # the baseline's column in the reports
BAG_EPOCHS = 5  # SST-2: 81.4% dev in 15 s on one core; BBC news: 98.8% test in 5 s
HYBRID_LENGTH = 100  # tokens: the median training text length from which --hybrid turns on


@dataclass
class Cut:
    """What a length cap cut from encoded texts: tokens cut of ``total``, in ``texts`` of
    ``count`` texts."""

    tokens: int = 0
    total: int = 0
    texts: int = 0
    count: int = 0

    def message(self, cap: int, what: str) -> str:
        """One log line, e.g. ``max_length 400 cut 1,234 of 56,789 training tokens (2.2%), from
        12 of 100 texts``."""
        share = self.tokens / max(self.total, 1)
        return (
            f"max_length {cap:,} cut {self.tokens:,} of {self.total:,} {what} tokens "
            f"({share:.1%}), from {self.texts:,} of {self.count:,} texts"
        )


def encode_capped(tokenizer: Any, texts: Sequence[str], cap: int | None) -> tuple[list, Cut]:
    """The ids of ``texts`` (at most ``cap`` each; ``None``: all) and what the cap cut."""
    ids, cut = [], Cut(count=len(texts))
    for text in texts:
        full = tokenizer.encode(text)
        cut.total += len(full)
        if cap is not None and len(full) > cap:
            cut.tokens += len(full) - cap
            cut.texts += 1
            full = full[:cap]
        ids.append(full)
    return ids, cut


def wants_hybrid(ids: Sequence[Sequence[int]]) -> bool:
    """Whether ``--hybrid`` (none) turns on for these training texts: when their median length
    is at least :data:`HYBRID_LENGTH` tokens.

    On long documents the bag of n-grams is strong and the network slow, so the hybrid keeps
    the bag's accuracy and adds what the network learns in its budget (BBC news). On short
    texts it stops the network from learning: the bag, fitted on the same training rows, fits
    them almost perfectly, so little gradient is left for the network (SST-2, whose training
    rows are phrases: 3,000 steps left the hybrid's held-out accuracy at its start, 92.1%,
    while the network alone went from 74.8% to 86%, and scored higher on dev).
    """
    lengths = sorted(len(s) for s in ids)
    return bool(lengths) and lengths[len(lengths) // 2] >= HYBRID_LENGTH


def is_bag(config: Any, model_config: dict[str, Any] | None = None) -> bool:
    """Whether a run's model is the bag of n-grams: by its checkpoint's ``model_config`` when
    given, else by the config's ``model.kind`` (absent in runs older than ``--model bag``)."""
    if model_config is not None:
        return model_config.get("kind") == "bag"
    return getattr(config.model, "kind", "rnn") == "bag"


def bag_model(num_classes: int, tokenizer: Any, ids: Sequence[Sequence[int]]) -> BagClassifier:
    """An untrained bag of n-grams for ``num_classes``, with bigram buckets sized by the tokens of
    the training texts ``ids``."""
    config = BagClassifierConfig(
        num_classes,
        len(tokenizer.vocab),
        buckets_for(sum(len(s) for s in ids)),
        padding_idx=tokenizer.pad_id,
    )
    return BagClassifier(config)


def fit_baseline(
    ids: Sequence[Sequence[int]], labels: Sequence[int], num_classes: int, tokenizer: Any, seed: int
) -> tuple[dict[str, Any], float]:
    """The bag-of-n-grams baseline trained on the training split (:func:`fit_bag`, seeded) as the
    task state saves it (``{"config", "weights"}``), and the seconds it took."""
    start = time.perf_counter()
    config = bag_model(num_classes, tokenizer, ids).config
    model = fit_bag(config, ids, labels, epochs=BAG_EPOCHS, seed=seed)
    # half precision halves the checkpoints (SST-2: 1.1 MB, BBC news: 2.9 MB); every score reads
    # the weights back from this saved form, so the report and a later evaluate agree exactly
    weights = {name: t.detach().to(torch.float16) for name, t in model.state_dict().items()}
    return {"config": asdict(config), "weights": weights}, time.perf_counter() - start


def baseline(saved: dict[str, Any] | None) -> BagClassifier | None:
    """The baseline saved by :func:`fit_baseline` (``None``: the run has none)."""
    if saved is None:
        return None
    try:
        model = BagClassifier(BagClassifierConfig.from_dict(dict(saved["config"])))
        model.load_state_dict(saved["weights"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise RnnkitError(f"malformed bag-of-n-grams baseline in checkpoint: {error}") from error
    return model.eval()


@torch.no_grad()
def class_probabilities(
    model: nn.Module, ids: Sequence[Sequence[int]], pad_id: int, batch_size: int = 256
) -> torch.Tensor:
    """``(N, C)`` class probabilities of encoded texts, in their order (the mode is restored)."""
    device, was_training = model_device(model), model.training
    model.eval()
    probs = torch.zeros(len(ids), model.config.num_classes)
    try:
        for batch in labelled.batch_order([len(s) for s in ids], batch_size, shuffle=False):
            x, lengths = pad_sequences([ids[i] for i in batch], pad_id)
            logits = model(x.to(device), lengths.to(device))  # (B, C)
            probs[batch] = torch.softmax(logits.float(), dim=-1).cpu()
    finally:
        model.train(was_training)
    return probs


def probability_metrics(probs: torch.Tensor, gold: list[int]) -> dict[str, float]:
    """Accuracy, macro-F1 and the mean cross-entropy (nats) of class probabilities ``(N, C)``."""
    predicted = probs.argmax(dim=-1).tolist()
    return {
        "accuracy": accuracy(predicted, gold),
        "macro_f1": macro_f1(predicted, gold),
        "loss": F.nll_loss(torch.log(probs.clamp_min(1e-12)), torch.tensor(gold)).item(),
    }
