"""``adding``: the sum of the two marked numbers of a sequence (long-range memory), beside always
answering 1 (MSE ~0.167)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.config import ConfigError
from rnnkit.data import synthetic as data
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.tasks.exporting import forecaster_spec
from rnnkit.tasks.synthetic.common import Defaults, Goal, Head, SyntheticKind

__all__ = ["Adding"]


class Adding(SyntheticKind):
    name = "adding"
    defaults = Defaults(50, "gru", 64, 1, max_steps=1000, batch_size=32, lr=1e-2, every=200)
    goal = Goal("MSE", "mse", "<", 0.01, "always 1")
    head = Head(Forecaster, ForecasterConfig, forecaster_spec)
    record, shape, width = "sum", "[[number, marker], ...]", 2

    def check(self) -> None:
        if self.data.seq_len < 2:
            raise ConfigError(
                "seq_len", f"the adding problem needs seq_len >= 2, got {self.data.seq_len}"
            )

    def draw(self, n: int, seed: torch.Generator | int, split: str = "train"):
        return data.adding_problem(n, seq_len=self.data.seq_len, seed=seed)

    def model_config(self, rnn: dict[str, Any]) -> ForecasterConfig:
        return ForecasterConfig(input_size=2, lookback=self.data.seq_len, target_index=-1, **rnn)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(out, y)

    def rows(self, x: Tensor, y: Tensor, out: Tensor) -> dict[str, dict[str, float]]:
        always_one = F.mse_loss(torch.ones_like(y), y).item()
        return {
            self.goal.metric: {"model": self.loss(out, y).item(), self.goal.baseline: always_one}
        }

    def answer(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        return {"sum": round(float(model(x)[0, 0]), 6)}
