"""Whole-sequence recurrent layers: one generic runner over any cell, and torch.nn's RNN, LSTM and GRU.

:class:`Recurrent` takes a factory of cells (see the cell protocol in :mod:`rnnkit.nn.cells`) and adds what
a layer needs on top of one time step: several layers, both directions, dropout between layers, an
initial state, variable lengths (a ``lengths`` tensor or a ``PackedSequence``), batch-first or time-first
and unbatched input. :class:`RNN`, :class:`LSTM` and :class:`GRU` are that runner with torch.nn's exact
signature and ``state_dict`` names, so they load torch.nn weights and replace it without other changes.

``backend`` chooses how a layer runs:

- ``"reference"``: the readable loop in :meth:`Recurrent._run_reference`: the inputs of all steps are
  projected by one matrix product, then each step does one matrix product for the recurrence.
- ``"native"``: PyTorch's fused kernels (``torch._VF``, cuDNN on a GPU) on the same parameters.
- ``"auto"`` (default): native where every cell has a native kernel, reference otherwise.

Models build their layer by cell name with :func:`build_layer`, from the registry :data:`CELLS`
(``"rnn"``, ``"lstm"``, ``"gru"``, and the cells torch.nn lacks: ``"lnlstm"``, ``"lngru"``,
``"indrnn"``, and the minimal RNNs ``"mingru"``, ``"minlstm"``); :func:`register_cell` adds a name,
which every model then accepts.

A cell may also define ``scan`` (the minimal RNNs do, see :mod:`rnnkit.nn.cells`): the reference
backend then runs each layer and direction of a sequence longer than one step as one call of it
(with the padding mask of ``lengths``) instead of the per-step loop; the layers' ``mode`` can force
either.

Under ``torch.autocast`` (mixed precision) a layer takes and returns its parameters' dtype
(float32): its input may also come in the autocast dtype (the output of an autocast ``nn.Linear``)
and is cast to the parameters' dtype, and its output and final state come back in that dtype, so a
carried state can be passed back in. Inside, the reference backend runs the matrix products (the
input projection, the recurrent product of every step) in the autocast dtype and everything else
(gates, cell state, the minimal cells' scan) in the parameters' dtype: each step's state is held in
float32, so rounding does not pile up over the steps. The native backend runs what torch's
autocast makes of its fused kernel. Under CPU bfloat16 autocast the outputs stay within 0.05 of
float32's for every cell but the layer-normalised LSTM, within 0.25 (at initialisation its
recurrence magnifies any perturbation: rounding only its input to bfloat16 moves its float32
outputs by up to 0.04); ``tests/test_precision.py`` checks both.
"""

from __future__ import annotations

import contextlib
import inspect
import warnings
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import _VF, Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.nn.cells import (
    GRUCell,
    IndRNNCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    MinGRUCell,
    MinLSTMCell,
    PackedWeight,
    RNNCell,
    RNNCellBase,
    State,
    packed_product,
)

__all__ = [
    "BACKENDS",
    "CELLS",
    "GRU",
    "LSTM",
    "REGULARISERS",
    "RNN",
    "IndRNN",
    "LayerNormGRU",
    "LayerNormLSTM",
    "MinGRU",
    "MinLSTM",
    "Recurrent",
    "build_layer",
    "register_cell",
]

BACKENDS = ("auto", "native", "reference")
REGULARISERS = ("recurrent_dropout", "weight_drop", "zoneout")
"""The recurrent regularisers every layer takes as keyword options (see :class:`Recurrent`)."""

CellFactory = Callable[[int, int], RNNCellBase]
Probe = Callable[[int, int, int, State], Sequence[Tensor]]
"""``fn(layer, direction, t, state) -> state`` of :meth:`Recurrent.probe`."""


