"""Every step's state of a recurrent layer, recorded with :meth:`Recurrent.probe`, and each gate's
activation at every step, recomputed from the recorded states with the cells' ``gate_values``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from rnnkit.errors import RnnkitError
from rnnkit.nn import Recurrent

__all__ = ["Trace", "find_recurrent", "gate_values", "trace"]

T = TypeVar("T")


def find_recurrent(model: nn.Module, purpose: str = "inspecting") -> Recurrent:
    """The model's recurrent layer (the first :class:`Recurrent` among its modules)."""
    if isinstance(model, Recurrent):
        return model
    for module in model.modules():
        if isinstance(module, Recurrent):
            return module
    raise RnnkitError(
        f"{purpose} needs a recurrent model; {type(model).__name__} has no rnnkit layer"
    )


@dataclass
class Trace:
    """What one forward of a layer went through: its input ``x`` (L, N, H_in), time first, the
    initial state (one tensor (D * layers, N, size) per component, or ``None`` for zeros), and
    ``states[layer, direction][t]``, the state tuple after step t (each (N, size))."""

    layer: Recurrent
    x: Tensor
    initial: tuple[Tensor, ...] | None
    states: dict[tuple[int, int], dict[int, tuple[Tensor, ...]]] = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.x.shape[0]

    def component(self, layer: int, index: int = 0, direction: int = 0) -> Tensor:
        """One state component of a layer and direction at every step: (L, N, size)."""
        seen = self.states[layer, direction]
        return torch.stack([seen[t][index] for t in range(self.steps)])

    def output(self, layer: int) -> Tensor:
        """A layer's output at every step, its directions concatenated: (L, N, D * H_out)."""
        parts = [self.component(layer, 0, d) for d in range(self.layer.num_directions)]
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)

    def previous(self, layer: int, t: int, direction: int = 0) -> tuple[Tensor, ...]:
        """The state step t started from: the one after the step before it (t - 1, or t + 1 in
        the reverse direction), or the initial state."""
        first = 0 if direction == 0 else self.steps - 1
        if t != first:
            return self.states[layer, direction][t - 1 if direction == 0 else t + 1]
        cell = self.layer.cells[layer * self.layer.num_directions + direction]
        if self.initial is None:
            return cell.init_state(self.x, self.x.shape[1])
        index = layer * self.layer.num_directions + direction
        return tuple(component[index] for component in self.initial)


def trace(layer: Recurrent, run: Callable[[], T]) -> tuple[T, Trace]:
    """Call ``run()`` (which runs ``layer`` once or more, e.g. a model's forward) and record the
    first forward of ``layer``: its input, initial state and the state after every step.

    Only the first forward is recorded: an autoregressive rollout calls the layer again one step
    at a time. The states are recorded as computed (not detached)."""
    calls: list[Trace] = []

    def before(module: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        x = args[0]
        if not isinstance(x, Tensor):
            raise RnnkitError("inspecting needs a tensor input, not a PackedSequence")
        if x.dim() == 2:  # unbatched (L, H_in)
            x = x.unsqueeze(1)
        elif module.batch_first:
            x = x.transpose(0, 1)
        hx = args[1] if len(args) > 1 else kwargs.get("hx")
        if isinstance(hx, Tensor):
            hx = (hx,)
        calls.append(Trace(module, x, None if hx is None else tuple(hx)))

    def record(index: int, direction: int, t: int, state: tuple[Tensor, ...]):
        if len(calls) == 1:
            calls[0].states.setdefault((index, direction), {})[t] = tuple(state)
        return state

    handle = layer.register_forward_pre_hook(before, with_kwargs=True)
    try:
        with layer.probe(record):
            result = run()
    finally:
        handle.remove()
    if not calls:
        raise RnnkitError("the model's forward did not run its recurrent layer")
    return result, calls[0]


def gate_values(recorded: Trace, direction: int = 0) -> dict[int, dict[str, Tensor]]:
    """Each layer's gate activations at every step, ``{layer: {gate: (L, N, H)}}``, from the
    recorded states: ``cell.gate_values(cell.project_input(input_t), state_{t-1})``, where a
    layer's input is the layer's input (layer 0) or the previous layer's output."""
    layer = recorded.layer
    found: dict[int, dict[str, Tensor]] = {}
    for index in range(layer.num_layers):
        cell = layer.cells[index * layer.num_directions + direction]
        x = recorded.x if index == 0 else recorded.output(index - 1)  # (L, N, H_in)
        xp = cell.project_input(x)  # (L, N, G)
        steps = [
            cell.gate_values(xp[t], recorded.previous(index, t, direction))
            for t in range(recorded.steps)
        ]
        if steps and steps[0]:
            found[index] = {name: torch.stack([s[name] for s in steps]) for name in steps[0]}
    return found
