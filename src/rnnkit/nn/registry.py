"""The registry of cells: one name -> one cell class, read by every model and task.

:data:`CELLS` maps a name to a cell class (the cell protocol of :mod:`rnnkit.nn.cells.base`);
:func:`register_cell` adds one, and :func:`build_layer` gives any registered cell a layer: stacked
layers, both directions, lengths and packed sequences, an initial state, batch-first or unbatched
input and the regularisers, all from the runner (:class:`rnnkit.nn.runner.Recurrent`). The built-in
cells are built as their own layer classes (:data:`LAYERS`: ``RNN``, ``LSTM`` and ``GRU`` with
torch's fused kernels, ``LayerNormLSTM``...), any other cell as a :class:`CellLayer`.

rnnkit 0.1 registered *layer builders* (a callable returning a :class:`Recurrent`); they still work
with a ``DeprecationWarning``: register the cell class instead.
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from typing import Any

from torch import nn

from rnnkit.nn.cells import RNNCellBase
from rnnkit.nn.extended import IndRNN, LayerNormGRU, LayerNormLSTM, MinGRU, MinLSTM
from rnnkit.nn.runner import Layer, Recurrent
from rnnkit.nn.torch_layers import GRU, LSTM, RNN

__all__ = ["CELLS", "LAYERS", "CellLayer", "build_layer", "register_cell"]

LayerBuilder = Callable[..., Recurrent]
CellClass = type[nn.Module]

LAYERS: dict[CellClass, type[Recurrent]] = {
    layer._cell_class: layer
    for layer in (RNN, LSTM, GRU, LayerNormLSTM, LayerNormGRU, IndRNN, MinGRU, MinLSTM)
}
"""The layer class a built-in cell is built as: its native backend, ``mode``, torch.nn's repr."""

CELLS: dict[str, CellClass | LayerBuilder] = dict(
    zip(("rnn", "lstm", "gru", "lnlstm", "lngru", "indrnn", "mingru", "minlstm"), LAYERS)
)
"""Cell name -> cell class (``"rnn"``: :class:`~rnnkit.nn.cells.RNNCell`, ``"lnlstm"``:
:class:`~rnnkit.nn.cells.LayerNormLSTMCell`...). Every model reads its ``cell`` option from here,
so a cell added with :func:`register_cell` is valid in all of them (and in the CLI choices that
iterate the registry)."""

_PROTOCOL = ("project_input", "recurrence", "init_state", "state_sizes", "output_size")


def _is_cell_class(value: object) -> bool:
    """Whether ``value`` is a cell class (an ``nn.Module`` class that is not a layer)."""
    return (
        isinstance(value, type)
        and issubclass(value, nn.Module)
        and not issubclass(value, Recurrent)
    )