def _autocast_dtype(device: torch.device) -> torch.dtype | None:
    """The dtype autocast gives matrix products on ``device`` here and now; None when it is off."""
    try:
        if torch.is_autocast_enabled(device.type):
            return torch.get_autocast_dtype(device.type)
    except RuntimeError:  # a device type autocast does not know
        pass
    return None


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name}: expected an int, got {type(value).__name__} {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an int >= {minimum}, got {value}")
    return value


def _check_probability(name: str, value: object) -> float:
    """``value`` as a float in [0, 1): a dropout-like probability."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: expected a float in [0, 1), got {type(value).__name__} {value!r}")
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name}: expected a float in [0, 1), got {value}")
    return float(value)


class Recurrent(nn.Module):
    """Run a stack of cells over whole sequences, in one or both directions.

    Args:
        cell_factory: ``cell_factory(input_size, layer) -> cell``, called once per layer and direction.
            The first layer gets ``input_size``, the next ones the previous layer's output size times
            the number of directions.
        input_size: :math:`H_{in}`, the features of the input.
        num_layers: how many layers are stacked.
        batch_first: input and output are :math:`(N, L, \\cdot)` instead of :math:`(L, N, \\cdot)`.
            The returned states are :math:`(D \\cdot num\\_layers, N, \\cdot)` either way.
        dropout: probability of dropping the outputs of every layer but the last, in training mode.
        bidirectional: run a second stack of cells from the end of each sequence back to its start.
        backend: ``"auto"``, ``"native"`` or ``"reference"`` (see the module docstring).
        recurrent_dropout: variational dropout of the state fed back, in training (below).
        weight_drop: DropConnect on every cell's recurrent weight ``weight_hh``, in training.
        zoneout: probability that a unit keeps its previous value at a step.

    The parameters of the cells are registered on the layer under torch.nn's names,
    ``<name>_l<layer>`` and ``<name>_l<layer>_reverse``, so ``state_dict()`` matches torch.nn's.

    **Recurrent regularisers.** Three keyword options, each a probability :math:`p \\in [0, 1)`,
    0 (off) by default; with :math:`p = 0` the layer computes exactly what it computes without the
    option. Masks are drawn independently for every layer and direction, from torch's default
    generator (``torch.manual_seed`` makes them reproducible).

    - ``recurrent_dropout`` (Gal and Ghahramani 2016, Keras' ``recurrent_dropout``): in training,
      the previous output :math:`h_{t-1}` is multiplied by one mask :math:`m / (1 - p)`,
      :math:`m \\sim \\mathrm{Bernoulli}(1 - p)^{N \\times H_{out}}`, drawn once per forward and
      used at every step, where it enters the recurrence: :math:`W_{hh} (m \\odot h_{t-1}) / (1 - p)`
      for the cells that write ``step`` (all built-in cells but IndRNN), so that a GRU's
      interpolation :math:`z \\odot h_{t-1}` and an LSTM's cell state :math:`c` are not dropped;
      for a cell that writes its own ``recurrence`` (IndRNN: :math:`u \\odot h_{t-1}`), the ``h`` of
      the state passed to it. The step's output and the state carried on are not dropped. In
      evaluation it is the identity.
    - ``weight_drop`` (DropConnect on the recurrent weights, Merity, Keskar and Socher 2017,
      AWD-LSTM): in training, every cell's ``weight_hh`` is replaced for one forward by
      :math:`W_{hh} \\odot m / (1 - p)`, one mask :math:`m` of ``weight_hh``'s shape per layer and
      direction, the same at every step; the gradient reaches ``weight_hh`` through the mask. For
      IndRNN this drops entries of the per-unit weight :math:`u` (H,), i.e. cuts the self-loop of
      those units for the whole forward; with ``max_length`` the bound is applied to the dropped
      :math:`u`, so it holds in training too. An LSTM's projection ``weight_hr`` is not dropped. A
      cell without a ``weight_hh`` parameter is refused. In evaluation it is the identity.
    - ``zoneout`` (Krueger et al. 2017): after each step every state component (:math:`h`, and
      :math:`c` in LSTMs, each with its own mask) is :math:`s_t = m \\odot s_{t-1} + (1 - m)
      \\odot \\tilde s_t` with a fresh :math:`m \\sim \\mathrm{Bernoulli}(p)^{N \\times size}` at every
      step in training, and the expectation :math:`s_t = p \\, s_{t-1} + (1 - p) \\, \\tilde s_t` in
      evaluation. The step's output is the zoned-out :math:`h_t` (what the next step and the next
      layer see).

    Padded steps (``lengths``, ``PackedSequence``) keep the state as without the options. The fused
    kernels take the recurrent weights as a list, so ``weight_drop`` runs on both backends; they
    cannot express ``recurrent_dropout`` or ``zoneout``: ``backend="auto"`` then runs the reference
    loop (in evaluation mode it may run natively with ``recurrent_dropout``, which is then the
    identity, but not with ``zoneout``, whose expectation still acts), and ``backend="native"`` with
    either is a ``ValueError``. The three options are attributes that may be changed later, checked
    in the same way.
    """

    # How cells that define ``scan`` run: "auto", "scan" or "step" (see _scans)
    scan_mode = "auto"
    # While probe() is active: the function that sees (and may replace) each step's state
    _probe: Probe | None = None

    def __init__(
        self,
        cell_factory: CellFactory,
        input_size: int,
        num_layers: int = 1,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        *,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        super().__init__()
        self._recurrent_dropout = _check_probability("recurrent_dropout", recurrent_dropout)
        self._zoneout = _check_probability("zoneout", zoneout)
        self._weight_drop = 0.0
        weight_drop = _check_probability("weight_drop", weight_drop)  # set once the cells exist
        self.input_size = _check_int("input_size", input_size, 1)
        self.num_layers = _check_int("num_layers", num_layers, 1)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
            raise TypeError(f"dropout: expected a float in [0, 1), got {type(dropout).__name__}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout: expected a float in [0, 1), got {dropout}")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                f"expects num_layers greater than 1, but got dropout={dropout} and "
                f"num_layers={num_layers}",
                stacklevel=3,
            )
        self.batch_first = bool(batch_first)
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        self.backend = backend  # validated by the property setter

        directions = 2 if bidirectional else 1
        cells: list[RNNCellBase] = []
        layer_input = input_size
        for layer in range(num_layers):
            for direction in range(directions):
                cell = cell_factory(layer_input, layer)
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                for name, parameter in cell.named_parameters():
                    self.register_parameter(name.replace(".", "_") + suffix, parameter)
                cells.append(cell)
            layer_input = cells[-1].output_size * directions
        # The cells hold the very Parameter objects registered above. They are kept in a plain list,
        # not as submodules, so state_dict() has torch.nn's keys only; _cells_in_sync() re-points them
        # at the layer's parameters in case those were replaced (load_state_dict(assign=True)...).
        self._cells = cells
        modes = {cell.native_mode for cell in cells}
        self._native_mode = modes.pop() if len(modes) == 1 else None
        self._cell_parameter_names = [
            [
                (name, name.replace(".", "_") + self._suffix(index))
                for name, _ in cell.named_parameters()
            ]
            for index, cell in enumerate(cells)
        ]
        self.weight_drop = weight_drop

    # -- configuration ------------------------------------------------------------------------------

    @property
    def backend(self) -> str:
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        if value not in BACKENDS:
            raise ValueError(
                f"backend: expected one of {', '.join(map(repr, BACKENDS))}, got {value!r}"
            )
        if value == "native":
            for name in ("recurrent_dropout", "zoneout"):
                if getattr(self, name):
                    raise ValueError(
                        f"backend: 'native' cannot run {name}={getattr(self, name)} (PyTorch's "
                        "fused kernels have no such option); expected 'auto' or 'reference'"
                    )
        self._backend = value

    @property
    def recurrent_dropout(self) -> float:
        return self._recurrent_dropout

    @recurrent_dropout.setter
    def recurrent_dropout(self, value: float) -> None:
        value = _check_probability("recurrent_dropout", value)
        self._refuse_native("recurrent_dropout", value)
        self._recurrent_dropout = value

    @property
    def zoneout(self) -> float:
        return self._zoneout

    @zoneout.setter
    def zoneout(self, value: float) -> None:
        value = _check_probability("zoneout", value)
        self._refuse_native("zoneout", value)
        self._zoneout = value

    @property
    def weight_drop(self) -> float:
        return self._weight_drop

    @weight_drop.setter
    def weight_drop(self, value: float) -> None:
        value = _check_probability("weight_drop", value)
        lacking = [c for c in self._cells if not isinstance(c._parameters.get("weight_hh"), Tensor)]
        if value and lacking:
            raise ValueError(
                f"weight_drop: {type(lacking[0]).__name__} has no recurrent weight parameter "
                f"'weight_hh' to drop; expected 0.0, got {value}"
            )
        self._weight_drop = value

    def _refuse_native(self, name: str, value: float) -> None:
        if value and self._backend == "native":
            raise ValueError(
                f"{name}: backend 'native' cannot run {name}={value} (PyTorch's fused kernels have "
                "no such option); expected 0.0, or backend 'auto' or 'reference'"
            )

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def cells(self) -> list[RNNCellBase]:
        """The cells, layer by layer, forward direction first: index ``layer * D + direction``."""
        return self._cells_in_sync()

    def _suffix(self, index: int) -> str:
        layer, direction = divmod(index, self.num_directions)
        return f"_l{layer}" + ("_reverse" if direction else "")

    def _cells_in_sync(self) -> list[RNNCellBase]:
        for cell, names in zip(self._cells, self._cell_parameter_names):
            for cell_name, layer_name in names:
                module, _, leaf = cell_name.rpartition(".")
                owner = cell.get_submodule(module) if module else cell
                parameter = self._parameters[layer_name]
                if owner._parameters[leaf] is not parameter:
                    owner._parameters[leaf] = parameter
        return self._cells

    def native_mode(self) -> str | None:
        """The name of torch's fused kernel that computes these cells, or ``None`` if there is none."""
        return self._native_mode

    def resolved_backend(self) -> str:
        """The backend the next forward will use: ``"native"`` or ``"reference"``.

        ``"auto"`` is native where the cells have a fused kernel and the regularisers in use allow
        it: not with ``zoneout``, nor with ``recurrent_dropout`` in training mode."""
        if self._backend == "reference":
            return "reference"
        if self.native_mode() is None:
            if self._backend == "native":
                raise ValueError(
                    f"backend: 'native' is not available for {type(self._cells[0]).__name__} "
                    "(PyTorch has no fused kernel for it); expected 'auto' or 'reference'"
                )
            return "reference"
        if self._backend == "auto" and (
            self._zoneout or (self._recurrent_dropout and self.training)
        ):
            return "reference"
        return "native"

    def flatten_parameters(self) -> None:
        """Kept for torch.nn compatibility; the parameters are used as they are."""

    def __prepare_scriptable__(self) -> Recurrent:
        """``torch.jit.script`` calls this first: the generic runner is not TorchScript (its cells
        in a plain list, any cell, the probe's callback, the weight-drop context manager, states
        that are a tensor or a tuple), so say so and what works instead, rather than fail on the
        first line the compiler cannot read. (torch.nn's RNN, LSTM and GRU script, in torch 2.13,
        to a module without a ``forward``.)"""
        raise RuntimeError(
            f"torch.jit.script cannot compile rnnkit's {type(self).__name__}: its generic runner "
            "(any cell, a probe callback, a context manager, a state that is a tensor or a tuple) "
            "is Python that TorchScript does not support; use torch.jit.trace or "
            "torch.export.export (see docs/export.md)"
        )

    @contextlib.contextmanager
    def probe(self, fn: Probe) -> Iterator[None]:
        """Within the block, every step of every layer and direction calls ``fn(layer, direction, t,
        state)`` with the new state (a tuple, ``(h_t,)`` or ``(h_t, c_t)``, each (N, size), before
        the padding mask of ``lengths``) and continues from the state it returns; the step's output is
        that state's ``h``. For looking inside: record the states, or add a zero tensor that requires
        grad to ``h_t`` and read ``dL/dh_t`` (through every later step) from its gradient.

        The block runs the reference loop one step at a time (no native kernel, no scan), so what
        ``fn`` sees is each step as the cells compute it; the results are those of the layer.
        """
        if not callable(fn):
            raise TypeError(f"fn: expected a callable, got {type(fn).__name__}")
        previous = self._probe
        self._probe = fn
        try:
            yield
        finally:
            self._probe = previous

    # -- forward ------------------------------------------------------------------------------------

    def forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | Sequence[Tensor] | None = None,
        lengths: Tensor | None = None,
    ) -> tuple[Tensor | PackedSequence, Tensor | tuple[Tensor, ...]]:
        """Run the layer over ``input`` from the state ``hx``; see the class docstrings for shapes."""
        self._cells_in_sync()
        native = self._probe is None and self.resolved_backend() == "native"
        with self._weights_dropped():
            return self._forward(input, hx, lengths, native)

    def _forward(
        self,
        input: Tensor | PackedSequence,
        hx: Tensor | Sequence[Tensor] | None,
        lengths: Tensor | None,
        native: bool,
    ) -> tuple[Tensor | PackedSequence, Tensor | tuple[Tensor, ...]]:
        if isinstance(input, PackedSequence):
            if lengths is not None:
                raise ValueError(
                    "lengths: expected None with a PackedSequence input (it has its own)"
                )
            data = self._from_autocast(input.data)
            if data is not input.data:
                input = PackedSequence(
                    data, input.batch_sizes, input.sorted_indices, input.unsorted_indices
                )
            self._check_input(input.data)
            batch = int(input.batch_sizes[0])
            state = self._check_hx(hx, input.data, batch, unbatched=False)
            if state is not None and input.sorted_indices is not None:
                state = tuple(h.index_select(1, input.sorted_indices) for h in state)
            if native:
                data, final = self._run_native_packed(input.data, input.batch_sizes, state)
            else:
                data, final = self._run_reference_packed(input, state)
            if input.unsorted_indices is not None:
                final = tuple(f.index_select(1, input.unsorted_indices) for f in final)
            dtype = input.data.dtype  # the parameters' (see the module docstring on autocast)
            final = tuple(f.to(dtype) for f in final)
            output = PackedSequence(
                data.to(dtype), input.batch_sizes, input.sorted_indices, input.unsorted_indices
            )
            return output, (final[0] if len(final) == 1 else final)

        if not isinstance(input, Tensor):
            raise TypeError(
                f"input: expected a Tensor or PackedSequence, got {type(input).__name__}"
            )
        if input.dim() not in (2, 3):
            raise ValueError(
                f"input: expected a 2-D (unbatched) or 3-D (batched) tensor, got {input.dim()}-D "
                f"of shape {tuple(input.shape)}"
            )
        unbatched = input.dim() == 2
        if unbatched:
            x = input.unsqueeze(1)  # (L, 1, H_in)
        else:
            x = input.transpose(0, 1) if self.batch_first else input  # (L, N, H_in)
        x = self._from_autocast(x)
        self._check_input(x)
        steps, batch = x.shape[0], x.shape[1]
        if lengths is not None:
            if unbatched:
                raise ValueError("lengths: expected None with unbatched (2-D) input")
            lengths = self._check_lengths(lengths, batch, steps, x.device)
            if int(lengths.min()) == steps:
                lengths = None  # nothing is padded: the plain path gives the same result
        state = self._check_hx(hx, x, batch, unbatched)

        if native and lengths is not None:
            packed = pack_padded_sequence(x, lengths.cpu(), enforce_sorted=False)
            if state is None:
                # zeros of the batch's size taken from x, not from the packed batch sizes, so that
                # a traced or exported graph keeps the batch size dynamic
                state = self._zero_state(x, batch)
            state = tuple(h.index_select(1, packed.sorted_indices) for h in state)
            data, final = self._run_native_packed(packed.data, packed.batch_sizes, state)
            output, _ = pad_packed_sequence(
                PackedSequence(
                    data, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices
                ),
                total_length=steps,
            )
            final = tuple(f.index_select(1, packed.unsorted_indices) for f in final)
        elif native:
            output, final = self._run_native(x, state)
        else:
            output, final = self._run_reference(x, state, lengths)
        # under autocast, the parameters' dtype (see the module docstring)
        output, final = output.to(x.dtype), tuple(f.to(x.dtype) for f in final)

        if unbatched:
            output = output.squeeze(1)
            final = tuple(f.squeeze(1) for f in final)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (final[0] if len(final) == 1 else final)

    # -- the regularisers' masks --------------------------------------------------------------------

    def _draw_mask(self, shape: tuple[int, ...], probability: float, like: Tensor) -> Tensor:
        """A boolean tensor of ``shape`` on ``like``'s device, each entry True with ``probability``.

        Every random mask of the regularisers is drawn here, in a fixed order (per layer and
        direction: the weight mask, before the loop; the feedback mask; the zoneout masks)."""
        return torch.rand(shape, device=like.device) < probability

    def _dropout_mask(self, shape: tuple[int, ...], p: float, like: Tensor) -> Tensor:
        """Inverted dropout's multiplier: 0 with probability ``p``, else ``1 / (1 - p)``."""
        keep = self._draw_mask(shape, 1.0 - p, like)
        return keep.to(like.dtype) / (1.0 - p)

    @contextlib.contextmanager
    def _weights_dropped(self) -> Iterator[None]:
        """In training with ``weight_drop``: each cell's ``weight_hh`` is, for the duration, its
        product with a dropout mask of its own, so both backends and every step use that tensor and
        autograd carries its gradient back to the parameter through the mask."""
        if not (self._weight_drop and self.training):
            yield
            return
        originals = [cell._parameters["weight_hh"] for cell in self._cells]
        try:
            for cell, weight in zip(self._cells, originals):
                mask = self._dropout_mask(tuple(weight.shape), self._weight_drop, weight)
                # a plain tensor in the Parameter's place, until the forward ends
                cell._parameters["weight_hh"] = weight * mask
            yield
        finally:
            for cell, weight in zip(self._cells, originals):
                cell._parameters["weight_hh"] = weight

    def _zoneout_masks(self, cell: RNNCellBase, steps: int, batch: int, x: Tensor) -> State | None:
        """Training: for each state component, (L, N, size) True where a unit keeps its previous
        value at a step; evaluation (the expectation is used instead): ``None``."""
        if not self.training:
            return None
        return tuple(
            self._draw_mask((steps, batch, size), self._zoneout, x) for size in cell.state_sizes
        )

    def _zone_out(self, new: State, old: State, masks: State | None, t: int) -> State:
        """Zoneout of step ``t``: ``m * old + (1 - m) * new`` per component, or its expectation."""
        if masks is None:
            return tuple(torch.lerp(n, o, self._zoneout) for n, o in zip(new, old))
        return tuple(torch.where(m[t], o, n) for m, n, o in zip(masks, new, old))

    def eval_step(self, cell: RNNCellBase, xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        """One step of ``cell`` (one of :attr:`cells`) as this layer runs it in evaluation mode: the
        cell's recurrence, then zoneout's expectation. For step-by-step generation."""
        output, new_state = cell.recurrence(xp_t, state)
        if not self._zoneout:
            return output, new_state
        new_state = self._zone_out(new_state, state, None, 0)
        return new_state[0], new_state

    # -- validation ---------------------------------------------------------------------------------

    def _from_autocast(self, x: Tensor) -> Tensor:
        """Under autocast, a floating-point input of another dtype (an autocast ``nn.Linear``'s
        bfloat16 output) in the parameters' dtype; anything else as it is, for the checks."""
        dtype = self._cells[0].weight_ih.dtype
        if x.dtype != dtype and x.is_floating_point() and _autocast_dtype(x.device) is not None:
            return x.to(dtype)
        return x

    def _check_input(self, x: Tensor) -> None:
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"input: expected {self.input_size} features (input_size) in the last dimension, "
                f"got {x.shape[-1]}"
            )
        weight = self._cells[0].weight_ih
        if x.dtype != weight.dtype:
            raise TypeError(
                f"input: expected dtype {weight.dtype} (the layer's parameters), got {x.dtype}"
            )
        if x.device != weight.device:
            raise RuntimeError(
                f"input: expected device {weight.device} (the layer's parameters), got {x.device}"
            )
        if x.shape[0] == 0:
            raise ValueError("input: expected a sequence length >= 1, got 0")

    @staticmethod
    def _check_lengths(lengths: object, batch: int, steps: int, device: torch.device) -> Tensor:
        if not isinstance(lengths, Tensor):
            if isinstance(lengths, (list, tuple)):
                lengths = torch.as_tensor(lengths)
            else:
                raise TypeError(
                    f"lengths: expected a 1-D tensor of ints, got {type(lengths).__name__}"
                )
        if lengths.dim() != 1:
            raise ValueError(
                f"lengths: expected a 1-D tensor, got {lengths.dim()}-D of shape {tuple(lengths.shape)}"
            )
        if (
            lengths.dtype.is_floating_point
            or lengths.dtype.is_complex
            or lengths.dtype == torch.bool
        ):
            raise TypeError(f"lengths: expected an integer dtype, got {lengths.dtype}")
        if lengths.numel() != batch:
            raise ValueError(
                f"lengths: expected {batch} entries (the batch size), got {lengths.numel()}"
            )
        low, high = int(lengths.min()), int(lengths.max())
        if low < 1:
            raise ValueError(f"lengths: expected every length >= 1, got {low}")
        if high > steps:
            raise ValueError(
                f"lengths: expected every length <= {steps} (the sequence length), got {high}"
            )
        return lengths.to(device=device, dtype=torch.long)

    def _check_hx(
        self, hx: Tensor | Sequence[Tensor] | None, x: Tensor, batch: int, unbatched: bool
    ) -> State | None:
        """Validate ``hx``; give back its components, each ``(D * num_layers, N, size)``."""
        if hx is None:
            return None
        sizes = self._cells[0].state_sizes
        if len(sizes) == 1:
            if not isinstance(hx, Tensor):
                raise TypeError(f"hx: expected a Tensor, got {type(hx).__name__}")
            components: Sequence[Tensor] = (hx,)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != len(sizes):
                raise TypeError(
                    f"hx: expected a tuple of {len(sizes)} tensors (h_0, c_0), got {type(hx).__name__}"
                    + (f" of length {len(hx)}" if isinstance(hx, (tuple, list)) else "")
                )
            components = hx
        count = self.num_layers * self.num_directions
        checked = []
        for index, (h, size) in enumerate(zip(components, sizes)):
            name = "hx" if len(sizes) == 1 else f"hx[{index}]"
            if not isinstance(h, Tensor):
                raise TypeError(f"{name}: expected a Tensor, got {type(h).__name__}")
            expected = (count, size) if unbatched else (count, batch, size)
            if tuple(h.shape) != expected:
                what = "2-D for unbatched input" if unbatched else "(D * num_layers, N, H_out)"
                raise ValueError(f"{name}: expected shape {expected} {what}, got {tuple(h.shape)}")
            if h.dtype != x.dtype and h.is_floating_point() and _autocast_dtype(x.device):
                h = h.to(x.dtype)  # as the input (see _from_autocast)
            if h.dtype != x.dtype:
                raise TypeError(f"{name}: expected dtype {x.dtype} (the input's), got {h.dtype}")
            if h.device != x.device:
                raise RuntimeError(
                    f"{name}: expected device {x.device} (the input's), got {h.device}"
                )
            checked.append(h.unsqueeze(1) if unbatched else h)  # (D * num_layers, N, size)
        return tuple(checked)

    # -- the reference backend: the readable loop ---------------------------------------------------

    def _run_reference(
        self, x: Tensor, state: State | None, lengths: Tensor | None
    ) -> tuple[Tensor, State]:
        """Run every layer and direction with the cells' own recurrence.

        ``x`` is (L, N, H_in); ``state`` holds the initial state's components, each
        (D * num_layers, N, size), or None for zeros; ``lengths`` (N,) marks padding, or is None.
        Returns the last layer's output (L, N, D * H_out) and the final state's components.
        """
        steps, batch = x.shape[0], x.shape[1]
        # Under autocast the products run in `low` and the rest of each step in `dtype` (the
        # parameters'), so the state keeps float32's precision from step to step.
        dtype, low = x.dtype, _autocast_dtype(x.device)
        mask = mask_steps = None
        if lengths is not None:
            # mask[t, n] says whether step t is inside sequence n: (L, N, 1), and L x (N, 1)
            mask = (torch.arange(steps, device=x.device)[:, None] < lengths[None, :]).unsqueeze(-1)
            mask_steps = mask.unbind(0)
        finals: list[State] = []
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.num_directions):
                index = layer * self.num_directions + direction
                cell = self._cells[index]
                if state is None:
                    h_state = cell.init_state(x, batch)
                else:
                    h_state = tuple(component[index] for component in state)
                if self._scans(cell, steps):
                    out, h_state = cell.scan(x, h_state, mask=mask, reverse=bool(direction))
                    outputs.append(out)
                    finals.append(h_state)
                    continue
                # One matrix product for the inputs of every step; unbind gives views whose backward
                # does not allocate a full-size zero tensor per step, as indexing xp[t] would.
                xp = cell.project_input(x).to(dtype)  # (L, N, G)
                feedback = None
                if self._recurrent_dropout and self.training:
                    # variational: one mask per sequence, the same at every step
                    size = (batch, cell.state_sizes[0])
                    feedback = self._dropout_mask(size, self._recurrent_dropout, x)  # (N, H_out)
                recurrent = _RecurrentProduct(cell, xp, feedback, low)
                zones = self._zoneout_masks(cell, steps, batch, x) if self._zoneout else None
                xp_steps = recurrent.xp.unbind(0)  # L x (N, G)
                order = range(steps - 1, -1, -1) if direction else range(steps)
                out_steps: list[Tensor] = [x] * steps  # placeholders, each one overwritten
                for t in order:
                    out_t, new_state = recurrent.step(t, xp_steps[t], h_state)
                    if low is not None:  # a cell whose last operation was a product (proj_size)
                        out_t, new_state = out_t.to(dtype), tuple(s.to(dtype) for s in new_state)
                    if self._zoneout:
                        new_state = self._zone_out(new_state, h_state, zones, t)
                        out_t = new_state[0]  # the output is the zoned-out h
                    if self._probe is not None:
                        new_state = tuple(self._probe(layer, direction, t, new_state))
                        out_t = new_state[0]
                    if mask_steps is not None:
                        # Past a sequence's end the state stays as it was and the output is zero:
                        # the final state is the one at the true end, and the reverse direction
                        # starts from the true end with the initial state.
                        m = mask_steps[t]
                        new_state = tuple(torch.where(m, n, s) for n, s in zip(new_state, h_state))
                        out_t = out_t * m
                    h_state = new_state
                    out_steps[t] = out_t
                outputs.append(torch.stack(out_steps))  # (L, N, H_out)
                finals.append(h_state)
            x = outputs[0] if len(outputs) == 1 else torch.cat(outputs, dim=2)  # (L, N, D * H_out)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, training=True)
        return x, tuple(torch.stack(component) for component in zip(*finals))

    def _scans(self, cell: RNNCellBase, steps: int) -> bool:
        """Whether ``cell`` runs as one whole-sequence scan: it has one (see the cell protocol), and
        the layer's ``scan_mode`` is ``"scan"``, or ``"auto"`` with more than one step (a single
        step, as in streaming generation, takes the per-step path)."""
        if not callable(getattr(cell, "scan", None)) or self.scan_mode == "step" or self._probe:
            return False
        return self.scan_mode == "scan" or steps > 1

    def _run_reference_packed(
        self, packed: PackedSequence, state: State | None
    ) -> tuple[Tensor, State]:
        """The reference loop on a packed batch, in its sorted order: pad, run with lengths, re-pack."""
        x, lengths = pad_packed_sequence(packed)  # (L, N, H_in) in the original order
        if packed.sorted_indices is not None:
            x = x.index_select(1, packed.sorted_indices)
            lengths = lengths[packed.sorted_indices.cpu()]
        output, final = self._run_reference(x, state, lengths.to(x.device))
        return pack_padded_sequence(output, lengths, enforce_sorted=True).data, final

    # -- the native backend: torch's fused kernels on the same parameters ----------------------------

    def _native_args(self) -> tuple[object, ...]:
        weights = [p for cell in self._cells for p in _native_weights(cell)]
        has_bias = self._cells[0].bias_ih is not None
        return (weights, has_bias, self.num_layers, self.dropout, self.training, self.bidirectional)

    def _zero_state(self, x: Tensor, batch: int) -> State:
        count = self.num_layers * self.num_directions
        return tuple(x.new_zeros(count, batch, size) for size in self._cells[0].state_sizes)

    def _run_native(self, x: Tensor, state: State | None) -> tuple[Tensor, State]:
        """``x`` (L, N, H_in) through torch's fused kernel; same contract as :meth:`_run_reference`."""
        hx = self._zero_state(x, x.shape[1]) if state is None else state
        if self.native_mode() == "LSTM":
            output, h, c = _VF.lstm(x, hx, *self._native_args(), False)
            return output, (h, c)
        output, h = _native_function(self.native_mode())(x, hx[0], *self._native_args(), False)
        return output, (h,)

    def _run_native_packed(
        self, data: Tensor, batch_sizes: Tensor, state: State | None
    ) -> tuple[Tensor, State]:
        """Packed ``data`` through torch's fused kernel; the state is in the packed (sorted) order."""
        hx = self._zero_state(data, int(batch_sizes[0])) if state is None else state
        if self.native_mode() == "LSTM":
            output, h, c = _VF.lstm(data, batch_sizes, hx, *self._native_args())
            return output, (h, c)
        output, h = _native_function(self.native_mode())(
            data, batch_sizes, hx[0], *self._native_args()
        )
        return output, (h,)

    def extra_repr(self) -> str:
        # the layer's own settings (subclasses add theirs), then the regularisers in use
        regularisers = [
            f"{name}={getattr(self, name)}" for name in REGULARISERS if getattr(self, name)
        ]
        return ", ".join([self._settings_repr(), *regularisers])

    def _settings_repr(self) -> str:
        text = f"{self.input_size}"
        if self.num_layers != 1:
            text += f", num_layers={self.num_layers}"
        if self.batch_first:
            text += ", batch_first=True"
        if self.dropout:
            text += f", dropout={self.dropout}"
        if self.bidirectional:
            text += ", bidirectional=True"
        if self._backend != "auto":
            text += f", backend={self._backend!r}"
        return text


