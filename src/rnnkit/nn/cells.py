"""Recurrent cells written out from scratch: one time step of an Elman RNN, an LSTM and a GRU, and of
cells torch.nn lacks: layer-normalised LSTM and GRU, IndRNN, and the minimal GRU and LSTM.

The first three follow torch.nn's contract (constructor arguments, parameter names and shapes, gate
order, initialisation) so that their weights load into ``torch.nn.RNNCell/LSTMCell/GRUCell`` and back,
and the tests prove the results equal to PyTorch's fused kernels. The others follow the same
conventions where they apply and are tested against per-step implementations of their papers.

A cell also follows the *cell protocol* that :class:`rnnkit.nn.layers.Recurrent` runs over whole sequences:

- ``state_sizes``: the feature size of each state tensor, e.g. ``(H,)`` for an RNN, ``(H_out, H)`` for an
  LSTM's ``(h, c)``; ``output_size``: the size of the output at each step.
- ``project_input(x)``: the input's contribution to every gate, for all time steps in one matrix product
  (``(..., H_in) -> (..., G)``), so that the sequential loop only does the recurrent product.
- ``recurrence(xp_t, state)``: one step from a projected input ``xp_t`` of shape ``(N, G)`` and a tuple of
  state tensors, returning ``(output_t, new_state)``. The built-in cells write instead
  ``step(xp_t, hp_t, state)``, which also receives the recurrent product ``hp_t = h @ W_hh^T`` of the
  previous output ``h = state[0]`` (no bias); :class:`RNNCellBase` then supplies ``recurrence``. A cell
  written that way lets the layer runner compute ``hp_t`` itself and obtain the gradient of ``W_hh`` for
  all time steps with one matrix product after the loop instead of one per step. A cell whose step
  begins with ``xp_t + hp_t`` says so with ``adds_projections = True``, which spares the runner a
  tensor of the size of ``xp``.
- ``native_mode``: the name of PyTorch's fused kernel computing the same recurrence (``"LSTM"``...), or
  ``None`` for a cell PyTorch has no kernel for.
- ``gate_values(xp_t, state)``: each gate's activation at one step, ``{name: (N, H)}`` in [0, 1]
  (``{}`` for a cell without gates), for looking inside a trained network (``rnnkit inspect``).
- optionally ``scan(x, state, mask=None, reverse=False)``: all steps of a sequence at once from the
  input ``x`` (L, N, H_in), returning ``(outputs (L, N, H_out), final_state)``; where ``mask`` (L, N, 1) is
  False the state is carried unchanged and the output is zero; ``reverse`` runs from step L-1 to 0.
  The minimal RNNs, whose gates do not see the state, have one: their recurrence is linear in ``h``.

A new cell that implements these gets stacking, both directions, lengths, packing and initial states
from the layer runner for free.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = [
    "GRUCell",
    "IndRNNCell",
    "LSTMCell",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "MinGRUCell",
    "MinLSTMCell",
    "RNNCell",
    "RNNCellBase",
    "compile_min_cells",
]

State = tuple[Tensor, ...]


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value <= 0:
        raise ValueError(f"{name}: expected a positive int, got {value}")


class RNNCellBase(nn.Module):
    """Parameters and plumbing shared by the cells: ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``.

    ``gates`` is the number of stacked gate blocks in the weight matrices (1 for an Elman RNN, 4 for an
    LSTM, 3 for a GRU); subclasses write the recurrence itself.
    """

    gates: int = 1
    native_mode: str | None = None
    # True where step() begins with xp_t + hp_t, so that dL/dhp_t = dL/dxp_t (see rnnkit.nn.layers)
    adds_projections: bool = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        *,
        recurrent_size: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        _check_positive_int("input_size", input_size)
        _check_positive_int("hidden_size", hidden_size)
        factory = {"device": device, "dtype": dtype}
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        # The recurrent matrix multiplies the previous output: H, or the projection size of an LSTM.
        recurrent_size = hidden_size if recurrent_size is None else recurrent_size
        self.weight_ih = nn.Parameter(torch.empty(self.gates * hidden_size, input_size, **factory))
        self.weight_hh = nn.Parameter(
            torch.empty(self.gates * hidden_size, recurrent_size, **factory)
        )
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(self.gates * hidden_size, **factory))
            self.bias_hh = nn.Parameter(torch.empty(self.gates * hidden_size, **factory))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)

    def reset_parameters(self) -> None:
        """Uniform in ``[-1/sqrt(H), 1/sqrt(H)]`` for every weight and bias, as torch.nn does."""
        bound = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0.0
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    @property
    def state_sizes(self) -> tuple[int, ...]:
        return (self.hidden_size,)

    @property
    def output_size(self) -> int:
        return self.state_sizes[0]

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            text += ", bias=False"
        return text

    # -- the cell protocol ------------------------------------------------------------------------

    def project_input(self, x: Tensor) -> Tensor:
        """``x @ W_ih^T + b_ih``, for inputs of any leading shape: ``(..., H_in) -> (..., G*H)``."""
        return F.linear(x, self.weight_ih, self.bias_ih)

    def recurrence(self, xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step: the recurrent product ``h @ W_hh^T`` of the previous output, then :meth:`step`."""
        return self.step(xp_t, state[0] @ self.weight_hh.t(), state)

    def step(self, xp_t: Tensor, hp_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step from both matrix products: ``xp_t`` (N, G) from :meth:`project_input` and
        ``hp_t = h @ W_hh^T`` (N, G); returns ``(output_t, new_state)``. Subclasses write it (or
        override :meth:`recurrence` instead)."""
        raise NotImplementedError(f"{type(self).__name__} defines neither step() nor recurrence()")

    def gate_values(self, xp_t: Tensor, state: State) -> dict[str, Tensor]:
        """Each gate's activation (N, H) at the step from ``xp_t`` (N, G) and the previous
        ``state``, keyed by the gate's name; a cell without gates (RNN, IndRNN) has none."""
        return {}

    def init_state(self, x: Tensor, batch_size: int) -> State:
        """Zeros on the input's device and dtype, one tensor per entry of ``state_sizes``."""
        return tuple(x.new_zeros(batch_size, size) for size in self.state_sizes)

    # -- torch.nn's cell API ------------------------------------------------------------------------

    def _step(self, input: Tensor, hx: State | None) -> State:
        """Validate a single step's input and state, run it, and give back the new state."""
        if input.dim() not in (1, 2):
            raise ValueError(
                f"input: expected a 1-D (unbatched) or 2-D (batched) tensor, got {input.dim()}-D "
                f"of shape {tuple(input.shape)}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"input: expected {self.input_size} features (input_size), got {input.shape[-1]}"
            )
        if input.dtype != self.weight_ih.dtype:
            raise TypeError(
                f"input: expected dtype {self.weight_ih.dtype} (the cell's parameters), "
                f"got {input.dtype}"
            )
        unbatched = input.dim() == 1
        x = input.unsqueeze(0) if unbatched else input  # (N, H_in)
        if hx is None:
            state = self.init_state(x, x.shape[0])
        else:
            state = tuple(
                self._check_state(f"hx[{i}]" if len(hx) > 1 else "hx", h, x, size, unbatched)
                for i, (h, size) in enumerate(zip(hx, self.state_sizes))
            )
        _, state = self.recurrence(self.project_input(x), state)
        return tuple(s.squeeze(0) for s in state) if unbatched else state

    @staticmethod
    def _check_state(name: str, h: Tensor, x: Tensor, size: int, unbatched: bool) -> Tensor:
        expected = (size,) if unbatched else (x.shape[0], size)
        if tuple(h.shape) != expected:
            raise ValueError(f"{name}: expected shape {expected}, got {tuple(h.shape)}")
        if h.dtype != x.dtype:
            raise TypeError(f"{name}: expected dtype {x.dtype} (the input's), got {h.dtype}")
        if h.device != x.device:
            raise RuntimeError(f"{name}: expected device {x.device} (the input's), got {h.device}")
        return h.unsqueeze(0) if unbatched else h


class PackedWeight:
    """``W_hh`` laid out once per forward pass for oneDNN's matrix products, forward and backward.

    On a CPU, a product ``(N, H) @ (H, G)`` with a weight reordered to oneDNN's blocked layout takes
    about half the time of ``torch.mm`` on the same data (measured at N=64, H=512, G=2048: 0.67 ms
    against 1.36 ms), and the recurrent loop does two per step (``h @ W^T`` forward, ``dhp @ W``
    backward). The reorder costs about one product, so it pays from two steps on. Used only for
    products of at least :attr:`min_work` multiply-adds, for float32 tensors on the CPU, where
    PyTorch has the private operators (a CPU build with oneDNN) and a check shows that they compute
    the product, and not under autocast; everywhere else :meth:`of` gives ``None`` and the runner
    uses ``torch.mm``.
    """

    usable: bool | None = None  # decided on first use
    # Below this many multiply-adds per product (N * G * H) torch.mm is as fast and the custom
    # autograd node costs more than it saves: measured at N=32, H=64 (0.5M) and N=16, H=128 (1M)
    # the packed product made an LSTM 1.3-1.5x slower, at N=64, H=512 (67M) 1.1x faster.
    min_work = 1 << 23

    def __init__(self, weight: Tensor, batch: int) -> None:
        reorder = torch.ops.mkldnn._reorder_linear_weight
        self.forward = reorder(weight, batch)  # for h @ W^T: (N, H) -> (N, G)
        self.backward = reorder(weight.t().contiguous(), batch)  # for dhp @ W: (N, G) -> (N, H)

    @staticmethod
    def product(x: Tensor, packed: Tensor) -> Tensor:
        return torch.ops.mkldnn._linear_pointwise(x, packed, None, "none", [], "")

    @classmethod
    def of(cls, weight: Tensor, batch: int) -> PackedWeight | None:
        """The packed weight (G, H) for batches of ``batch`` rows, or ``None`` where unavailable."""
        if weight.device.type != "cpu" or weight.dtype != torch.float32 or weight.dim() != 2:
            return None
        if torch.is_autocast_enabled("cpu"):  # the product runs in autocast's dtype, by torch.mm
            return None
        if batch * weight.numel() < cls.min_work:
            return None
        if cls.usable is None:
            cls.usable = cls._works()
        return cls(weight, batch) if cls.usable else None

    @classmethod
    def _works(cls) -> bool:
        """Whether this PyTorch has the operators and they compute ``x @ W^T`` and ``g @ W``."""
        if not torch.backends.mkldnn.is_available():
            return False
        try:
            generator = torch.Generator().manual_seed(0)
            weight = torch.randn(12, 5, generator=generator)
            x, g = torch.randn(3, 5, generator=generator), torch.randn(3, 12, generator=generator)
            packed = cls(weight, 3)
            forward = cls.product(x, packed.forward)
            backward = cls.product(g, packed.backward)
        except (AttributeError, RuntimeError, NotImplementedError):
            return False
        return torch.allclose(forward, x @ weight.t(), atol=1e-5) and torch.allclose(
            backward, g @ weight, atol=1e-5
        )


class _PackedProduct(torch.autograd.Function):
    """``h @ W^T`` by oneDNN with a :class:`PackedWeight`; its backward gives ``dh = dhp @ W`` only
    (the weight's gradient is deferred, see :class:`_RecurrentProduct`)."""

    @staticmethod
    def forward(ctx, h: Tensor, packed: PackedWeight) -> Tensor:
        ctx.packed = packed
        return PackedWeight.product(h.contiguous(), packed.forward)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None]:
        return PackedWeight.product(grad.contiguous(), ctx.packed.backward), None


