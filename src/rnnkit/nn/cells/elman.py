"""The Elman RNN cell (tanh or ReLU), torch.nn.RNNCell's contract."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.nn.cells.base import RNNCellBase, State, check_choice

__all__ = ["RNNCell"]


class RNNCell(RNNCellBase):
    r"""An Elman RNN cell with a tanh or ReLU nonlinearity, written out from scratch.

    .. math::
        h' = \sigma(W_{ih} x + b_{ih} + W_{hh} h + b_{hh})

    where :math:`\sigma` is ``tanh`` or ``relu``.

    Args:
        input_size: :math:`H_{in}`, the number of input features.
        hidden_size: :math:`H`, the number of hidden features.
        bias: if ``False``, the cell has no ``bias_ih`` and ``bias_hh``.
        nonlinearity: ``"tanh"`` (default) or ``"relu"``.

    Inputs: ``input``, ``hx``
        - ``input``: :math:`(N, H_{in})` or :math:`(H_{in})`.
        - ``hx``: :math:`(N, H)` or :math:`(H)`; zeros if omitted.

    Output: ``h'`` of shape :math:`(N, H)` or :math:`(H)`.

    Parameters (as ``torch.nn.RNNCell``): ``weight_ih`` :math:`(H, H_{in})`, ``weight_hh`` :math:`(H, H)`,
    ``bias_ih`` and ``bias_hh`` :math:`(H)`, all initialised uniform in :math:`\pm 1/\sqrt{H}`.

    Legend: N = batch size, H_in = input features, H = hidden features.
    """

    gates = 1
    adds_projections = True
    _reset_when_built = True
    _repr_defaults = (("nonlinearity", "tanh"),)

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_choice("nonlinearity", nonlinearity, ("tanh", "relu"))
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    @property
    def native_mode(self) -> str:  # type: ignore[override]
        return "RNN_TANH" if self.nonlinearity == "tanh" else "RNN_RELU"

    def project_input(self, x: Tensor) -> Tensor:
        # Both biases are added once here instead of at every step: the sum is the same.
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias)

    def step(self, xp_t: Tensor, hp_t: Tensor, state: State) -> tuple[Tensor, State]:
        pre = xp_t + hp_t  # (N, H): W_ih x + b_ih + b_hh + W_hh h
        h = torch.tanh(pre) if self.nonlinearity == "tanh" else torch.relu(pre)
        return h, (h,)
