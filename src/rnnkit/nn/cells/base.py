"""What every cell shares: :class:`RNNCellBase` (the parameters ``weight_ih``, ``weight_hh``,
``bias_ih``, ``bias_hh``, their initialisation, torch.nn's one-step API) and the *cell protocol* that
the runner (:class:`rnnkit.nn.runner.Recurrent`) runs over whole sequences.

The cell protocol
-----------------

A cell is an ``nn.Module`` built as ``Cell(input_size, hidden_size, bias=True, device=None,
dtype=None, **options)`` (``options`` such as ``nonlinearity`` where the cell has one) with:

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
- ``init_state(x, batch_size)``: the zero state, one ``(N, size)`` tensor per entry of
  ``state_sizes`` on ``x``'s device and dtype; and a parameter ``weight_ih``, whose dtype and device
  the runner checks the input against.
- ``native_mode``: the name of PyTorch's fused kernel computing the same recurrence (``"LSTM"``...), or
  ``None`` for a cell PyTorch has no kernel for.
- ``gate_values(xp_t, state)``: each gate's activation at one step, ``{name: (N, H)}`` in [0, 1]
  (``{}`` for a cell without gates), for looking inside a trained network (``rnnkit inspect``).
- optionally ``scan(x, state, mask=None, reverse=False)``: all steps of a sequence at once from the
  input ``x`` (L, N, H_in), returning ``(outputs (L, N, H_out), final_state)``; where ``mask`` (L, N, 1) is
  False the state is carried unchanged and the output is zero; ``reverse`` runs from step L-1 to 0.
  The minimal RNNs, whose gates do not see the state, have one: their recurrence is linear in ``h``.

A new cell that implements these gets stacking, both directions, lengths, packing and initial states
from the runner for free, and :func:`rnnkit.nn.registry.register_cell` makes it a ``cell`` of
every model and task; the regularisers (:mod:`rnnkit.nn.regularisers`) wrap it in the runner.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

__all__ = ["RNNCellBase", "State", "check_choice", "options_repr"]

State = tuple[Tensor, ...]


def check_choice(name: str, value: object, choices: tuple[str, ...]) -> str:
    """``value`` if it is one of ``choices``, else a ``ValueError`` naming them."""
    if value not in choices:
        raise ValueError(f"{name}: expected {' or '.join(map(repr, choices))}, got {value!r}")
    return value


def options_repr(module: object, defaults: dict[str, object]) -> list[str]:
    """``name=value`` for each of ``defaults`` whose value on ``module`` differs from its default,
    in that order: the options part of an ``extra_repr``."""
    values = {name: getattr(module, name, default) for name, default in defaults.items()}
    return [
        f"{name}={values[name]!r}" for name, default in defaults.items() if values[name] != default
    ]


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
    # the biases registered with bias=True (the layer-normalised cells use their norms' instead)
    _biases: tuple[str, ...] = ("bias_ih", "bias_hh")
    # the built-in cells initialise their parameters when built; a cell of one's own (which may
    # add parameters after this __init__) calls reset_parameters() itself
    _reset_when_built = False
    # options shown by extra_repr where they differ from these defaults
    _repr_defaults: tuple[tuple[str, object], ...] = ()
    native_mode: str | None = None
    # True where step() begins with xp_t + hp_t, so that dL/dhp_t = dL/dxp_t (see rnnkit.nn.reference)
    adds_projections: bool = False

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        recurrent_size: int | None = None,
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
        for name in ("bias_ih", "bias_hh"):
            biased = bias and name in self._biases
            value = (
                nn.Parameter(torch.empty(self.gates * hidden_size, **factory)) if biased else None
            )
            self.register_parameter(name, value)
        self._add_parameters(factory)
        if self._reset_when_built:
            self.reset_parameters()

    def _add_parameters(self, factory: dict[str, object]) -> None:
        """Register (or remove) a built-in cell's own parameters, before they are initialised."""

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
        options = options_repr(self, {"bias": True, **dict(self._repr_defaults)})
        return ", ".join([str(self.input_size), str(self.hidden_size), *options])

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

    def forward(
        self, input: Tensor, hx: Tensor | tuple[Tensor, ...] | None = None
    ) -> Tensor | tuple[Tensor, ...]:
        """One step from ``hx`` (zeros if omitted): a tensor for a cell whose state is one tensor,
        else a tuple such as an LSTM's ``(h, c)``; the new state in the same form."""
        count = len(self.state_sizes)
        if count == 1:
            return self._step(input, None if hx is None else (hx,))[0]
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != count):
            what = "(h, c) of two tensors" if count == 2 else f"of {count} tensors"
            raise TypeError(f"hx: expected a tuple {what}, got {type(hx).__name__}")
        return self._step(input, None if hx is None else tuple(hx))

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
