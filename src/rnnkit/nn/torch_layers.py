"""torch.nn's ``RNN``, ``LSTM`` and ``GRU`` on the generic runner: torch.nn's exact signature and
``state_dict`` names, so they load torch.nn weights (:meth:`~_TorchLike.from_torch`,
:meth:`~_TorchLike.to_torch`) and replace it without other changes; ``backend`` ``"auto"`` runs
torch's fused kernels on the same parameters, ``"reference"`` the from-scratch cells."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

from torch import Tensor, nn

from rnnkit.nn.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.nn.cells.base import check_choice
from rnnkit.nn.checks import check_int
from rnnkit.nn.regularisers import REGULARISERS
from rnnkit.nn.runner import Layer, take_option

__all__ = ["GRU", "LSTM", "RNN"]


_SETTINGS = ("input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout")


class _TorchLike(Layer):
    """What RNN, LSTM and GRU share: conversion to and from torch.nn (their settings are
    ``_SETTINGS`` plus ``bidirectional`` and the cell's ``_cell_options``)."""

    _torch_class: type[nn.RNNBase]

    @classmethod
    def _settings(cls, source: nn.Module) -> dict[str, object]:
        names = (*_SETTINGS, "bidirectional", *cls._cell_options)
        return {name: getattr(source, name) for name in names}

    @classmethod
    def from_torch(cls, module: nn.RNNBase, *, backend: str = "auto") -> _TorchLike:
        """Build this layer with ``module``'s configuration and a copy of its weights."""
        if not isinstance(module, cls._torch_class):
            raise TypeError(
                f"module: expected a torch.nn.{cls._torch_class.__name__}, got {type(module).__name__}"
            )
        kwargs = {**cls._settings(module), "dropout": float(module.dropout), "backend": backend}
        return _copy(module, module.weight_ih_l0, lambda factory: cls(**kwargs, **factory))

    def to_torch(self) -> nn.RNNBase:
        """A torch.nn layer with this configuration and a copy of these weights.

        torch.nn has none of the recurrent regularisers: a layer using one is a ``ValueError``
        (set it to 0.0 first to convert the weights alone, e.g. for inference)."""
        for name in REGULARISERS:
            if getattr(self, name):
                raise ValueError(
                    f"{name}: torch.nn.{self._torch_class.__name__} has no such option, so "
                    f"to_torch() expected {name}=0.0, got {getattr(self, name)} (set "
                    f"layer.{name} = 0.0 to convert the weights alone)"
                )
        kwargs = self._settings(self)
        return _copy(self, self._cells[0].weight_ih, lambda f: self._torch_class(**kwargs, **f))


def _copy(source: nn.Module, weight: Tensor, build: Callable[[dict], nn.Module]) -> nn.Module:
    """``build({"device": ..., "dtype": ...})`` on ``weight``'s, with ``source``'s weights and mode."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the dropout warning was already given for source
        target = build({"device": weight.device, "dtype": weight.dtype})
    target.load_state_dict(source.state_dict())
    target.train(source.training)
    return target


SHAPES = """
    Inputs: ``input``, ``hx`` (and optionally ``lengths``)
        - ``input``: :math:`(L, N, H_{in})`, :math:`(N, L, H_{in})` with ``batch_first=True``,
          :math:`(L, H_{in})` unbatched, or a ``PackedSequence``.
        - ``hx``: :math:`(D \\cdot num\\_layers, N, H_{out})`, or without N for unbatched input;
          zeros if omitted.
        - ``lengths``: optional 1-D integer tensor of the true lengths of a padded batch; the results
          equal those of packing the batch: final states at each sequence's true end, the reverse
          direction starting there, outputs past the end zero.

    Outputs: ``output``, ``h_n``
        - ``output``: :math:`(L, N, D \\cdot H_{out})` (batch-first or unbatched like the input, packed
          if the input was packed): the last layer's output at every step.
        - ``h_n``: :math:`(D \\cdot num\\_layers, N, H_{out})` whatever ``batch_first`` is: every layer's
          final state.

    Legend: N = batch size, L = sequence length, D = 2 if bidirectional else 1, H_in = input_size,
    H_out = hidden_size (or proj_size for an LSTM with a projection).
"""
_MORE_ARGS = """
    rnnkit adds the keywords ``backend='auto'`` and the regularisers ``recurrent_dropout=0.0``,
    ``weight_drop=0.0``, ``zoneout=0.0`` (see :class:`Recurrent`).
"""


class RNN(_TorchLike):
    r"""A multi-layer Elman RNN with tanh or ReLU, a drop-in replacement for ``torch.nn.RNN``.

    Each layer computes, for every step t, :math:`h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} +
    b_{hh})` (or ReLU) with :class:`rnnkit.nn.cells.RNNCell`; layer k > 0 takes the (dropped-out) outputs
    of layer k - 1 as its input.

    Args: as ``torch.nn.RNN``: ``input_size``, ``hidden_size``, ``num_layers=1``,
    ``nonlinearity='tanh'``, ``bias=True``, ``batch_first=False``, ``dropout=0.0``,
    ``bidirectional=False``, ``device=None``, ``dtype=None``.
    """

    _torch_class = nn.RNN
    _cell_class = RNNCell
    _cell_options = ("nonlinearity",)
    _repr_defaults = (("nonlinearity", "tanh"),)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """``RNN(input_size, hidden_size, num_layers=1, nonlinearity='tanh', ...)``, as torch.nn."""
        args, nonlinearity = take_option(args, kwargs, 3, "nonlinearity", "tanh")
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(*args, **kwargs)

    @property
    def mode(self) -> str:
        return self.native_mode() or "RNN_TANH"


class LSTM(_TorchLike):
    r"""A multi-layer LSTM, a drop-in replacement for ``torch.nn.LSTM``.

    Each layer runs :class:`rnnkit.nn.cells.LSTMCell` (gates i, f, g, o; see its equations) over the
    sequence; with ``proj_size > 0`` the hidden state is projected to ``proj_size`` features by
    ``weight_hr_l<k>``. ``hx`` is a tuple ``(h_0, c_0)`` and the layer returns
    ``output, (h_n, c_n)``; ``c`` has ``hidden_size`` features, ``h`` has :math:`H_{out}`.

    Args: as ``torch.nn.LSTM``: ``input_size``, ``hidden_size``, ``num_layers=1``, ``bias=True``,
    ``batch_first=False``, ``dropout=0.0``, ``bidirectional=False``, ``proj_size=0``,
    ``device=None``, ``dtype=None``.
    """

    _torch_class = nn.LSTM
    _cell_class = LSTMCell
    _cell_options = ("proj_size",)
    mode = "LSTM"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """``LSTM(input_size, hidden_size, ..., bidirectional=False, proj_size=0, ...)``, as
        torch.nn."""
        args, proj_size = take_option(args, kwargs, 7, "proj_size", 0)
        hidden_size = kwargs.get("hidden_size", args[1] if len(args) > 1 else None)
        check_int("hidden_size", hidden_size, 1)
        check_int("proj_size", proj_size, 0)
        if proj_size >= hidden_size:
            raise ValueError(
                f"proj_size: expected less than hidden_size ({hidden_size}), got {proj_size}"
            )
        self.proj_size = proj_size
        super().__init__(*args, **kwargs)


class GRU(_TorchLike):
    r"""A multi-layer GRU, a drop-in replacement for ``torch.nn.GRU``.

    Each layer runs :class:`rnnkit.nn.cells.GRUCell` (gates r, z, n; see its equations) over the sequence.

    Args: as ``torch.nn.GRU``: ``input_size``, ``hidden_size``, ``num_layers=1``, ``bias=True``,
    ``batch_first=False``, ``dropout=0.0``, ``bidirectional=False``, ``device=None``, ``dtype=None``.
    """

    _torch_class = nn.GRU
    _cell_class = GRUCell
    mode = "GRU"


for _layer in (RNN, LSTM, GRU):
    _layer.__doc__ += _MORE_ARGS + SHAPES
