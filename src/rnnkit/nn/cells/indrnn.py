"""The independently recurrent cell (IndRNN, Li et al. 2018): one recurrent weight per unit."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnkit.nn.cells.base import RNNCellBase, State, check_choice

__all__ = ["IndRNNCell"]


def _check_max_length(max_length: object) -> int | None:
    if max_length is not None and (
        isinstance(max_length, bool) or not isinstance(max_length, int) or max_length <= 0
    ):
        raise ValueError(f"max_length: expected a positive int or None, got {max_length!r}")
    return max_length


class IndRNNCell(RNNCellBase):
    r"""An independently recurrent cell (Li, Li, Cook, Zhu and Gao 2018, "Independently Recurrent
    Neural Network (IndRNN): Building A Longer and Deeper RNN").

    Each unit feeds back only its own previous value, through a weight :math:`u` of its own:

    .. math::
        h' = \sigma(W_{ih} x + b + u \odot h)

    with :math:`\sigma` = ``relu`` (default) or ``tanh``. As units do not mix over time, the gradient
    of unit j through T steps is a product of T factors :math:`u_j \sigma'`; with relu it neither
    explodes nor vanishes when :math:`|u_j|^T` stays within bounds. With ``max_length=T`` the cell
    uses :math:`\mathrm{clamp}(u, -2^{1/T}, 2^{1/T})` in place of :math:`u` (the paper's upper bound
    :math:`|u| \le 2^{1/T}`, so that :math:`|u|^T \le 2`; the same clamp is used with tanh, whose
    derivative is at most 1). The clamp is applied in the forward pass, so the stored ``weight_hh``
    may drift outside it, but gets no gradient there, and :meth:`recurrent_weight` is what acts.
    No lower bound is enforced: the paper's bound against vanishing (:math:`|u| \ge
    \epsilon^{1/T}`) would forbid the units that learn to forget quickly.

    Args:
        input_size: :math:`H_{in}`.
        hidden_size: :math:`H`.
        bias: if ``False``, no ``bias_ih``.
        nonlinearity: ``"relu"`` (default) or ``"tanh"``.
        max_length: ``None`` (no bound), or the sequence length T the recurrent weight is bounded
            for.

    Inputs: ``input`` :math:`(N, H_{in})` or :math:`(H_{in})`; ``hx`` :math:`(N, H)` or :math:`(H)`,
    zeros if omitted. Output: ``h'`` in the shape of ``hx``.

    Parameters: ``weight_ih`` :math:`(H, H_{in})` and ``bias_ih`` (:math:`b`, :math:`(H)`), uniform in
    :math:`\pm 1/\sqrt{H}` as torch.nn's; ``weight_hh`` (:math:`u`, :math:`(H)`), uniform in
    :math:`[0, 1]`, the paper's initialisation for relu.

    Legend: N = batch size, H_in = input features, H = hidden features.
    """

    gates = 1
    native_mode = None
    _biases = ("bias_ih",)
    _reset_when_built = True
    _repr_defaults = (("nonlinearity", "relu"), ("max_length", None))

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "relu",
        max_length: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        check_choice("nonlinearity", nonlinearity, ("relu", "tanh"))
        self.max_length = _check_max_length(max_length)
        self.nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias, device, dtype)

    def _add_parameters(self, factory: dict[str, object]) -> None:
        # one recurrent weight per unit instead of a matrix
        self.weight_hh = nn.Parameter(torch.empty(self.hidden_size, **factory))

    def reset_parameters(self) -> None:
        """``weight_ih`` and ``bias_ih`` uniform in ``[-1/sqrt(H), 1/sqrt(H)]``, ``weight_hh`` in
        ``[0, 1]``."""
        super().reset_parameters()
        nn.init.uniform_(self.weight_hh, 0.0, 1.0)

    @property
    def recurrent_bound(self) -> float | None:
        """``2 ** (1 / max_length)``, the largest ``|u|`` used, or ``None`` without ``max_length``."""
        return None if self.max_length is None else 2.0 ** (1.0 / self.max_length)

    def recurrent_weight(self) -> Tensor:
        """The recurrent weight :math:`u` (H,) the cell uses: ``weight_hh``, clamped to the bound."""
        bound = self.recurrent_bound
        return self.weight_hh if bound is None else self.weight_hh.clamp(-bound, bound)

    def recurrence(self, xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        (h,) = state
        pre = torch.addcmul(xp_t, self.recurrent_weight(), h)  # (N, H): W x + b + u * h
        h = torch.relu(pre) if self.nonlinearity == "relu" else torch.tanh(pre)
        return h, (h,)
