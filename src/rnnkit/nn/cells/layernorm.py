"""Layer-normalised LSTM and GRU cells (Ba, Kiros and Hinton 2016), in haste's formulation."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.nn.cells.base import RNNCellBase, State

__all__ = ["LayerNormGRUCell", "LayerNormLSTMCell"]


class _LayerNormCellBase(RNNCellBase):
    """What the layer-normalised cells share: ``W_ih x`` and ``W_hh h`` each normalised over their
    ``G = gates * H`` features with a gain ``ln_weight_*`` and a bias ``ln_bias_*`` of their own.

    There is no bias before a normalisation: the layer norms' biases take its place, as in haste.
    """

    native_mode = None
    eps = 1e-5  # the variance epsilon of every normalisation, nn.LayerNorm's default
    _biases = ()
    _reset_when_built = True

    def _add_parameters(self, factory: dict[str, object]) -> None:
        self._add_norm("ih", self.gates * self.hidden_size, factory)
        self._add_norm("hh", self.gates * self.hidden_size, factory)

    def _add_norm(self, name: str, size: int, factory: dict[str, object]) -> None:
        """Register ``ln_weight_<name>`` and, with a bias, ``ln_bias_<name>``, both of ``size``."""
        self.register_parameter(f"ln_weight_{name}", nn.Parameter(torch.empty(size, **factory)))
        bias = nn.Parameter(torch.empty(size, **factory)) if self.bias else None
        self.register_parameter(f"ln_bias_{name}", bias)

    def _norm(self, name: str, x: Tensor) -> Tensor:
        """Layer normalisation of ``x`` over its last dimension with ``ln_*_<name>``."""
        weight = getattr(self, f"ln_weight_{name}")
        return F.layer_norm(x, weight.shape, weight, getattr(self, f"ln_bias_{name}"), self.eps)

    def reset_parameters(self) -> None:
        """Weights uniform in ``[-1/sqrt(H), 1/sqrt(H)]`` as torch.nn's; gains 1 and biases 0, so that
        every normalisation starts as the plain standardisation."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for name, parameter in self.named_parameters():
            if name.startswith("ln_weight_"):
                nn.init.ones_(parameter)
            elif name.startswith("ln_bias_"):
                nn.init.zeros_(parameter)
            else:
                nn.init.uniform_(parameter, -bound, bound)

    def project_input(self, x: Tensor) -> Tensor:
        # Each step's normalisation involves that step's features only, so all steps are
        # normalised here at once instead of one by one in step().
        return self._norm("ih", F.linear(x, self.weight_ih))  # (..., G)


class LayerNormLSTMCell(_LayerNormCellBase):
    r"""An LSTM cell with layer normalisation (Ba, Kiros and Hinton 2016, "Layer Normalization").

    The input projection and the recurrent projection are normalised separately, each over its
    :math:`4H` gate pre-activations, and the new cell state is normalised before the output tanh
    (the formulation of haste's ``LayerNormLSTM``):

    .. math::
        \begin{array}{ll}
        \mathrm{LN}(v; \gamma, \beta) = \gamma \odot (v - \mu(v)) / \sqrt{\sigma^2(v) + \epsilon}
            + \beta \\
        (i, f, g, o) = \mathrm{LN}(W_{ih} x; \gamma_{ih}, \beta_{ih})
            + \mathrm{LN}(W_{hh} h; \gamma_{hh}, \beta_{hh}) \\
        c' = \sigma(f) \odot c + \sigma(i) \odot \tanh(g) \\
        h' = \sigma(o) \odot \tanh(\mathrm{LN}(c'; \gamma_c, \beta_c))
        \end{array}

    :math:`\mu` and :math:`\sigma^2` are the mean and (biased) variance over the features of one
    sample, :math:`\epsilon = 10^{-5}`, :math:`\sigma` the logistic sigmoid. Gates are stacked i, f, g,
    o as in torch.nn. The state carries :math:`c'` before its normalisation. There is no bias before
    a normalisation (it would be mostly removed by it): :math:`\beta_{ih} + \beta_{hh}` plays the
    part of the LSTM's bias.

    Args:
        input_size: :math:`H_{in}`.
        hidden_size: :math:`H`.
        bias: if ``False``, the normalisations have gains only (no :math:`\beta`).

    Inputs: ``input``, ``(h, c)``
        - ``input``: :math:`(N, H_{in})` or :math:`(H_{in})`.
        - ``h``, ``c``: :math:`(N, H)` or :math:`(H)`; zeros if omitted.

    Outputs: ``(h', c')`` in the shapes of ``(h, c)``.

    Parameters: ``weight_ih`` :math:`(4H, H_{in})` and ``weight_hh`` :math:`(4H, H)`, uniform in
    :math:`\pm 1/\sqrt{H}`; gains ``ln_weight_ih``, ``ln_weight_hh`` :math:`(4H)` and ``ln_weight_c``
    :math:`(H)`, initialised to 1; with ``bias``, ``ln_bias_ih``, ``ln_bias_hh`` :math:`(4H)` and
    ``ln_bias_c`` :math:`(H)`, initialised to 0.

    Legend: N = batch size, H_in = input features, H = hidden (and cell) features.
    """

    gates = 4

    def _add_parameters(self, factory: dict[str, object]) -> None:
        super()._add_parameters(factory)
        self._add_norm("c", self.hidden_size, factory)

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size, self.hidden_size)

    def step(self, xp_t: Tensor, hp_t: Tensor, state: State) -> tuple[Tensor, State]:
        # hp_t arrives raw (the runner may compute it), so its normalisation happens here
        _, c = state
        i, f, g, o = (xp_t + self._norm("hh", hp_t)).chunk(4, dim=1)  # each (N, H)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(self._norm("c", c))
        return h, (h, c)

    def gate_values(self, xp_t: Tensor, state: State) -> dict[str, Tensor]:
        """The input, forget and output gates ``i, f, o`` (N, H), each a sigmoid."""
        hp_t = self._norm("hh", state[0] @ self.weight_hh.t())  # (N, 4H)
        i, f, _, o = (xp_t + hp_t).chunk(4, dim=1)
        return {"i": torch.sigmoid(i), "f": torch.sigmoid(f), "o": torch.sigmoid(o)}