class _RecurrentProduct:
    """``hp_t = h_t @ W_hh^T`` for every step of one layer and direction, with one gradient product.

    Left to autograd, each step's product adds its own ``(G, H)`` term ``dhp_t^T @ h_t`` into the
    gradient of ``W_hh``: L small matrix products, each writing a full-size matrix, and L additions of
    it. Here the steps multiply by a detached ``W_hh``, so autograd computes only ``dh_t``, and a
    tensor (L, N, G) whose gradient holds every step's ``dhp_t`` passes through
    :class:`_DeferredWeightGrad`, whose backward returns ``dW_hh = sum_t dhp_t^T @ h_t`` as a single
    ``(G, L*N) @ (L*N, H)`` product. That tensor is the projected input ``xp`` itself for cells whose
    step begins with ``xp_t + hp_t`` (``adds_projections``: then ``dhp_t = dxp_t``), and otherwise
    zeros added to each step's product (``hp_t = z_t + h_t @ W_hh^T``, so ``dz_t = dhp_t``).

    Used for cells that write ``step`` (and keep :class:`RNNCellBase`'s ``recurrence``) while gradients
    are being recorded for ``W_hh``; otherwise ``deferred`` is False and the cell's ``recurrence`` runs.

    ``low`` is the autocast dtype, if autocast is on: ``W_hh`` is cast to it once, not at each step.

    ``feedback`` (N, H_out), if given, is recurrent dropout's mask: ``h`` is multiplied by it where it
    enters the recurrent product (``hp_t = (h * feedback) @ W_hh^T``; ``step`` still gets the state
    as it is), or, for a cell that writes its own ``recurrence``, in the state passed to it.
    """

    def __init__(
        self,
        cell: RNNCellBase,
        xp: Tensor,
        feedback: Tensor | None = None,
        low: torch.dtype | None = None,
    ) -> None:
        self.cell = cell
        self.xp = xp
        self.feedback = feedback
        weight = getattr(cell, "weight_hh", None)
        # the cell's recurrence is RNNCellBase's: the recurrent product, then step()
        self.writes_step = getattr(type(cell), "recurrence", None) is RNNCellBase.recurrence
        self.deferred = (
            self.writes_step
            and isinstance(weight, Tensor)
            and weight.requires_grad
            and torch.is_grad_enabled()
        )
        if self.deferred:
            self.weight_t = weight.detach().t()  # (H_out, G)
            if low is not None:  # autocast would cast it again at every step
                self.weight_t = self.weight_t.to(low)
            self.packed = PackedWeight.of(weight.detach(), xp.shape[1])
            self.inputs: list[Tensor] = [weight] * xp.shape[0]  # h_t of each step, set by __call__
            if cell.adds_projections:
                # dhp_t = dxp_t: the gradient that xp receives carries every step's dhp_t already
                self.xp = _DeferredWeightGrad.apply(weight, self.inputs, xp)
                self.zero_steps = None
            else:
                zeros = xp.new_zeros(()).expand(xp.shape)
                self.zero_steps = _DeferredWeightGrad.apply(weight, self.inputs, zeros).unbind(0)

    def step(self, t: int, xp_t: Tensor, state: State) -> tuple[Tensor, State]:
        """Step ``t`` of the cell from ``xp_t`` (N, G) and ``state``: ``(output_t, new_state)``."""
        if not self.deferred:
            if self.feedback is None:
                return self.cell.recurrence(xp_t, state)
            h = state[0] * self.feedback  # (N, H_out)
            if self.writes_step:
                return self.cell.step(xp_t, h @ self.cell.weight_hh.t(), state)
            return self.cell.recurrence(xp_t, (h, *state[1:]))
        h = state[0] if self.feedback is None else state[0] * self.feedback  # (N, H_out)
        self.inputs[t] = h.detach()  # data only: a graph-attached h would form a reference cycle
        if self.packed is not None:
            hp_t = packed_product(h, self.packed)  # (N, G)
            if self.zero_steps is not None:
                hp_t = hp_t + self.zero_steps[t]
        elif self.zero_steps is None:
            hp_t = h @ self.weight_t  # (N, G)
        else:
            hp_t = torch.addmm(self.zero_steps[t], h, self.weight_t)  # (N, G)
        return self.cell.step(xp_t, hp_t, state)