def packed_product(h: Tensor, packed: PackedWeight) -> Tensor:
    """``h @ W^T`` (N, G) with a :class:`PackedWeight`; differentiable in ``h`` only."""
    return _PackedProduct.apply(h, packed)


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

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        nonlinearity: str = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity
        self.reset_parameters()

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

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, None if hx is None else (hx,))[0]

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.nonlinearity != "tanh":
            text += f", nonlinearity={self.nonlinearity!r}"
        return text


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
    adds_projections = True

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        proj_size: int = 0,
    ) -> None:
        if isinstance(proj_size, bool) or not isinstance(proj_size, int) or proj_size < 0:
            raise ValueError(f"proj_size: expected an int >= 0, got {proj_size!r}")
        if isinstance(hidden_size, int) and proj_size >= hidden_size > 0:
            raise ValueError(
                f"proj_size: expected less than hidden_size ({hidden_size}), got {proj_size}"
            )
        super().__init__(
            input_size,
            hidden_size,
            bias,
            recurrent_size=proj_size or hidden_size,
            device=device,
            dtype=dtype,
        )
        self.proj_size = proj_size
        if proj_size:
            self.weight_hr = nn.Parameter(
                torch.empty(proj_size, hidden_size, device=device, dtype=dtype)
            )
        else:
            self.register_parameter("weight_hr", None)
        self.reset_parameters()

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

    def forward(
        self,
        input: Tensor,
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"hx: expected a tuple (h, c) of two tensors, got {type(hx).__name__}")
        h, c = self._step(input, None if hx is None else tuple(hx))
        return h, c

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.proj_size:
            text += f", proj_size={self.proj_size}"
        return text


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

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.reset_parameters()

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

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, None if hx is None else (hx,))[0]


