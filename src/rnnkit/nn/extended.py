"""The layers of the built-in cells torch.nn lacks, with torch.nn's constructor and attributes:
:class:`LayerNormLSTM`, :class:`LayerNormGRU`, :class:`IndRNN`, :class:`MinGRU`, :class:`MinLSTM`.
There is no fused kernel for them: ``backend`` ``"auto"`` runs the reference loop (or the scan) and
``"native"`` is refused when the layer is built."""

from __future__ import annotations

from typing import Any

from rnnkit.nn.cells import IndRNNCell, LayerNormGRUCell, LayerNormLSTMCell, MinGRUCell, MinLSTMCell
from rnnkit.nn.cells.base import check_choice
from rnnkit.nn.regularisers import REGULARISERS
from rnnkit.nn.runner import Layer, take_option
from rnnkit.nn.torch_layers import SHAPES

__all__ = ["IndRNN", "LayerNormGRU", "LayerNormLSTM", "MinGRU", "MinLSTM"]


class _ExtendedLayer(Layer):
    """What the layers of cells torch.nn lacks share: :class:`Layer`, and a ``backend="native"``
    refused when the layer is built (there is no fused kernel to run)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.resolved_backend()  # raises for "native": these cells have no native_mode


class LayerNormLSTM(_ExtendedLayer):
    __doc__ = (
        r"""A multi-layer layer-normalised LSTM, with the contract of :class:`LSTM`.

    Each layer runs :class:`rnnkit.nn.cells.LayerNormLSTMCell` (see its equations: the input and the
    recurrent projections and the cell state normalised separately) over the sequence. ``hx`` is a
    tuple ``(h_0, c_0)`` and the layer returns ``output, (h_n, c_n)``. There is no native kernel:
    ``backend`` ``"auto"`` runs the reference loop and ``"native"`` is a ``ValueError``.

    Args: ``input_size``, ``hidden_size``, ``num_layers=1``, ``bias=True``, ``batch_first=False``,
    ``dropout=0.0``, ``bidirectional=False``, ``device=None``, ``dtype=None``; plus
    ``backend='auto'``. Parameters are named as the cell's, with torch.nn's suffixes
    (``ln_weight_hh_l0_reverse``...).
    """
        + SHAPES
    )

    _cell_class = LayerNormLSTMCell


class LayerNormGRU(_ExtendedLayer):
    __doc__ = (
        r"""A multi-layer layer-normalised GRU, with the contract of :class:`GRU`.

    Each layer runs :class:`rnnkit.nn.cells.LayerNormGRUCell` (see its equations: the input and the
    recurrent projections normalised separately) over the sequence. There is no native kernel:
    ``backend`` ``"auto"`` runs the reference loop and ``"native"`` is a ``ValueError``.

    Args: ``input_size``, ``hidden_size``, ``num_layers=1``, ``bias=True``, ``batch_first=False``,
    ``dropout=0.0``, ``bidirectional=False``, ``device=None``, ``dtype=None``; plus
    ``backend='auto'``.
    """
        + SHAPES
    )

    _cell_class = LayerNormGRUCell


class IndRNN(_ExtendedLayer):
    __doc__ = (
        r"""A multi-layer IndRNN (Li et al. 2018), with the contract of :class:`RNN`.

    Each layer runs :class:`rnnkit.nn.cells.IndRNNCell`, :math:`h_t = \sigma(W_{ih} x_t + b + u \odot
    h_{t-1})` with one recurrent weight per unit, over the sequence; ``nonlinearity`` is ``"relu"``
    (default) or ``"tanh"``, and ``max_length=T`` keeps :math:`|u| \le 2^{1/T}` in every layer (see
    the cell). There is no native kernel: ``backend`` ``"auto"`` runs the reference loop and
    ``"native"`` is a ``ValueError``.

    Args: ``input_size``, ``hidden_size``, ``num_layers=1``, ``nonlinearity='relu'``, ``bias=True``,
    ``batch_first=False``, ``dropout=0.0``, ``bidirectional=False``, ``device=None``, ``dtype=None``;
    plus ``max_length=None``, ``backend='auto'`` and the regularisers ``recurrent_dropout=0.0``,
    ``weight_drop=0.0`` (on :math:`u`), ``zoneout=0.0`` (see :class:`Recurrent`).
    """
        + SHAPES
    )

    _cell_class = IndRNNCell
    _cell_options = ("nonlinearity", "max_length")
    _repr_defaults = (("nonlinearity", "relu"), ("max_length", None))

    def __init__(self, *args: Any, max_length: int | None = None, **kwargs: Any) -> None:
        """``IndRNN(input_size, hidden_size, num_layers=1, nonlinearity='relu', ...)``."""
        args, nonlinearity = take_option(args, kwargs, 3, "nonlinearity", "relu")
        self.nonlinearity = check_choice("nonlinearity", nonlinearity, ("relu", "tanh"))
        self.max_length = max_length
        super().__init__(*args, **kwargs)


_SCAN_MODES = ("auto", "scan", "step")


class _MinLayer(_ExtendedLayer):
    """What MinGRU and MinLSTM share: ``mode``, how a sequence runs, and no regularisers."""

    def __init__(self, *args: Any, mode: str = "auto", **kwargs: Any) -> None:
        for name in REGULARISERS:
            value = kwargs.get(name, 0.0)
            if value != 0.0:
                # accepted as keywords so that the message says why, rather than "no such option"
                raise ValueError(
                    f"{name}: {type(self).__name__} cannot use it (its gates see only the input, "
                    f"there is no recurrent weight, and a sequence runs as one scan); expected 0.0, "
                    f"got {value!r}"
                )
        if mode not in _SCAN_MODES:
            raise ValueError(
                f"mode: expected one of {', '.join(map(repr, _SCAN_MODES))}, got {mode!r}"
            )
        self.scan_mode = mode
        super().__init__(*args, **kwargs)

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.scan_mode != "auto":
            text += f", mode={self.scan_mode!r}"
        return text


_MIN_DOC = """

    ``mode`` chooses how a sequence runs: ``"scan"``, every layer and direction as one linear scan
    :math:`h_t = a_t \\odot h_{t-1} + b_t` over all steps with a hand-written backward (the cell's
    ``scan``); ``"step"``, the per-step loop of the cell's ``recurrence`` (as streaming generation
    runs it); ``"auto"`` (default), the scan for more than one step and the loop for one. Both give
    the same results to rounding. :func:`rnnkit.nn.cells.compile_min_cells` optionally fuses the gate
    arithmetic around the scan with ``torch.compile``. There is no native kernel: ``backend``
    ``"auto"`` runs these and ``"native"`` is a ``ValueError``.

    Args: ``input_size``, ``hidden_size``, ``num_layers=1``, ``bias=True``, ``batch_first=False``,
    ``dropout=0.0``, ``bidirectional=False``, ``device=None``, ``dtype=None``; plus
    ``backend='auto'`` and ``mode='auto'``.
