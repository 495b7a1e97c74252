"""What the runner checks before it runs: the input, the ``lengths`` of a padded batch and the initial
state ``hx``, each refused with a message that says what was expected and what was given. Under
``torch.autocast``, floating-point inputs and states of the autocast dtype are first brought to the
parameters' dtype (see :mod:`rnnkit.nn.runner` on autocast)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rnnkit.nn.cells import State

__all__ = [
    "autocast_dtype",
    "check_hx",
    "check_input",
    "check_int",
    "check_lengths",
    "from_autocast",
]


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The dtype autocast gives matrix products on ``device`` here and now; None when it is off."""
    try:
        if torch.is_autocast_enabled(device.type):
            return torch.get_autocast_dtype(device.type)
    except RuntimeError:  # a device type autocast does not know
        pass
    return None


def check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def from_autocast(x: Tensor, dtype: torch.dtype) -> Tensor:
    """Under autocast, a floating-point input of another dtype (an autocast ``nn.Linear``'s
    bfloat16 output) in the parameters' ``dtype``; anything else as it is, for the checks."""
    if x.dtype != dtype and x.is_floating_point() and autocast_dtype(x.device) is not None:
        return x.to(dtype)
    return x


def check_input(x: Tensor, input_size: int, weight: Tensor) -> None:
    """``x`` (L, N, H_in) against the layer's ``input_size`` and its first cell's ``weight_ih``."""
    if x.shape[-1] != input_size:
        raise ValueError(
            f"input: expected {input_size} features (input_size) in the last dimension, "
            f"got {x.shape[-1]}"
        )
    if x.dtype != weight.dtype:
        raise TypeError(
            f"input: expected dtype {weight.dtype} (the layer's parameters), got {x.dtype}"
        )
    if x.device != weight.device:
        raise RuntimeError(
            f"input: expected device {weight.device} (the layer's parameters), got {x.device}"
        )
    if x.shape[0] == 0:
        raise ValueError("input: expected a sequence length >= 1, got 0")


def check_lengths(lengths: object, batch: int, steps: int, device: torch.device) -> Tensor:
    """``lengths`` as a (N,) long tensor on ``device``, each in [1, steps]."""
    if not isinstance(lengths, Tensor):
        if isinstance(lengths, (list, tuple)):
            lengths = torch.as_tensor(lengths)
        else:
            raise TypeError(f"lengths: expected a 1-D tensor of ints, got {type(lengths).__name__}")
    if lengths.dim() != 1:
        raise ValueError(
            f"lengths: expected a 1-D tensor, got {lengths.dim()}-D of shape {tuple(lengths.shape)}"
        )
    if lengths.dtype.is_floating_point or lengths.dtype.is_complex or lengths.dtype == torch.bool:
        raise TypeError(f"lengths: expected an integer dtype, got {lengths.dtype}")
    if lengths.numel() != batch:
        raise ValueError(
            f"lengths: expected {batch} entries (the batch size), got {lengths.numel()}"
        )
    low, high = int(lengths.min()), int(lengths.max())
    if low < 1:
        raise ValueError(f"lengths: expected every length >= 1, got {low}")
    if high > steps:
        raise ValueError(
            f"lengths: expected every length <= {steps} (the sequence length), got {high}"
        )
    return lengths.to(device=device, dtype=torch.long)


def _hx_components(hx: Tensor | Sequence[Tensor], count: int) -> Sequence[Tensor]:
    """``hx`` as a sequence of ``count`` state components: a Tensor alone, else a tuple (h_0, c_0)."""
    if count == 1:
        if not isinstance(hx, Tensor):
            raise TypeError(f"hx: expected a Tensor, got {type(hx).__name__}")
        return (hx,)
    if not isinstance(hx, (tuple, list)) or len(hx) != count:
        raise TypeError(
            f"hx: expected a tuple of {count} tensors (h_0, c_0), got {type(hx).__name__}"
            + (f" of length {len(hx)}" if isinstance(hx, (tuple, list)) else "")
        )
    return hx


def check_hx(
    hx: Tensor | Sequence[Tensor] | None,
    x: Tensor,
    batch: int,
    unbatched: bool,
    sizes: tuple[int, ...],
    count: int,
) -> State | None:
    """Validate ``hx`` for cells of ``state_sizes`` ``sizes`` in ``count`` = D * num_layers stacks;
    give back its components, each ``(D * num_layers, N, size)``."""
    if hx is None:
        return None
    checked = []
    for index, (h, size) in enumerate(zip(_hx_components(hx, len(sizes)), sizes)):
        name = "hx" if len(sizes) == 1 else f"hx[{index}]"
        if not isinstance(h, Tensor):
            raise TypeError(f"{name}: expected a Tensor, got {type(h).__name__}")
        expected = (count, size) if unbatched else (count, batch, size)
        if tuple(h.shape) != expected:
            what = "2-D for unbatched input" if unbatched else "(D * num_layers, N, H_out)"
            raise ValueError(f"{name}: expected shape {expected} {what}, got {tuple(h.shape)}")
        if h.dtype != x.dtype and h.is_floating_point() and autocast_dtype(x.device):
            h = h.to(x.dtype)  # as the input (see from_autocast)
        if h.dtype != x.dtype:
            raise TypeError(f"{name}: expected dtype {x.dtype} (the input's), got {h.dtype}")
        if h.device != x.device:
            raise RuntimeError(f"{name}: expected device {x.device} (the input's), got {h.device}")
        checked.append(h.unsqueeze(1) if unbatched else h)  # (D * num_layers, N, size)
    return tuple(checked)