class _LayerNormCellBase(RNNCellBase):
    """What the layer-normalised cells share: ``W_ih x`` and ``W_hh h`` each normalised over their
    ``G = gates * H`` features with a gain ``ln_weight_*`` and a bias ``ln_bias_*`` of their own.

    There is no bias before a normalisation: the layer norms' biases take its place, as in haste.
    """

    native_mode = None
    eps = 1e-5  # the variance epsilon of every normalisation, nn.LayerNorm's default

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, False, device=device, dtype=dtype)
        self.bias = bias
        self._add_norm("ih", self.gates * hidden_size, device, dtype)
        self._add_norm("hh", self.gates * hidden_size, device, dtype)

    def _add_norm(
        self, name: str, size: int, device: torch.device | str | None, dtype: torch.dtype | None
    ) -> None:
        """Register ``ln_weight_<name>`` and, with a bias, ``ln_bias_<name>``, both of ``size``."""
        factory = {"device": device, "dtype": dtype}
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

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self._add_norm("c", hidden_size, device, dtype)
        self.reset_parameters()

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

    def forward(
        self,
        input: Tensor,
        hx: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, Tensor]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"hx: expected a tuple (h, c) of two tensors, got {type(hx).__name__}")
        h, c = self._step(input, None if hx is None else tuple(hx))
        return h, c


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

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, bias, device, dtype)
        self.reset_parameters()

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

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, None if hx is None else (hx,))[0]


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
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'relu' or 'tanh', got {nonlinearity!r}")
        self.max_length = _check_max_length(max_length)
        super().__init__(input_size, hidden_size, False, device=device, dtype=dtype)
        self.bias = bias
        self.nonlinearity = nonlinearity
        factory = {"device": device, "dtype": dtype}
        # one recurrent weight per unit instead of a matrix
        self.weight_hh = nn.Parameter(torch.empty(hidden_size, **factory))
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(hidden_size, **factory))
        self.reset_parameters()

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

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, None if hx is None else (hx,))[0]

    def extra_repr(self) -> str:
        text = super().extra_repr()
        if self.nonlinearity != "relu":
            text += f", nonlinearity={self.nonlinearity!r}"
        if self.max_length is not None:
            text += f", max_length={self.max_length}"
        return text


