"""The recurrent building blocks: cells written out from scratch (:mod:`rnnkit.nn.cells`, one module
per family), the generic runner that gives any cell layers, directions, lengths and initial states
(:mod:`~rnnkit.nn.runner`, with the :mod:`~rnnkit.nn.reference` and :mod:`~rnnkit.nn.native`
backends and the input :mod:`~rnnkit.nn.checks`), the :mod:`~rnnkit.nn.regularisers` that wrap any
cell, torch.nn's ``RNN``/``LSTM``/``GRU`` on it (:mod:`~rnnkit.nn.torch_layers`), the layers of the
other built-in cells (:mod:`~rnnkit.nn.extended`), and the :mod:`~rnnkit.nn.registry` of cells that
every model and task reads its ``cell`` option from. :mod:`rnnkit.layers` (0.1's name) re-exports the layers
under the names rnnkit 0.1 used."""

from rnnkit.nn.cells import (
    GRUCell,
    IndRNNCell,
    LayerNormGRUCell,
    LayerNormLSTMCell,
    LSTMCell,
    MinGRUCell,
    MinLSTMCell,
    RNNCell,
    RNNCellBase,
    compile_min_cells,
)
from rnnkit.nn.extended import IndRNN, LayerNormGRU, LayerNormLSTM, MinGRU, MinLSTM
from rnnkit.nn.registry import CELLS, CellLayer, build_layer, register_cell
from rnnkit.nn.regularisers import REGULARISERS
from rnnkit.nn.runner import BACKENDS, Recurrent
from rnnkit.nn.torch_layers import GRU, LSTM, RNN

# torch.nn's cells and the base of all, then the other built-in cells, the runner and its layers,
# and the registry
__all__ = ["GRUCell", "LSTMCell", "RNNCell", "RNNCellBase"]
__all__ += ["IndRNNCell", "LayerNormGRUCell", "LayerNormLSTMCell", "MinGRUCell", "MinLSTMCell"]
__all__ += ["compile_min_cells"]
__all__ += [
    "BACKENDS",
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
]
__all__ += ["CELLS", "CellLayer", "build_layer", "register_cell"]
