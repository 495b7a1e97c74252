"""``copy``: recall ``n_copy`` symbols after a delay of ``seq_len`` blank steps (long-range
memory), scored on the copied symbols beside chance (``1 / n_symbols``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data import synthetic as data
from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig
from rnnkit.tasks.exporting import tagger_spec
from rnnkit.tasks.synthetic.common import Defaults, Goal, Head, SyntheticKind, token_loss

__all__ = ["Copy"]


class Copy(SyntheticKind):
    name = "copy"
    defaults = Defaults(20, "gru", 128, 1, max_steps=1500, batch_size=64, lr=3e-2, every=250)
    goal = Goal("accuracy on copied symbols", "accuracy", ">=", 0.99, "chance")
    head = Head(SequenceTagger, SequenceTaggerConfig, tagger_spec)
    record, shape = "output", "[symbol, ...]"

    def draw(self, n: int, seed: torch.Generator | int, split: str = "train"):
        d = self.data
        return data.copy_task(
            n, seq_len=d.seq_len, n_copy=d.n_copy, n_symbols=d.n_symbols, seed=seed
        )

    def model_config(self, rnn: dict[str, Any]) -> SequenceTaggerConfig:
        return SequenceTaggerConfig(
            vocab_size=self.data.n_symbols + 2,
            num_tags=self.data.n_symbols + 1,
            embedding_dim=16,
            padding_idx=None,
            unk_idx=None,
            bidirectional=False,  # recall, not look-ahead
            **rnn,
        )

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return token_loss(out, y)

    def rows(self, x: Tensor, y: Tensor, out: Tensor) -> dict[str, dict[str, float]]:
        copied = slice(-self.data.n_copy, None)
        accuracy = (out[:, copied].argmax(-1) == y[:, copied]).float().mean().item()
        return {
            self.goal.metric: {"model": accuracy, self.goal.baseline: 1.0 / self.data.n_symbols},
            "loss": {"model": self.loss(out, y).item()},
        }

    def expected(self) -> str:
        return f"{self.shape} of symbols 0..{self.data.n_symbols + 1}"

    def tensor(self, item: Any) -> Tensor | None:
        t = torch.as_tensor(item, dtype=torch.long)
        ok = t.dim() == 1 and bool(((t >= 0) & (t <= self.data.n_symbols + 1)).all())
        return t if ok else None

    def answer(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        return {"output": model(x)[0].argmax(-1).tolist()}