# -- minimal RNNs: gates from the input only, so a whole sequence is one linear scan ----------------


def _update_logit(*logits: Tensor) -> Tensor:
    """``u`` with ``σ(u)`` the weight of the candidate: minGRU's ``k_z``, or minLSTM's
    ``log σ(k_i) - log σ(k_f)`` from ``(k_i, k_f)``, so that ``σ(u) = i / (f + i)`` and ``σ(-u) =
    f / (f + i)`` without forming ``f + i``, which underflows to 0 (then 0/0) when both are tiny."""
    if len(logits) == 1:
        return logits[0]
    k_i, k_f = logits
    return F.logsigmoid(k_i) - F.logsigmoid(k_f)


def _convex_coefficients(u: Tensor) -> tuple[Tensor, Tensor]:
    """``z = σ(u)`` and ``a = 1 - z``: the weights of the candidate and of the previous state.

    With ``u = -inf`` (a step past a sequence's end) ``z`` is exactly 0 and ``a`` exactly 1, so the
    state is carried unchanged and no gradient reaches that step's gates.
    """
    z = torch.sigmoid(u)
    return z, torch.rsub(z, 1.0)


def _min_coefficients(
    mask: Tensor | None, c: Tensor, *logits: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """``z``, ``a = 1 - z`` and ``b = z ⊙ c`` of every step (L, N, H); ``u = -inf`` where ``mask``
    (L, N, 1) is False."""
    u = _update_logit(*logits)
    if mask is not None:
        u = u.masked_fill(~mask, float("-inf"))
    z, a = _convex_coefficients(u)
    return z, a, z * c


def _min_input_grads(
    h0: Tensor, out: Tensor, g: Tensor, z: Tensor, a: Tensor, reverse: bool, c: Tensor, *logits
) -> tuple[Tensor, ...]:
    """The gradients of ``c`` and of the logits from ``g = dL/dh`` of every step (see
    :class:`_MinScan`)."""
    # c - h_{t-1}, with h_{t-1} = h0 at the scan's first step, written in two pieces (no shifted copy)
    diff = torch.empty_like(c)
    if reverse:
        torch.sub(c[:-1], out[1:], out=diff[:-1])
        torch.sub(c[-1], h0, out=diff[-1])
    else:
        torch.sub(c[1:], out[:-1], out=diff[1:])
        torch.sub(c[0], h0, out=diff[0])
    dc = g * z
    du = diff.mul_(dc).mul_(a)  # z a (c - h_prev) ⊙ g, in place of diff
    if len(logits) == 1:
        return dc, du
    k_i, k_f = logits  # u = log σ(k_i) - log σ(k_f), and d log σ(k)/dk = σ(-k)
    return dc, torch.neg(k_i).sigmoid_().mul_(du), torch.neg(k_f).sigmoid_().mul_(du).neg_()


def _scan_steps(a: Tensor, b: Tensor, h0: Tensor, reverse: bool) -> Tensor:
    """``h_t = a_t ⊙ h_{t-1} + b_t`` for t = 0..L-1 (L-1..0 with ``reverse``) from ``h0`` (N, H),
    written over ``b`` (L, N, H), which is returned.

    One in-place multiply-add per step, with no autograd graph: on a CPU this beats cumulative
    products or log-space sums, which need several full passes over (L, N, H) and either divide by
    products that underflow or take logs of signed values. Writing over ``b`` saves a tensor of that
    size and a view per step.
    """
    a_steps, out_steps = a.unbind(0), b.unbind(0)
    h = h0
    for t in range(len(out_steps) - 1, -1, -1) if reverse else range(len(out_steps)):
        h = torch.addcmul(out_steps[t], a_steps[t], h, out=out_steps[t])
    return b


def _scan_adjoint(a: Tensor, grad: Tensor, reverse: bool) -> Tensor:
    """The backward scan of :func:`_scan_steps`: ``g_t = grad_t + a_s ⊙ g_s`` where s is the step
    after t in the forward scan's direction (t + 1, or t - 1 with ``reverse``), run from the last
    step back to the first."""
    g = torch.empty_like(grad)
    a_steps, grad_steps, g_steps = a.unbind(0), grad.unbind(0), g.unbind(0)
    steps = len(g_steps)
    order = range(steps) if reverse else range(steps - 1, -1, -1)
    later = order[0]
    g_steps[later].copy_(grad_steps[later])
    for t in order[1:]:
        torch.addcmul(grad_steps[t], a_steps[later], g_steps[later], out=g_steps[t])
        later = t
    return g


class _MinScan(torch.autograd.Function):
    """A whole minGRU / minLSTM sequence: from ``h0`` (N, H), the candidates ``c`` and the gate
    logits (``k_z``, or ``k_i, k_f``), each (L, N, H), the states ``h`` (L, N, H) of every step.

    Forward: ``z = σ(u)``, ``a = 1 - z``, ``b = z ⊙ c`` and the scan ``h_t = a_t ⊙ h_{t-1} + b_t``.
    Backward: the adjoint of a linear scan is the same scan run the other way,
    ``g_t = dL/dh_t + a_{t+1} ⊙ g_{t+1}`` (``dh_0 = a_0 ⊙ g_0``), and then, all steps at once,
    ``dc_t = z_t ⊙ g_t`` and ``du_t = z_t a_t (c_t - h_{t-1}) ⊙ g_t`` (as ``h_t = h_{t-1} + z_t (c_t -
    h_{t-1})``), ``du`` reaching ``k_i, k_f`` through ``d log σ(k)/dk = σ(-k)``. No graph per step
    is recorded: autograd sees one node.

    ``mask`` (L, N, 1), optional, is False past each sequence's end: there ``u = -inf``, so the state
    is carried unchanged (and the reverse direction starts at the true end from ``h0``).
    """

    @staticmethod
    def forward(ctx, h0: Tensor, mask: Tensor | None, reverse: bool, c: Tensor, *logits: Tensor):
        z, a, b = _elementwise("coefficients")(mask, c, *logits)  # (L, N, H) each
        out = _scan_steps(a, b, h0, reverse)  # (L, N, H), in b's memory
        ctx.save_for_backward(h0, z, a, out, c, *logits)
        ctx.reverse = reverse
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor):
        h0, z, a, out, c, *logits = ctx.saved_tensors
        g = _scan_adjoint(a, grad.contiguous(), ctx.reverse)  # (L, N, H): dL/dh_t, all paths
        first = -1 if ctx.reverse else 0
        grad_h0 = a[first] * g[first]
        grads = _elementwise("input_grads")(h0, out, g, z, a, ctx.reverse, c, *logits)
        return grad_h0, None, None, *grads


