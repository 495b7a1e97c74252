"""The LSTM cell (gates i, f, g, o, an optional projection), torch.nn.LSTMCell's contract."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.nn.cells.base import RNNCellBase, State

__all__ = ["LSTMCell"]


class LSTMCell(RNNCellBase):
    r"""A long short-term memory cell, written out from scratch.

    .. math::
        \begin{array}{ll}
        i = \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) \\
        f = \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
        g = \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \\
        o = \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
        c' = f \odot c + i \odot g \\
        h' = o \odot \tanh(c') \qquad (h' = W_{hr}(o \odot \tanh(c')) \text{ with a projection})
        \end{array}

    :math:`\sigma` is the logistic sigmoid and :math:`\odot` the element-wise product. The gates are
    stacked in the order i, f, g, o in ``weight_ih``, ``weight_hh`` and the biases, as in torch.nn.

    Args:
        input_size: :math:`H_{in}`.
        hidden_size: :math:`H`, the size of the cell state :math:`c`.
        bias: if ``False``, no ``bias_ih`` and ``bias_hh``.
        proj_size: if > 0, :math:`h` is projected to :math:`H_{out}` = ``proj_size`` features by
            ``weight_hr`` (an extension that ``torch.nn.LSTM`` has and ``torch.nn.LSTMCell`` lacks).

    Inputs: ``input``, ``(h, c)``
        - ``input``: :math:`(N, H_{in})` or :math:`(H_{in})`.
        - ``h``: :math:`(N, H_{out})`, ``c``: :math:`(N, H)` (without N when unbatched); zeros if omitted.

    Outputs: ``(h', c')`` in the shapes of ``(h, c)``.

    Parameters: ``weight_ih`` :math:`(4H, H_{in})`, ``weight_hh`` :math:`(4H, H_{out})`, ``bias_ih`` and
    ``bias_hh`` :math:`(4H)`, ``weight_hr`` :math:`(H_{out}, H)` with a projection; uniform in
    :math:`\pm 1/\sqrt{H}`.

    Legend: N = batch size, H_in = input features, H = hidden (cell) features, H_out = ``proj_size``
    if > 0 else H.
    """

    gates = 4
    native_mode = "LSTM"
    _repr_defaults = (("proj_size", 0),)
    adds_projections = True
    _reset_when_built = True

    def __init__(self, *args: Any, proj_size: int = 0, **kwargs: Any) -> None:
        """``LSTMCell(input_size, hidden_size, bias=True, device=None, dtype=None, *,
        proj_size=0)``."""
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"proj_size: expected an int >= 0, got {proj_size!r}")
        self.proj_size = proj_size
        super().__init__(*args, recurrent_size=proj_size or None, **kwargs)

    def _add_parameters(self, factory: dict[str, object]) -> None:
        if self.proj_size >= self.hidden_size:
            raise ValueError(
                f"proj_size: expected less than hidden_size ({self.hidden_size}), got "
                f"{self.proj_size}"
            )
        size = (self.proj_size, self.hidden_size)
        weight = nn.Parameter(torch.empty(size, **factory)) if self.proj_size else None
        self.register_parameter("weight_hr", weight)

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.proj_size or self.hidden_size, self.hidden_size)

    def project_input(self, x: Tensor) -> Tensor:
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias)

    def step(self, xp_t: Tensor, hp_t: Tensor, state: State) -> tuple[Tensor, State]:
        _, c = state
        i, f, g, o = (xp_t + hp_t).chunk(4, dim=1)  # each (N, H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        if self.weight_hr is not None:
            h = h @ self.weight_hr.t()  # (N, H_out)
        return h, (h, c)

    def gate_values(self, xp_t: Tensor, state: State) -> dict[str, Tensor]:
        """The input, forget and output gates ``i, f, o`` (N, H), each a sigmoid."""
        i, f, _, o = (xp_t + state[0] @ self.weight_hh.t()).chunk(4, dim=1)
        return {"i": torch.sigmoid(i), "f": torch.sigmoid(f), "o": torch.sigmoid(o)}
