"""The GRU cell (gates r, z, n), torch.nn.GRUCell's contract."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

from rnnkit.nn.cells.base import RNNCellBase, State

__all__ = ["GRUCell"]


class GRUCell(RNNCellBase):
    r"""A gated recurrent unit cell, written out from scratch.

    .. math::
        \begin{array}{ll}
        r = \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z = \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n = \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
        h' = (1 - z) \odot n + z \odot h
        \end{array}

    The reset gate multiplies the recurrent term *including its bias* :math:`b_{hn}`, which is why the
    two biases cannot be summed for the n gate (torch.nn and cuDNN use this form). Gates are stacked
    r, z, n.

    Args:
        input_size: :math:`H_{in}`.
        hidden_size: :math:`H`.
        bias: if ``False``, no ``bias_ih`` and ``bias_hh``.

    Inputs: ``input`` :math:`(N, H_{in})` or :math:`(H_{in})`; ``hx`` :math:`(N, H)` or :math:`(H)`,
    zeros if omitted. Output: ``h'`` in the shape of ``hx``.

    Parameters: ``weight_ih`` :math:`(3H, H_{in})`, ``weight_hh`` :math:`(3H, H)`, ``bias_ih`` and
    ``bias_hh`` :math:`(3H)`; uniform in :math:`\pm 1/\sqrt{H}`.

    Legend: N = batch size, H_in = input features, H = hidden features.
    """

    gates = 3
    native_mode = "GRU"
    _reset_when_built = True

    def step(self, xp_t: Tensor, hp_t: Tensor, state: State) -> tuple[Tensor, State]:
        (h,) = state
        if self.bias_hh is not None:
            hp_t = hp_t + self.bias_hh  # (N, 3H): W_hh h + b_hh
        x_r, x_z, x_n = xp_t.chunk(3, dim=1)
        h_r, h_z, h_n = hp_t.chunk(3, dim=1)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = n + z * (h - n)  # = (1 - z) * n + z * h, one operation fewer
        return h, (h,)

    def gate_values(self, xp_t: Tensor, state: State) -> dict[str, Tensor]:
        """The reset and update gates ``r, z`` (N, H), each a sigmoid."""
        hp_t = F.linear(state[0], self.weight_hh, self.bias_hh)  # (N, 3H)
        x_r, x_z, _ = xp_t.chunk(3, dim=1)
        h_r, h_z, _ = hp_t.chunk(3, dim=1)
        return {"r": torch.sigmoid(x_r + h_r), "z": torch.sigmoid(x_z + h_z)}