_SCAN_BLOCK = 2**21  # numbers per (L, N, H) tensor in one block of MinGRU/MinLSTMCell.scan
_ELEMENTWISE = {"coefficients": _min_coefficients, "input_grads": _min_input_grads}
_compiled: dict[str, Callable[..., object]] = {}


def compile_min_cells(enabled: bool = True) -> None:
    """Run the element-wise arithmetic around the minimal cells' scans (the gates before it, the
    gradients of the gates after it) as kernels fused by ``torch.compile``, or, with ``False``, as
    plain PyTorch operations again (the default).

    Optional: it needs a C++ compiler on a CPU, and the first sequences of each kind take seconds to
    compile. If compiling fails, a warning says so and the plain operations are used from then on.
    The scans themselves, and all results, are the same either way (to rounding).
    """
    _compiled.clear()
    if enabled:
        for name, function in _ELEMENTWISE.items():
            _compiled[name] = torch.compile(function, dynamic=True, fullgraph=True)


def _elementwise(name: str) -> Callable[..., object]:
    """The compiled version of ``_ELEMENTWISE[name]`` after :func:`compile_min_cells`, else it."""
    compiled = _compiled.get(name)
    if compiled is None:
        return _ELEMENTWISE[name]

    def call(*args: object) -> object:
        try:
            return compiled(*args)
        except (RuntimeError, OSError) as error:  # no compiler (dynamo wraps it): plain PyTorch
            warnings.warn(
                f"compile_min_cells: compiling failed ({type(error).__name__}: {error}); using "
                "plain PyTorch operations",
                RuntimeWarning,
                stacklevel=2,
            )
            _compiled.clear()
            return _ELEMENTWISE[name](*args)

    return call


