"""The generic runner: :class:`Recurrent` turns any cell into a whole-sequence layer.

:class:`Recurrent` takes a factory of cells (see the cell protocol in :mod:`rnnkit.nn.cells`) and adds what
a layer needs on top of one time step: several layers, both directions, dropout between layers, an
initial state, variable lengths (a ``lengths`` tensor or a ``PackedSequence``), batch-first or time-first
and unbatched input. :class:`rnnkit.nn.torch_layers.RNN`, ``LSTM`` and ``GRU`` are that runner with torch.nn's
exact signature and ``state_dict`` names; :mod:`rnnkit.nn.extended` has the layers of the other
built-in cells, and :func:`rnnkit.nn.registry.build_layer` gives any registered cell a layer.

``backend`` chooses how a layer runs:

- ``"reference"``: the readable loop of :mod:`rnnkit.nn.reference`: the inputs of all steps are
  projected by one matrix product, then each step does one matrix product for the recurrence.
- ``"native"``: PyTorch's fused kernels (``torch._VF``, cuDNN on a GPU) on the same parameters
  (:mod:`rnnkit.nn.native`).
- ``"auto"`` (default): native where every cell has a native kernel, reference otherwise.

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
import warnings
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence

from rnnkit.nn import checks
from rnnkit.nn.cells import RNNCellBase, State
from rnnkit.nn.cells.base import options_repr
from rnnkit.nn.native import run_native, run_native_packed, run_native_padded
from rnnkit.nn.reference import run_reference, run_reference_packed
from rnnkit.nn.regularisers import Regularised

__all__ = ["BACKENDS", "Layer", "Recurrent", "take_option"]

BACKENDS = ("auto", "native", "reference")

CellFactory = Callable[[int, int], RNNCellBase]
Probe = Callable[[int, int, int, State], Sequence[Tensor]]
"""``fn(layer, direction, t, state) -> state`` of :meth:`Recurrent.probe`."""

Output = tuple[Tensor | PackedSequence, Tensor | tuple[Tensor, ...]]


class Recurrent(Regularised, nn.Module):
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
        recurrent_dropout: variational dropout of the state fed back, in training.
        weight_drop: DropConnect on every cell's recurrent weight ``weight_hh``, in training.
        zoneout: probability that a unit keeps its previous value at a step.

    The parameters of the cells are registered on the layer under torch.nn's names,
    ``<name>_l<layer>`` and ``<name>_l<layer>_reverse``, so ``state_dict()`` matches torch.nn's.

    The three regularisers wrap whatever cell the layer runs; :mod:`rnnkit.nn.regularisers` gives
    their equations. Each is a probability in [0, 1), 0 (off) by default, and an attribute that may
    be changed later, checked in the same way. ``backend="native"`` cannot run
    ``recurrent_dropout`` or ``zoneout`` (a ``ValueError``); ``"auto"`` then runs the reference loop.
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
        weight_drop = self._init_regularisers(recurrent_dropout, weight_drop, zoneout)
        self.input_size = checks.check_int("input_size", input_size, 1)
        self.num_layers = checks.check_int("num_layers", num_layers, 1)
        self.dropout = _check_dropout(dropout, num_layers)
        self.batch_first = bool(batch_first)
        self.bidirectional = bool(bidirectional)
        self.backend = backend  # validated by the property setter
        self._cells = _make_cells(self, cell_factory)
        modes = {cell.native_mode for cell in self._cells}
        self._native_mode = modes.pop() if len(modes) == 1 else None
        self._cell_parameter_names = [
            [
                (name, name.replace(".", "_") + self._suffix(index))
                for name, _ in cell.named_parameters()
            ]
            for index, cell in enumerate(self._cells)
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
    ) -> Output:
        """Run the layer over ``input`` from the state ``hx``; see the class docstrings for shapes."""
        self._cells_in_sync()
        native = self._probe is None and self.resolved_backend() == "native"
        with self._weights_dropped():
            if isinstance(input, PackedSequence):
                if lengths is not None:
                    raise ValueError(
                        "lengths: expected None with a PackedSequence input (it has its own)"
                    )
                return self._forward_packed(input, hx, native)
            return self._forward_tensor(input, hx, lengths, native)

    def _forward_packed(
        self, input: PackedSequence, hx: Tensor | Sequence[Tensor] | None, native: bool
    ) -> Output:
        data = checks.from_autocast(input.data, self._cells[0].weight_ih.dtype)
        if data is not input.data:
            input = PackedSequence(
                data, input.batch_sizes, input.sorted_indices, input.unsorted_indices
            )
        checks.check_input(input.data, self.input_size, self._cells[0].weight_ih)
        batch = int(input.batch_sizes[0])
        state = self._check_hx(hx, input.data, batch, unbatched=False)
        if state is not None and input.sorted_indices is not None:
            state = tuple(h.index_select(1, input.sorted_indices) for h in state)
        if native:
            data, final = run_native_packed(self, input.data, input.batch_sizes, state)
        else:
            data, final = run_reference_packed(self, input, state)
        if input.unsorted_indices is not None:
            final = tuple(f.index_select(1, input.unsorted_indices) for f in final)
        dtype = input.data.dtype  # the parameters' (see the module docstring on autocast)
        final = tuple(f.to(dtype) for f in final)
        output = PackedSequence(
            data.to(dtype), input.batch_sizes, input.sorted_indices, input.unsorted_indices
        )
        return output, (final[0] if len(final) == 1 else final)

    def _forward_tensor(
        self,
        input: Tensor,
        hx: Tensor | Sequence[Tensor] | None,
        lengths: Tensor | None,
        native: bool,
    ) -> Output:
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
        x = checks.from_autocast(x, self._cells[0].weight_ih.dtype)
        checks.check_input(x, self.input_size, self._cells[0].weight_ih)
        steps, batch = x.shape[0], x.shape[1]
        if lengths is not None:
            if unbatched:
                raise ValueError("lengths: expected None with unbatched (2-D) input")
            lengths = checks.check_lengths(lengths, batch, steps, x.device)
            if int(lengths.min()) == steps:
                lengths = None  # nothing is padded: the plain path gives the same result
        state = self._check_hx(hx, x, batch, unbatched)
        if native and lengths is not None:
            output, final = run_native_padded(self, x, state, lengths)
        elif native:
            output, final = run_native(self, x, state)
        else:
            output, final = run_reference(self, x, state, lengths)
        # under autocast, the parameters' dtype (see the module docstring)
        output, final = output.to(x.dtype), tuple(f.to(x.dtype) for f in final)
        if unbatched:
            output = output.squeeze(1)
            final = tuple(f.squeeze(1) for f in final)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return output, (final[0] if len(final) == 1 else final)

    def _check_hx(
        self, hx: Tensor | Sequence[Tensor] | None, x: Tensor, batch: int, unbatched: bool
    ) -> State | None:
        count = self.num_layers * self.num_directions
        return checks.check_hx(hx, x, batch, unbatched, self._cells[0].state_sizes, count)

    def extra_repr(self) -> str:
        # the layer's own settings (subclasses add theirs), then the regularisers in use
        return ", ".join([self._settings_repr(), *self._regularisers_repr()])

    def _settings_repr(self) -> str:
        return ", ".join([str(self.input_size), *options_repr(self, _RUNNER_DEFAULTS)])


_RUNNER_DEFAULTS = {
    "num_layers": 1,
    "batch_first": False,
    "dropout": 0.0,
    "bidirectional": False,
    "backend": "auto",
}
"""The runner's options that a repr shows where they differ from these defaults, in this order."""


