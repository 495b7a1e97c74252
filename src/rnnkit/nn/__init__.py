"""The recurrent building blocks: cells written out from scratch, the generic runner that gives any
cell layers, directions, lengths and initial states, torch.nn's ``RNN``/``LSTM``/``GRU`` on it, and the
registry of cells that every model and task reads its ``cell`` option from."""

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
from rnnkit.nn.layers import (
    BACKENDS,
    CELLS,
    GRU,
    LSTM,
    REGULARISERS,
    RNN,
    IndRNN,
    LayerNormGRU,
    LayerNormLSTM,
    MinGRU,
    MinLSTM,
    Recurrent,
    build_layer,
    register_cell,
)

__all__ = [
    "BACKENDS",
    "CELLS",
    "GRU",
    "LSTM",
    "REGULARISERS",
    "RNN",
    "GRUCell",
    "IndRNN",
    "IndRNNCell",
    "LSTMCell",
    "LayerNormGRU",
    "LayerNormGRUCell",
    "LayerNormLSTM",
    "LayerNormLSTMCell",
    "MinGRU",
    "MinGRUCell",
    "MinLSTM",
    "MinLSTMCell",
    "RNNCell",
    "RNNCellBase",
    "Recurrent",
    "build_layer",
    "compile_min_cells",
    "register_cell",
]