class _DeferredWeightGrad(torch.autograd.Function):
    """Passes ``carrier`` (L, N, G) through; its gradient, all steps' ``dhp_t``, also becomes the
    gradient of ``W_hh``, with the ``h_t`` that the loop stores in ``inputs``."""

    @staticmethod
    def forward(ctx, weight: Tensor, inputs: list[Tensor], carrier: Tensor) -> Tensor:
        ctx.inputs = inputs  # h_t of each step, known once the loop has run
        ctx.weight_dtype = weight.dtype
        return carrier.view_as(carrier)

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, Tensor]:
        # The loop keeps h_t and the carrier in the parameters' dtype, also under autocast (whose
        # state the backward does not see); the casts make that explicit and cost nothing then.
        h = torch.stack(ctx.inputs).to(grad.dtype)  # (L, N, H_out)
        grad_2d = grad.reshape(-1, grad.shape[-1])  # (L*N, G)
        grad_weight = grad_2d.t() @ h.reshape(-1, h.shape[-1])  # (G, H_out)
        return grad_weight.to(ctx.weight_dtype), None, grad


def _native_weights(cell: RNNCellBase) -> list[Tensor]:
    """A cell's parameters in the order torch's fused kernels take them."""
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")
    return [p for p in (getattr(cell, name, None) for name in names) if p is not None]


