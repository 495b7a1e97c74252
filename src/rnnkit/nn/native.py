"""The native backend: PyTorch's fused kernels (``torch._VF``, cuDNN on a GPU) on the cells' own
parameters, for the layers whose cells name a kernel in ``native_mode``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from torch import _VF, Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.nn.cells import RNNCellBase, State

if TYPE_CHECKING:
    from rnnkit.nn.runner import Recurrent

__all__ = ["run_native", "run_native_packed", "run_native_padded", "zero_state"]


def _native_weights(cell: RNNCellBase) -> list[Tensor]:
    """A cell's parameters in the order torch's fused kernels take them."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
    return [p for p in (getattr(cell, name, None) for name in names) if p is not None]


def _native_function(mode: str | None) -> Callable[..., tuple[Tensor, Tensor]]:
    return {"RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu, "GRU": _VF.gru}[mode]  # type: ignore[index]


def _native_args(layer: Recurrent) -> tuple[object, ...]:
    weights = [p for cell in layer._cells for p in _native_weights(cell)]
    has_bias = layer._cells[0].bias_ih is not None
    return (weights, has_bias, layer.num_layers, layer.dropout, layer.training, layer.bidirectional)


def zero_state(layer: Recurrent, x: Tensor, batch: int) -> State:
    """The zero initial state of every layer and direction, each (D * num_layers, N, size)."""
    count = layer.num_layers * layer.num_directions
    return tuple(x.new_zeros(count, batch, size) for size in layer._cells[0].state_sizes)


def run_native(layer: Recurrent, x: Tensor, state: State | None) -> tuple[Tensor, State]:
    """``x`` (L, N, H_in) through torch's fused kernel; the contract of
    :func:`rnnkit.nn.reference.run_reference`."""
    hx = zero_state(layer, x, x.shape[1]) if state is None else state
    if layer.native_mode() == "LSTM":
        output, h, c = _VF.lstm(x, hx, *_native_args(layer), False)
        return output, (h, c)
    output, h = _native_function(layer.native_mode())(x, hx[0], *_native_args(layer), False)
    return output, (h,)


def run_native_packed(
    layer: Recurrent, data: Tensor, batch_sizes: Tensor, state: State | None
) -> tuple[Tensor, State]:
    """Packed ``data`` through torch's fused kernel; the state is in the packed (sorted) order."""
    hx = zero_state(layer, data, int(batch_sizes[0])) if state is None else state
    if layer.native_mode() == "LSTM":
        output, h, c = _VF.lstm(data, batch_sizes, hx, *_native_args(layer))
        return output, (h, c)
    output, h = _native_function(layer.native_mode())(
        data, batch_sizes, hx[0], *_native_args(layer)
    )
    return output, (h,)


def run_native_padded(
    layer: Recurrent, x: Tensor, state: State | None, lengths: Tensor
) -> tuple[Tensor, State]:
    """A padded batch ``x`` (L, N, H_in) through the fused kernel, packed by ``lengths``."""
    packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
    if state is None:
        # zeros of the batch's size taken from x, not from the packed batch sizes, so that
        # a traced or exported graph keeps the batch size dynamic
        state = zero_state(layer, x, x.shape[1])
    state = tuple(h.index_select(1, packed.sorted_indices) for h in state)
    data, final = run_native_packed(layer, packed.data, packed.batch_sizes, state)
    output, _ = pad_packed_sequence(
        PackedSequence(data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
        total_length=x.shape[0],
    )
    return output, tuple(f.index_select(1, packed.unsorted_indices) for f in final)
