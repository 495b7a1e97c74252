"""The optimiser of every run: AdamW with weight decay on matrices only, its learning-rate
schedule (linear warmup, then cosine decay or constant), and gradient clipping."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from rnnkit.training.settings import TrainConfig

__all__ = ["build_optimizer", "clip_gradients", "grad_norm", "learning_rate"]


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW over ``model``'s trainable parameters; biases and norms (1-d) get no weight decay."""
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}]
    if no_decay:
        groups.append({"params": no_decay, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=config.lr, betas=(config.beta1, config.beta2))


def learning_rate(config: TrainConfig, step: int, elapsed: float) -> float:
    """Learning rate of step ``step`` (0-based) at ``elapsed`` seconds: linear warmup, then cosine
    decay to ``lr * min_lr_ratio`` over the steps, or over the time budget when ``max_minutes``
    is set (whichever is further along), or constant."""
    cfg = config
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return cfg.lr
    progress = 0.0
    if cfg.max_steps is not None:
        span = max(1, cfg.max_steps - cfg.warmup_steps)
        progress = (step - cfg.warmup_steps) / span
    if cfg.max_minutes is not None:
        progress = max(progress, elapsed / (cfg.max_minutes * 60.0))
    progress = min(max(progress, 0.0), 1.0)
    ratio = cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    return cfg.lr * ratio


def clip_gradients(model: nn.Module, config: TrainConfig) -> float:
    """Clip ``model``'s gradients as ``config.clip`` says; returns their norm before clipping."""
    params = [p for p in model.parameters() if p.grad is not None]
    if config.clip == "norm":
        return float(torch.nn.utils.clip_grad_norm_(params, config.clip_value))
    norm = grad_norm(params)
    if config.clip == "value" and math.isfinite(norm):
        torch.nn.utils.clip_grad_value_(params, config.clip_value)
    return norm


def grad_norm(params: Sequence[torch.Tensor]) -> float:
    """The global L2 norm of the gradients of ``params`` (0 without any)."""
    if not params:
        return 0.0
    norms = torch.stack([torch.linalg.vector_norm(p.grad.detach()) for p in params])
    return float(torch.linalg.vector_norm(norms))