def _native_function(mode: str | None) -> Callable[..., tuple[Tensor, Tensor]]:
    return {"RNN_TANH": _VF.rnn_tanh, "RNN_RELU": _VF.rnn_relu, "GRU": _VF.gru}[mode]  # type: ignore[index]


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


_SHAPES = """
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
        + _SHAPES
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
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'tanh' or 'relu', got {nonlinearity!r}")
        _check_int("hidden_size", hidden_size, 1)
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
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
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
        + _SHAPES
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
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        _check_int("hidden_size", hidden_size, 1)
        _check_int("proj_size", proj_size, 0)
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
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
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
        + _SHAPES
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
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        _check_int("hidden_size", hidden_size, 1)
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
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
        )

    mode = "GRU"


class _ExtendedLayer(Recurrent):
    """What the layers of cells torch.nn lacks share: torch.nn's constructor, attributes and repr,
    and a ``backend="native"`` refused when the layer is built (there is no fused kernel to run).
    A subclass names its cell in ``_cell_class``, or builds it in :meth:`_make_cell`."""

    _cell_class: type[RNNCellBase]

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
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        _check_int("hidden_size", hidden_size, 1)
        self.hidden_size = hidden_size
        self.bias = bias
        super().__init__(
            lambda size, _: self._make_cell(size, hidden_size, bias, device, dtype),
            input_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            backend=backend,
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
        )
        self.resolved_backend()  # raises for "native": these cells have no native_mode

    def _make_cell(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        device: torch.device | str | None,
        dtype: torch.dtype | None,
    ) -> RNNCellBase:
        return self._cell_class(input_size, hidden_size, bias, device, dtype)

    def _settings_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
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
        + _SHAPES
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
        + _SHAPES
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
        + _SHAPES
    )

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        nonlinearity: str = "relu",
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        max_length: int | None = None,
        backend: str = "auto",
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity: expected 'relu' or 'tanh', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.max_length = max_length
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
            backend=backend,
            recurrent_dropout=recurrent_dropout,
            weight_drop=weight_drop,
            zoneout=zoneout,
        )

    def _make_cell(
        self,
        input_size: int,
        hidden_size: int,
        bias: bool,
        device: torch.device | str | None,
        dtype: torch.dtype | None,
    ) -> RNNCellBase:
        return IndRNNCell(
            input_size, hidden_size, bias, self.nonlinearity, self.max_length, device, dtype
        )

    def _settings_repr(self) -> str:
        text = super()._settings_repr()
        if self.nonlinearity != "relu":
            text += f", nonlinearity={self.nonlinearity!r}"
        if self.max_length is not None:
            text += f", max_length={self.max_length}"
        return text


_SCAN_MODES = ("auto", "scan", "step")


class _MinLayer(_ExtendedLayer):
    """What MinGRU and MinLSTM share: ``mode``, how a sequence runs, and no regularisers."""

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
        mode: str = "auto",
        recurrent_dropout: float = 0.0,
        weight_drop: float = 0.0,
        zoneout: float = 0.0,
    ) -> None:
        _check_int("hidden_size", hidden_size, 1)
        regularisers = (recurrent_dropout, weight_drop, zoneout)
        for name, value in zip(REGULARISERS, regularisers):
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
        super().__init__(
            input_size,
            hidden_size,
            num_layers,
            bias,
            batch_first,
            dropout,
            bidirectional,
            device,
            dtype,
            backend=backend,
        )

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
        + _SHAPES
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
        + _SHAPES
    )

    _cell_class = MinLSTMCell


# -- the cell registry: one name -> layer factory for every model ----------------------------------

LayerBuilder = Callable[..., Recurrent]

CELLS: dict[str, LayerBuilder] = {
    "rnn": RNN,
    "lstm": LSTM,
    "gru": GRU,
    "lnlstm": LayerNormLSTM,
    "lngru": LayerNormGRU,
    "indrnn": IndRNN,
    "mingru": MinGRU,
    "minlstm": MinLSTM,
}
"""Cell name -> layer builder. Every model reads its ``cell`` option from here, so a cell added with
:func:`register_cell` is valid in all of them (and in the CLI choices that iterate the registry).