class _MinCellBase(RNNCellBase):
    """What minGRU and minLSTM share: ``weight_ih`` and ``bias_ih`` only, a state ``(h,)``, one step
    in :meth:`recurrence` and a whole sequence at once in :meth:`scan`."""

    native_mode = None

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(input_size, hidden_size, False, device=device, dtype=dtype)
        del self.weight_hh  # the gates see x_t only: no recurrent matrix
        self.bias = bias
        if bias:
            self.bias_ih = nn.Parameter(
                torch.empty(self.gates * hidden_size, device=device, dtype=dtype)
            )
        self.reset_parameters()

    def _split(self, xp: Tensor) -> tuple[Tensor, ...]:
        """A projection's blocks reordered as ``(c, *logits)`` for :func:`_min_coefficients`."""
        raise NotImplementedError

    def recurrence(self, xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step, for streaming: the same operations as one step of :meth:`scan`."""
        (h,) = state
        _, a, b = _min_coefficients(None, *self._split(xp_t))  # (N, H) each
        h = torch.addcmul(b, a, h)  # a ⊙ h + z ⊙ c
        return h, (h,)

    def _gates(self, u: Tensor) -> dict[str, Tensor]:
        """The gates of one step from its update logit ``u`` (N, H) (see :func:`_update_logit`)."""
        raise NotImplementedError

    def gate_values(self, xp_t: Tensor, state: State) -> dict[str, Tensor]:
        _, *logits = self._split(xp_t)
        return self._gates(_update_logit(*logits))

    def scan(
        self, x: Tensor, state: State, mask: Tensor | None = None, reverse: bool = False
    ) -> tuple[Tensor, State]:
        """A whole sequence at once: the input ``x`` (L, N, H_in) and the state ``(h_0,)`` ->
        outputs (L, N, H) and the final state.

        ``mask`` (L, N, 1) is False past each sequence's end: the state is carried there unchanged and
        the outputs are zero. With ``reverse`` the steps run from L-1 down to 0 (the final state is
        the one after step 0).
        """
        # Blocks of steps whose (L_block, N, H) tensors hold at most _SCAN_BLOCK numbers, the state
        # carried from one to the next: glibc gives larger buffers fresh pages from the kernel each
        # time (past its 32 MiB mmap threshold), whose faults cost more than the arithmetic here.
        steps, batch = x.shape[0], x.shape[1]
        size = max(1, _SCAN_BLOCK // (batch * self.hidden_size))
        starts = list(range(0, steps, size))
        h, outputs = state[0], {}
        for start in reversed(starts) if reverse else starts:
            part = slice(start, start + size)
            out = self._scan_block(x[part], h, None if mask is None else mask[part], reverse)
            h = out[0] if reverse else out[-1]
            outputs[start] = out
        out = torch.cat([outputs[start] for start in starts]) if len(starts) > 1 else outputs[0]
        # h, the last block's own step, rather than a step of the whole out: its gradient then
        # needs a zero tensor the size of one block instead of one the size of out
        return (out if mask is None else out * mask), (h,)

    def _scan_block(self, x: Tensor, h0: Tensor, mask: Tensor | None, reverse: bool) -> Tensor:
        """:meth:`scan` of ``x`` (L, N, H_in) from ``h0`` (N, H): every step's h (L, N, H)."""
        # One product per gate block rather than one for all: each block comes out contiguous, and
        # element-wise kernels on a strided slice of a (L, N, G*H) tensor are several times slower.
        weights = self.weight_ih.chunk(self.gates, 0)
        biases = (None,) * self.gates if self.bias_ih is None else self.bias_ih.chunk(self.gates)
        # Under autocast the products come out in bfloat16 or float16; the scan runs in x's dtype
        # (the parameters'), where a long sequence's state does not pile up rounding.
        blocks = [F.linear(x, w, b).to(x.dtype) for w, b in zip(weights, biases)]  # G x (L, N, H)
        return _MinScan.apply(h0, mask, reverse, *self._split(blocks))

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, None if hx is None else (hx,))[0]