"""


class MinGRU(_MinLayer):
    __doc__ = (
        r"""A multi-layer minimal GRU (Feng et al. 2024, "Were RNNs All We Needed?"), with the
    contract of :class:`GRU`.

    Each layer runs :class:`rnnkit.nn.cells.MinGRUCell`, :math:`h_t = (1 - z_t) \odot h_{t-1} + z_t
    \odot \tilde h_t` with :math:`z_t` and :math:`\tilde h_t` from :math:`x_t` only (see its
    equations); layer k > 0 takes the (dropped-out) outputs of layer k - 1 as its input."""
        + _MIN_DOC
        + SHAPES
    )

    _cell_class = MinGRUCell


class MinLSTM(_MinLayer):
    __doc__ = (
        r"""A multi-layer minimal LSTM (Feng et al. 2024, "Were RNNs All We Needed?"). Its state is
    :math:`h` alone, so ``hx`` is one tensor, as for :class:`GRU`.

    Each layer runs :class:`rnnkit.nn.cells.MinLSTMCell`, :math:`h_t = f'_t \odot h_{t-1} + i'_t
    \odot \tilde h_t` with the gates normalised to :math:`f'_t + i'_t = 1` and computed from
    :math:`x_t` only (see its equations)."""
        + _MIN_DOC
        + SHAPES
    )

    _cell_class = MinLSTMCell
