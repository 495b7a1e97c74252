"""``sine``: the next value of a sine wave (the Elman tutorial: a 6-unit tanh RNN), tested on
phases unseen in training, beside persistence (repeat the last value). The metric leaves out
step 1: from one value no model can tell a rising wave from a falling."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.data import synthetic as data
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.tasks.exporting import forecaster_spec
from rnnkit.tasks.synthetic.common import Defaults, Goal, Head, SyntheticKind

__all__ = ["Sine"]


class Sine(SyntheticKind):
    name = "sine"
    defaults = Defaults(20, "rnn", 6, 1, max_steps=3000, batch_size=32, lr=3e-2, every=500)
    goal = Goal("MSE (steps 2..L, unseen phases)", "mse", "<", 1e-3, "persistence")
    head = Head(Forecaster, ForecasterConfig, forecaster_spec)
    record, shape = "next", "[x1, x2, ...]"

    def draw(self, n: int, seed: torch.Generator | int, split: str = "train"):
        wave = data.sine_wave(
            n, seq_len=self.data.seq_len, split="test" if split == "test" else "train", seed=seed
        )
        return wave.inputs, wave.targets[..., 0]  # (N, L, 1), (N, L)

    def model_config(self, rnn: dict[str, Any]) -> ForecasterConfig:
        return ForecasterConfig(
            input_size=1, lookback=self.data.seq_len, mode="autoregressive", **rnn
        )

    def outputs(self, model: nn.Module, x: Tensor) -> Tensor:
        return model.step_predictions(x)  # (N, L)

    def loss(self, out: Tensor, y: Tensor) -> Tensor:
        return F.mse_loss(out, y)

    def rows(self, x: Tensor, y: Tensor, out: Tensor) -> dict[str, dict[str, float]]:
        errors, persistence = (out - y) ** 2, (x[:, :, 0] - y) ** 2  # (N, L): repeat the last
        baseline = self.goal.baseline
        return {
            self.goal.metric: {
                "model": errors[:, 1:].mean().item(),
                baseline: persistence[:, 1:].mean().item(),
            },
            "MSE (all steps)": {"model": errors.mean().item(), baseline: persistence.mean().item()},
        }

    def answer(self, model: nn.Module, x: Tensor) -> dict[str, Any]:
        return {"next": round(float(model.step_predictions(x[..., None])[0, -1]), 6)}
