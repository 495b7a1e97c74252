"""``mean-sign``: the sign of the mean of a Gaussian sequence (many-to-one classification with a
2-layer tanh RNN of 13,314 parameters), beside the majority class. ``rnnkit inspect`` shows the
hidden-state paths of validation sequences of each class."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data import synthetic as data
from rnnkit.errors import RnnkitError
from rnnkit.inspection import pca_paths
from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.tasks.base import TrainedModel
from rnnkit.tasks.exporting import classifier_spec
from rnnkit.tasks.synthetic.common import SEED_VAL, Defaults, Goal, Head, SyntheticKind

__all__ = ["PATHS_PER_CLASS", "MeanSign"]

PATHS_PER_CLASS = 12  # sequences of each class whose paths rnnkit inspect draws


class MeanSign(SyntheticKind):
    name = "mean-sign"
    defaults = Defaults(20, "rnn", 64, 2, max_steps=1500, batch_size=64, lr=1e-3, every=250)
    goal = Goal("accuracy", "accuracy", ">=", 0.97, "majority class")
    head = Head(SequenceClassifier, SequenceClassifierConfig, classifier_spec)
    record, shape, width = "label", "[[10 numbers], ...]", 10

    def draw(self, n: int, seed: torch.Generator | int, split: str = "train"):
        return data.mean_sign(n, seq_len=self.data.seq_len, seed=seed)

    def model_config(self, rnn: dict[str, Any]) -> SequenceClassifierConfig:
        return SequenceClassifierConfig(num_classes=2, input_size=10, **rnn)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return F.cross_entropy(out, y)

    def rows(self, x: Tensor, y: Tensor, out: Tensor) -> dict[str, dict[str, float]]:
        share = y.float().mean().item()
        return {
            self.goal.metric: {
                "model": (out.argmax(1) == y).float().mean().item(),
                self.goal.baseline: max(share, 1 - share),
            },
            "loss": {"model": self.loss(out, y).item()},
        }

    def answer(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        probs = model.predict_proba(x)[0].tolist()
        return {
            "label": max(range(2), key=probs.__getitem__),
            "probabilities": {str(k): round(p, 6) for k, p in enumerate(probs)},
        }

    def inspect(self, trained: TrainedModel, text: str | None) -> dict[str, Any]:
        """The top layer's hidden-state paths of :data:`PATHS_PER_CLASS` validation sequences of
        each class, projected to 2-D by PCA."""
        if text is not None:
            raise RnnkitError("a mean-sign model has no view of a text")
        seed = self.data.data_seed
        x, y = self.draw(8 * PATHS_PER_CLASS, seed + SEED_VAL)
        picked = torch.cat([(y == label).nonzero()[:PATHS_PER_CLASS, 0] for label in (0, 1)])
        found = pca_paths(trained.model, x[picked].to(trained.device))
        return {
            "paths": {
                "paths": found["paths"],
                "explained": found["explained"],
                "labels": y[picked],
                "predicted": found["outputs"].argmax(-1).cpu(),
                "names": ["negative mean", "positive mean"],
                "source": f"{len(picked)} validation sequences (data seed {seed})",
            }
        }