class MinGRUCell(_MinCellBase):
    r"""A minimal GRU cell (Feng, Tung, Ahmed, Bengio and Hajimirsadeghi 2024, "Were RNNs All We
    Needed?"): the update gate and the candidate depend on the input only,

    .. math::
        \begin{array}{ll}
        z_t = \sigma(W_z x_t + b_z), \quad \tilde h_t = W_h x_t + b_h \\
        h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde h_t
        \end{array}

    so :math:`h_t = a_t \odot h_{t-1} + b_t` is linear in :math:`h` and a whole sequence is one
    scan (:meth:`scan`) instead of L dependent steps. This is the paper's sequential form, with the
    plain candidate :math:`\tilde h_t` (not its log-space :math:`g(\cdot) > 0`, which only a scan in
    log space needs): :math:`h_t` is a convex combination of :math:`h_{t-1}` and :math:`\tilde h_t`,
    so :math:`|h_t| \le \max(|h_0|, \max_s |\tilde h_s|)` at any length, and :math:`1 - z_t` is
    computed as :math:`\sigma`'s complement, bounded in :math:`[0, 1]`, never divided by.

    Args:
        input_size: :math:`H_{in}`.
        hidden_size: :math:`H`.
        bias: if ``False``, no ``bias_ih``.

    Inputs: ``input`` :math:`(N, H_{in})` or :math:`(H_{in})`; ``hx`` :math:`(N, H)` or :math:`(H)`,
    zeros if omitted. Output: ``h'`` in the shape of ``hx``.

    Parameters: ``weight_ih`` :math:`(2H, H_{in})`, stacked :math:`(W_z, W_h)`, and ``bias_ih``
    :math:`(2H)`, stacked :math:`(b_z, b_h)`; uniform in :math:`\pm 1/\sqrt{H}` as torch.nn's. No
    ``weight_hh``.

    Legend: N = batch size, H_in = input features, H = hidden features, L = sequence length.
    """

    gates = 2

    def _split(self, xp: Tensor | list[Tensor]) -> tuple[Tensor, ...]:
        k_z, c = xp.chunk(2, dim=-1) if isinstance(xp, Tensor) else xp
        return c, k_z

    def _gates(self, u: Tensor) -> dict[str, Tensor]:
        """The update gate ``z`` (N, H), the weight of the candidate."""
        return {"z": torch.sigmoid(u)}