def register_cell(name: str, cell: CellClass | LayerBuilder) -> CellClass | LayerBuilder:
    """Make ``name`` a valid ``cell`` everywhere: ``build_layer(name, ...)`` runs ``cell``.

    ``cell`` is a cell class with the cell protocol (see :mod:`rnnkit.nn.cells.base`); a layer
    builder (a callable returning a :class:`Recurrent`, rnnkit 0.1's registry) is still accepted,
    with a ``DeprecationWarning``. Registering the same object again is a no-op; a name already
    taken by another is a ``ValueError`` (remove it from :data:`CELLS` first to replace it).
    Returns ``cell``.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty str, got {name!r}")
    if _is_cell_class(cell):
        missing = [attr for attr in _PROTOCOL if not hasattr(cell, attr)]
        if missing:
            raise TypeError(
                f"cell: expected a cell class with the cell protocol, got {cell.__name__}, "
                f"which has no {', '.join(missing)}"
            )
    elif not callable(cell):
        raise TypeError(
            f"cell: expected a cell class (see rnnkit.nn.cells) or a callable returning a "
            f"Recurrent, got {cell!r}"
        )
    if CELLS.get(name, cell) is not cell:
        raise ValueError(f"name: expected a cell name not yet registered, got {name!r}")
    if not _is_cell_class(cell) and name not in CELLS:
        warnings.warn(
            f"register_cell({name!r}, ...): registering a layer builder is deprecated; register "
            "the cell class, which the runner gives layers, directions and the regularisers",
            DeprecationWarning,
            stacklevel=2,
        )
    CELLS[name] = cell
    return cell


def _takes(function: Callable[..., object], parameter: str) -> bool:
    """Whether ``function``'s signature names ``parameter`` (a class: its ``__init__``'s)."""
    try:
        return parameter in inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        return False


class CellLayer(Layer):
    """A layer of any cell class: the runner with torch.nn's constructor, attributes and naming.

    Args: ``cell_class`` (see the cell protocol), then those of :class:`rnnkit.nn.torch_layers.GRU`:
    ``input_size``, ``hidden_size``, ``num_layers=1``, ``bias=True``, ``batch_first=False``,
    ``dropout=0.0``, ``bidirectional=False``, ``device=None``, ``dtype=None``; plus
    ``backend='auto'``, ``cell_options`` (more keywords for the cell's constructor, e.g.
    ``{"nonlinearity": "relu"}``) and the regularisers ``recurrent_dropout``, ``weight_drop``,
    ``zoneout`` (see :mod:`rnnkit.nn.regularisers`). Shapes as in torch.nn's layers; ``hx`` is a
    tensor for a cell with one state component, else a tuple.
    """

    def __init__(
        self,
        cell_class: CellClass,
        *args: Any,
        cell_options: dict[str, object] | None = None,
        **kwargs: Any,
    ) -> None:
        self.cell_class = cell_class
        self.cell_options = dict(cell_options or {})
        super().__init__(*args, **kwargs)
        self.resolved_backend()  # raises for "native" where the cell has no native_mode

    def _make_cell(
        self, input_size: int, hidden_size: int, bias: bool, factory: dict[str, object]
    ) -> RNNCellBase:
        # bias, device and dtype only where they differ from the protocol's defaults, so that a
        # cell may leave out those it lacks
        kwargs = dict(self.cell_options, **({} if bias else {"bias": False}))
        kwargs.update({k: v for k, v in factory.items() if v is not None})
        return self.cell_class(input_size, hidden_size, **kwargs)

    def _settings_repr(self) -> str:
        settings = Recurrent._settings_repr(self).split(", ")  # input_size, the runner's options
        settings.insert(1, str(self.hidden_size))
        settings += ["bias=False"] * (not self.bias)
        options = [f"{key}={value!r}" for key, value in self.cell_options.items()]
        return ", ".join([self.cell_class.__name__, *settings, *options])


def _from_builder(
    cell: str, builder: LayerBuilder, sizes: tuple[int, int], kwargs: dict[str, object]
) -> Recurrent:
    """rnnkit 0.1's layer builders: each option passed only where the signature names it (a
    regulariser or nonlinearity it lacks only at its default, else a ``ValueError``)."""
    defaults = {"nonlinearity": "tanh", "recurrent_dropout": 0.0, "weight_drop": 0.0}
    for name in ("nonlinearity", "recurrent_dropout", "weight_drop", "zoneout"):
        value = kwargs.pop(name)
        if _takes(builder, name):
            kwargs[name] = value
        elif value != defaults.get(name, 0.0):
            expected = "'tanh' (the default)" if name == "nonlinearity" else "0.0"
            raise ValueError(
                f"{name}: cell {cell!r} has no {name} option; expected {expected}, got {value!r}"
            )
    layer = builder(*sizes, **kwargs)
    if not isinstance(layer, Recurrent):
        raise TypeError(
            f"cell {cell!r}: expected its builder to return a Recurrent, got {type(layer).__name__}"
        )
    return layer


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
    regularisers the runner wraps every cell in (see :mod:`rnnkit.nn.regularisers`).
    """
    spec = CELLS.get(cell)
    if spec is None:
        raise ValueError(f"cell: expected one of {', '.join(CELLS)}, got {cell!r}")
    kwargs: dict[str, object] = {
        "num_layers": num_layers,
        "batch_first": batch_first,
        # with one layer there is nothing between layers to drop, and torch.nn warns about it
        "dropout": dropout if num_layers > 1 else 0.0,
        "bidirectional": bidirectional,
        "backend": backend,
        "nonlinearity": nonlinearity,
        "recurrent_dropout": recurrent_dropout,
        "weight_drop": weight_drop,
        "zoneout": zoneout,
    }
    if not _is_cell_class(spec):
        return _from_builder(cell, spec, (input_size, hidden_size), kwargs)
    if not _takes(spec, "nonlinearity") and kwargs.pop("nonlinearity") != "tanh":
        raise ValueError(
            f"nonlinearity: cell {cell!r} has no nonlinearity option; expected 'tanh' (the "
            f"default), got {nonlinearity!r}"
        )
    layer_class = LAYERS.get(spec)
    if layer_class is not None:
        return layer_class(input_size, hidden_size, **kwargs)
    options = {"nonlinearity": kwargs.pop("nonlinearity")} if "nonlinearity" in kwargs else {}
    return CellLayer(spec, input_size, hidden_size, cell_options=options, **kwargs)