class Layer(Recurrent):
    """The runner with torch.nn's constructor, attributes (``hidden_size``, ``bias``) and repr,
    what every layer of one kind of cell shares. A subclass names its cell in ``_cell_class`` and
    the cell's own options (attributes of the layer) in ``_cell_options``, or builds the cell in
    :meth:`_make_cell`; the options its repr shows go in ``_repr_defaults``.

    Args: ``input_size``, ``hidden_size``, ``num_layers=1``, ``bias=True``, ``batch_first=False``,
    ``dropout=0.0``, ``bidirectional=False``, ``device=None``, ``dtype=None``; plus
    ``backend='auto'`` and the regularisers (see :class:`Recurrent`).
    """

    _cell_class: type[RNNCellBase]
    _cell_options: tuple[str, ...] = ()
    _repr_defaults: tuple[tuple[str, object], ...] = ()

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
        self.hidden_size = checks.check_int("hidden_size", hidden_size, 1)
        self.bias = bias
        factory = {"device": device, "dtype": dtype}
        super().__init__(
            lambda size, _: self._make_cell(size, hidden_size, bias, factory),
            input_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            backend=backend,
            **regularisers,
        )

    def _make_cell(
        self, input_size: int, hidden_size: int, bias: bool, factory: dict[str, object]
    ) -> RNNCellBase:
        options = {name: getattr(self, name) for name in self._cell_options}
        return self._cell_class(input_size, hidden_size, bias, **factory, **options)

    def _settings_repr(self) -> str:
        defaults = {"proj_size": 0, "num_layers": 1, "bias": True, **_RUNNER_DEFAULTS}
        defaults.update(self._repr_defaults)
        return ", ".join(
            [str(self.input_size), str(self.hidden_size), *options_repr(self, defaults)]
        )


def take_option(
    args: tuple[object, ...], kwargs: dict[str, object], index: int, name: str, default: object
) -> tuple[tuple[object, ...], object]:
    """A layer's option ``name`` that torch.nn takes at position ``index`` (or as a keyword, else
    ``default``), and the other positional arguments, for the constructor of :class:`Layer`."""
    if len(args) > index:
        return args[:index] + args[index + 1 :], args[index]
    return args, kwargs.pop(name, default)


def _check_dropout(dropout: object, num_layers: int) -> float:
    """The dropout between layers as a float in [0, 1); a warning where there is one layer."""
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)):
        raise TypeError(f"dropout: expected a float in [0, 1), got {type(dropout).__name__}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout: expected a float in [0, 1), got {dropout}")
    if dropout > 0 and num_layers == 1:
        warnings.warn(
            "dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
            f"expects num_layers greater than 1, but got dropout={dropout} and "
            f"num_layers={num_layers}",
            stacklevel=4,
        )
    return float(dropout)


def _make_cells(module: Recurrent, cell_factory: CellFactory) -> list[RNNCellBase]:
    """One cell per layer and direction, its parameters registered on ``module``."""
    cells: list[RNNCellBase] = []
    layer_input = module.input_size
    for layer in range(module.num_layers):
        for direction in range(module.num_directions):
            cell = cell_factory(layer_input, layer)
            suffix = module._suffix(len(cells))
            for name, parameter in cell.named_parameters():
                module.register_parameter(name.replace(".", "_") + suffix, parameter)
            cells.append(cell)
        layer_input = cells[-1].output_size * module.num_directions
    # The cells hold the very Parameter objects registered above. They are kept in a plain list,
    # not as submodules, so state_dict() has torch.nn's keys only; _cells_in_sync() re-points them
    # at the layer's parameters in case those were replaced (load_state_dict(assign=True)...).
    return cells