A builder is called as ``builder(input_size, hidden_size, *, num_layers, batch_first, dropout,
bidirectional, backend)``, plus ``nonlinearity=...`` and each of ``recurrent_dropout``,
``weight_drop``, ``zoneout`` when its signature names that parameter (a builder without a
regulariser's parameter still serves every layer that leaves it at 0.0), and returns a
:class:`Recurrent`.
"""


def register_cell(name: str, builder: LayerBuilder) -> LayerBuilder:
    """Make ``name`` a valid ``cell`` everywhere: ``build_layer(name, ...)`` calls ``builder``.

    Registering the same builder again is a no-op; a name already taken by another builder is a
    ``ValueError`` (remove it from :data:`CELLS` first to replace it). Returns ``builder``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty str, got {name!r}")
    if not callable(builder):
        raise TypeError(f"builder: expected a callable returning a Recurrent, got {builder!r}")
    if CELLS.get(name, builder) is not builder:
        raise ValueError(f"name: expected a cell name not yet registered, got {name!r}")
    CELLS[name] = builder
    return builder


def _takes(builder: LayerBuilder, parameter: str) -> bool:
    """Whether ``builder``'s signature names ``parameter`` (a class: its ``__init__``'s)."""
    try:
        return parameter in inspect.signature(builder).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


def build_layer(
    cell: str,
    input_size: int,
    hidden_size: int,
    *,
    num_layers: int = 1,
    bidirectional: bool = False,
    dropout: float = 0.0,
    nonlinearity: str = "tanh",
    backend: str = "auto",
    batch_first: bool = True,
    recurrent_dropout: float = 0.0,
    weight_drop: float = 0.0,
    zoneout: float = 0.0,
) -> Recurrent:
    """The recurrent layer of a model: the registered ``cell``, batch first by default.

    Output :math:`(N, L, D \\cdot H_{out})` and states :math:`(D \\cdot num\\_layers, N, H_{out})`
    as in the layers' docstrings (N = batch, L = sequence length, D = 2 if bidirectional else 1,
    H_out = ``hidden_size``). ``dropout`` acts between stacked layers only, so it is passed on only
    when ``num_layers > 1``. ``nonlinearity`` (``"tanh"`` or ``"relu"``) is for cells that take one
    (``"rnn"``, ``"indrnn"``: passed on as given, so ``"indrnn"`` is built with tanh unless
    ``"relu"``, the paper's choice, is asked for); for the others anything but the default
    ``"tanh"`` is a ``ValueError``. ``recurrent_dropout``, ``weight_drop`` and ``zoneout`` are the
    layers' regularisers (see :class:`Recurrent`); a registered builder without such a parameter
    gets it only when it is not 0.0, and then a ``ValueError`` names the cell.
    """
    builder = CELLS.get(cell)
    if builder is None:
        raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")
    kwargs: dict[str, object] = {
        "num_layers": num_layers,
        "batch_first": batch_first,
        # with one layer there is nothing between layers to drop, and torch.nn warns about it
        "dropout": dropout if num_layers > 1 else 0.0,
        "bidirectional": bidirectional,
        "backend": backend,
    }
    if _takes(builder, "nonlinearity"):
        kwargs["nonlinearity"] = nonlinearity
    elif nonlinearity != "tanh":
        raise ValueError(
            f"nonlinearity: cell {cell!r} has no nonlinearity option; expected 'tanh' (the "
            f"default), got {nonlinearity!r}"
        )
    regularisers = {
        "recurrent_dropout": recurrent_dropout,
        "weight_drop": weight_drop,
        "zoneout": zoneout,
    }
    for name, value in regularisers.items():
        if _takes(builder, name):
            kwargs[name] = value
        elif value != 0.0:
            raise ValueError(
                f"{name}: cell {cell!r} has no {name} option; expected 0.0, got {value!r}"
            )
    layer = builder(input_size, hidden_size, **kwargs)
    if not isinstance(layer, Recurrent):
        raise TypeError(
            f"cell {cell!r}: expected its builder to return a Recurrent, got {type(layer).__name__}"
        )
    return layer
