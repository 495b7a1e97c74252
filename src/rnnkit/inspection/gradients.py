"""Gradient flow through time: how much the loss at the last step depends on the hidden state at
each earlier step.

The probe adds a zero tensor that requires grad to the top layer's ``h_t`` at every step; its
gradient is ``dL/dh_t`` through every later step. Where the loss has a term at every step (a
language model's, a tagger's), those terms would reach each ``h_t`` directly and hide what the
recurrence carries, so by default the layer's outputs before the last step are detached: the
gradient then enters at the last step only and reaches ``h_t`` through the recurrence alone, the
textbook picture of ``dL_T/dh_t``. Its norm against t, on a log scale, shows gradients vanishing
towards the first steps (a tanh RNN) or carried back (an LSTM's or a GRU's gates).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.inspection.trace import find_recurrent

__all__ = ["gradient_flow"]


def _detach_early(calls: list[int], module: nn.Module, args: tuple[Any, ...], result: Any) -> Any:
    """A forward hook of the recurrent layer: on its first call (``calls[0] == 1``), its output
    sequence with every step but the last detached, so only the last output carries gradient."""
    output, final = result
    if calls[0] != 1 or not isinstance(output, Tensor) or output.shape[0] == 0:
        return result
    time = 1 if module.batch_first and output.dim() == 3 else 0  # (N, L, H) or (L, [N,] H)
    steps = output.shape[time]
    early, last = output.detach().narrow(time, 0, steps - 1), output.narrow(time, steps - 1, 1)
    return torch.cat([early, last], dim=time), final


def gradient_flow(
    model: nn.Module,
    loss_fn: Callable[[nn.Module, Any], Any],
    batch: Any,
    *,
    last_step: bool = True,
) -> Tensor:
    """``||dL/dh_t||`` (L,) for t = 0..L-1: the norm over the units of the gradient of
    ``loss_fn(model, batch)`` (a tensor, or an object with ``.loss``) with respect to the top
    layer's state ``h_t`` (the forward direction), averaged over the batch.

    With ``last_step`` (the default) the layer's output sequence is detached before its last step,
    so only the loss's dependence on the last output (and on the final state, where the model uses
    it) is followed back; a loss that reads only those is unchanged by it. A ``PackedSequence``
    output is left as it is.

    Only the layer's first forward in the loss is probed (an autoregressive rollout calls it again
    step by step; those steps are reached through the first). The model's mode is kept: call it in
    evaluation mode for a gradient without dropout. A step the loss does not reach has norm 0.
    """
    layer = find_recurrent(model, "gradient flow")
    top = layer.num_layers - 1
    shifts: dict[int, Tensor] = {}
    calls = [0]

    def count(module: nn.Module, args: tuple[Any, ...]) -> None:
        calls[0] += 1

    def shift(index: int, direction: int, t: int, state: tuple[Tensor, ...]):
        if index != top or direction != 0 or calls[0] != 1 or t in shifts:
            return state
        zero = torch.zeros_like(state[0], requires_grad=True)  # (N, H_out): its grad is dL/dh_t
        shifts[t] = zero
        return (state[0] + zero, *state[1:])

    handles = [layer.register_forward_pre_hook(count)]
    if last_step:
        handles.append(layer.register_forward_hook(functools.partial(_detach_early, calls)))
    try:
        with torch.enable_grad(), layer.probe(shift):
            output = loss_fn(model, batch)
            loss = getattr(output, "loss", output)
            steps = sorted(shifts)
            # only the probed zeros: the parameters' .grad stay untouched
            grads = torch.autograd.grad(loss, [shifts[t] for t in steps], allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    norms = torch.zeros(len(steps), dtype=torch.float64)
    for t, grad in zip(steps, grads):
        if grad is not None:
            norms[t] = grad.detach().double().norm(dim=-1).mean().cpu()  # per example, then mean
    return norms