class MinLSTMCell(_MinCellBase):
    r"""A minimal LSTM cell (Feng, Tung, Ahmed, Bengio and Hajimirsadeghi 2024, "Were RNNs All We
    Needed?"): forget and input gates and the candidate depend on the input only, and the gates are
    normalised to sum to one,

    .. math::
        \begin{array}{ll}
        f_t = \sigma(W_f x_t + b_f), \quad i_t = \sigma(W_i x_t + b_i), \quad
            \tilde h_t = W_h x_t + b_h \\
        f'_t = f_t / (f_t + i_t), \quad i'_t = i_t / (f_t + i_t) \\
        h_t = f'_t \odot h_{t-1} + i'_t \odot \tilde h_t
        \end{array}

    The normalised gates are computed in log space, :math:`i'_t = \sigma(u_t)` and :math:`f'_t =
    1 - \sigma(u_t)` with :math:`u_t = \log \sigma(W_i x_t + b_i) - \log \sigma(W_f x_t + b_f)`, which
    equals the quotients but never forms :math:`f_t + i_t` (it underflows to 0 when both gates are
    tiny). As in :class:`MinGRUCell`, the candidate is the paper's plain sequential-mode
    :math:`\tilde h_t` and :math:`h_t` a convex combination of :math:`h_{t-1}` and
    :math:`\tilde h_t`, bounded at any length; a whole sequence is one scan (:meth:`scan`).

    Args:
        input_size: :math:`H_{in}`.
        hidden_size: :math:`H`.
        bias: if ``False``, no ``bias_ih``.

    Inputs: ``input`` :math:`(N, H_{in})` or :math:`(H_{in})`; ``hx`` :math:`(N, H)` or :math:`(H)`,
    zeros if omitted. Output: ``h'`` in the shape of ``hx``.

    Parameters: ``weight_ih`` :math:`(3H, H_{in})`, stacked :math:`(W_f, W_i, W_h)`, and ``bias_ih``
    :math:`(3H)`, stacked :math:`(b_f, b_i, b_h)`; uniform in :math:`\pm 1/\sqrt{H}` as torch.nn's.
    No ``weight_hh``.

    Legend: N = batch size, H_in = input features, H = hidden features, L = sequence length.
    """

    gates = 3

    def _split(self, xp: Tensor | list[Tensor]) -> tuple[Tensor, ...]:
        k_f, k_i, c = xp.chunk(3, dim=-1) if isinstance(xp, Tensor) else xp
        return c, k_i, k_f

    def _gates(self, u: Tensor) -> dict[str, Tensor]:
        """The normalised input and forget gates ``i' = i / (f + i)`` and ``f' = 1 - i'`` (N, H)."""
        z, a = _convex_coefficients(u)
        return {"i": z, "f": a}