class LayerNormGRUCell(_LayerNormCellBase):
    r"""A GRU cell with layer normalisation (Ba, Kiros and Hinton 2016, "Layer Normalization") of the
    input projection and of the recurrent projection, each over its :math:`3H` pre-activations:

    .. math::
        \begin{array}{ll}
        \mathrm{LN}(v; \gamma, \beta) = \gamma \odot (v - \mu(v)) / \sqrt{\sigma^2(v) + \epsilon}
            + \beta \\
        (x_r, x_z, x_n) = \mathrm{LN}(W_{ih} x; \gamma_{ih}, \beta_{ih}), \quad
        (h_r, h_z, h_n) = \mathrm{LN}(W_{hh} h; \gamma_{hh}, \beta_{hh}) \\
        r = \sigma(x_r + h_r), \quad z = \sigma(x_z + h_z) \\
        n = \tanh(x_n + r \odot h_n) \\
        h' = (1 - z) \odot n + z \odot h
        \end{array}

    :math:`\mu` and :math:`\sigma^2` are the mean and (biased) variance over the features of one
    sample and :math:`\epsilon = 10^{-5}`. Gates are stacked r, z, n as in torch.nn; as there, the
    reset gate multiplies the recurrent term including its bias (here the n part of
    :math:`\beta_{hh}`). There is no bias before a normalisation; the :math:`\beta` take its place.

    Args:
        input_size: :math:`H_{in}`.
        hidden_size: :math:`H`.
        bias: if ``False``, the normalisations have gains only (no :math:`\beta`).

    Inputs: ``input`` :math:`(N, H_{in})` or :math:`(H_{in})`; ``hx`` :math:`(N, H)` or :math:`(H)`,
    zeros if omitted. Output: ``h'`` in the shape of ``hx``.

    Parameters: ``weight_ih`` :math:`(3H, H_{in})` and ``weight_hh`` :math:`(3H, H)`, uniform in
    :math:`\pm 1/\sqrt{H}`; gains ``ln_weight_ih``, ``ln_weight_hh`` :math:`(3H)`, initialised to 1;
    with ``bias``, ``ln_bias_ih``, ``ln_bias_hh`` :math:`(3H)`, initialised to 0.

    Legend: N = batch size, H_in = input features, H = hidden features.
    """

    gates = 3

    def step(self, xp_t: Tensor, hp_t: Tensor, state: State) -> tuple[Tensor, State]:
        (h,) = state
        x_r, x_z, x_n = xp_t.chunk(3, dim=1)
        h_r, h_z, h_n = self._norm("hh", hp_t).chunk(3, dim=1)  # each (N, H)
        r = torch.sigmoid(x_r + h_r)
        z = torch.sigmoid(x_z + h_z)
        n = torch.tanh(x_n + r * h_n)
        h = n + z * (h - n)  # = (1 - z) * n + z * h
        return h, (h,)

    def gate_values(self, xp_t: Tensor, state: State) -> dict[str, Tensor]:
        """The reset and update gates ``r, z`` (N, H), each a sigmoid."""
        x_r, x_z, _ = xp_t.chunk(3, dim=1)
        h_r, h_z, _ = self._norm("hh", state[0] @ self.weight_hh.t()).chunk(3, dim=1)
        return {"r": torch.sigmoid(x_r + h_r), "z": torch.sigmoid(x_z + h_z)}
