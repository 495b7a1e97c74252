"""torch.nn's ``RNN``, ``LSTM`` and ``GRU`` on the generic runner: torch.nn's exact signature and
``state_dict`` names, so they load torch.nn weights (:meth:`~_TorchLike.from_torch`,
:meth:`~_TorchLike.to_torch`) and replace it without other changes; ``backend`` ``"auto"`` runs
torch's fused kernels on the same parameters, ``"reference"`` the from-scratch cells."""

from __future__ import annotations

import warnings

import torch
from torch import nn

from rnnkit.nn.cells import GRUCell, LSTMCell, RNNCell
from rnnkit.nn.checks import check_int
from rnnkit.nn.regularisers import REGULARISERS
from rnnkit.nn.runner import Recurrent

__all__ = ["GRU", "LSTM", "RNN"]


class _TorchLike(Recurrent):
    """What RNN, LSTM and GRU share: torch.nn's attributes, repr and conversion to and from torch.nn."""

    _torch_class: type[nn.RNNBase]

    def _torch_kwargs(self) -> dict[str, object]:
        return {
            "input_size": self.input_size,
            "hidden_size": self.hidden_size,
            "num_layers": self.num_layers,
            "bias": self.bias,
            "batch_first": self.batch_first,
            "dropout": self.dropout,
            "bidirectional": self.bidirectional,
        }

    @classmethod
    def from_torch(cls, module: nn.RNNBase, *, backend: str = "auto") -> _TorchLike:
        """Build this layer with ``module``'s configuration and a copy of its weights."""
        if not isinstance(module, cls._torch_class):
            raise TypeError(
                f"module: expected a torch.nn.{cls._torch_class.__name__}, got {type(module).__name__}"
            )
        kwargs = {
            "input_size": module.input_size,
            "hidden_size": module.hidden_size,
            "num_layers": module.num_layers,
            "bias": module.bias,
            "batch_first": module.batch_first,
            "dropout": float(module.dropout),
            "bidirectional": module.bidirectional,
        }
        if cls is RNN:
            kwargs["nonlinearity"] = module.nonlinearity
        if cls is LSTM:
            kwargs["proj_size"] = module.proj_size
        weight = module.weight_ih_l0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the dropout warning was already given for module
            layer = cls(**kwargs, backend=backend, device=weight.device, dtype=weight.dtype)
        layer.load_state_dict(module.state_dict())
        layer.train(module.training)
        return layer

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
        weight = self._cells[0].weight_ih
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = self._torch_class(
                **self._torch_kwargs(), device=weight.device, dtype=weight.dtype
            )
        module.load_state_dict(self.state_dict())
        module.train(self.training)
        return module

    def _settings_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if getattr(self, "proj_size", 0):
            text += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if not self.bias:
            text += ", bias=False"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        if self._backend != "auto":
            text += f", backend={self._backend!r}"
        return text


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


class RNN(_TorchLike):
    __doc__ = (
        r"""A multi-layer Elman RNN with tanh or ReLU, a drop-in replacement for ``torch.nn.RNN``.

    Each layer computes, for every step t, :math:`h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} +
    b_{hh})` (or ReLU) with :class:`rnnkit.nn.cells.RNNCell`; layer k > 0 takes the (dropped-out) outputs
    of layer k - 1 as its input.

    Args: as ``torch.nn.RNN``: ``input_size``, ``hidden_size``, ``num_layers=1``,
    ``nonlinearity='tanh'``, ``bias=True``, ``batch_first=False``, ``dropout=0.0``,
    ``bidirectional=False``, ``device=None``, ``dtype=None``; plus ``backend='auto'`` and
    the regularisers ``recurrent_dropout=0.0``, ``weight_drop=0.0``, ``zoneout=0.0`` (see
    :class:`Recurrent`).
    """
        + SHAPES
    )

    _torch_class = nn.RNN

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "tanh",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        **regularisers: float,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        check_int("hidden_size", hidden_size, 1)
        self.hidden_size = hidden_size
        self.nonlinearity = nonlinearity
        self.bias = bias
        super().__init__(
            lambda size, _: RNNCell(size, hidden_size, bias, nonlinearity, device, dtype),
            input_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            backend=backend,
            **regularisers,
        )

    @property
    def mode(self) -> str:
        return self.native_mode() or "RNN_TANH"

    def _torch_kwargs(self) -> dict[str, object]:
        return {**super()._torch_kwargs(), "nonlinearity": self.nonlinearity}

    def _settings_repr(self) -> str:
        text = super()._settings_repr()
        if self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        return text


class LSTM(_TorchLike):
    __doc__ = (
        r"""A multi-layer LSTM, a drop-in replacement for ``torch.nn.LSTM``.

    Each layer runs :class:`rnnkit.nn.cells.LSTMCell` (gates i, f, g, o; see its equations) over the
    sequence; with ``proj_size > 0`` the hidden state is projected to ``proj_size`` features by
    ``weight_hr_l<k>``. ``hx`` is a tuple ``(h_0, c_0)`` and the layer returns
    ``output, (h_n, c_n)``; ``c`` has ``hidden_size`` features, ``h`` has :math:`H_{out}`.

    Args: as ``torch.nn.LSTM``: ``input_size``, ``hidden_size``, ``num_layers=1``, ``bias=True``,
    ``batch_first=False``, ``dropout=0.0``, ``bidirectional=False``, ``proj_size=0``,
    ``device=None``, ``dtype=None``; plus ``backend='auto'`` and
    the regularisers ``recurrent_dropout=0.0``, ``weight_drop=0.0``, ``zoneout=0.0`` (see
    :class:`Recurrent`).
    """
        + SHAPES
    )

    _torch_class = nn.LSTM

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        proj_size: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        **regularisers: float,
    ) -> None:
        check_int("hidden_size", hidden_size, 1)
        check_int("proj_size", proj_size, 0)
        if proj_size >= hidden_size:
            raise ValueError(
                f"proj_size: expected less than hidden_size ({hidden_size}), got {proj_size}"
            )
        self.hidden_size = hidden_size
        self.proj_size = proj_size
        self.bias = bias
        super().__init__(
            lambda size, _: LSTMCell(size, hidden_size, bias, device, dtype, proj_size=proj_size),
            input_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            backend=backend,
            **regularisers,
        )

    mode = "LSTM"

    def _torch_kwargs(self) -> dict[str, object]:
        return {**super()._torch_kwargs(), "proj_size": self.proj_size}


class GRU(_TorchLike):
    __doc__ = (
        r"""A multi-layer GRU, a drop-in replacement for ``torch.nn.GRU``.

    Each layer runs :class:`rnnkit.nn.cells.GRUCell` (gates r, z, n; see its equations) over the sequence.

    Args: as ``torch.nn.GRU``: ``input_size``, ``hidden_size``, ``num_layers=1``, ``bias=True``,
    ``batch_first=False``, ``dropout=0.0``, ``bidirectional=False``, ``device=None``, ``dtype=None``;
    plus ``backend='auto'`` and the regularisers
    ``recurrent_dropout=0.0``, ``weight_drop=0.0``, ``zoneout=0.0`` (see :class:`Recurrent`).
    """
        + SHAPES
    )

    _torch_class = nn.GRU

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        backend: str = "auto",
        **regularisers: float,
    ) -> None:
        check_int("hidden_size", hidden_size, 1)
        self.hidden_size = hidden_size
        self.bias = bias
        super().__init__(
            lambda size, _: GRUCell(size, hidden_size, bias, device, dtype),
            input_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            backend=backend,
            **regularisers,
        )

    mode = "GRU"
