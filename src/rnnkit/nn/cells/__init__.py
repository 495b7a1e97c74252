"""Recurrent cells written out from scratch, one module per family: one time step of an Elman RNN
(:mod:`~rnnkit.nn.cells.elman`), an LSTM (:mod:`~rnnkit.nn.cells.lstm`) and a GRU
(:mod:`~rnnkit.nn.cells.gru`), and of cells torch.nn lacks: layer-normalised LSTM and GRU
(:mod:`~rnnkit.nn.cells.layernorm`), IndRNN (:mod:`~rnnkit.nn.cells.indrnn`), and the minimal GRU and
LSTM (:mod:`~rnnkit.nn.cells.minimal`).

The first three follow torch.nn's contract (constructor arguments, parameter names and shapes, gate
order, initialisation) so that their weights load into ``torch.nn.RNNCell/LSTMCell/GRUCell`` and back,
and the tests prove the results equal to PyTorch's fused kernels. The others follow the same
conventions where they apply and are tested against per-step implementations of their papers.

Every cell follows the *cell protocol* (see :mod:`rnnkit.nn.cells.base`) that
:class:`rnnkit.nn.runner.Recurrent` runs over whole sequences.
"""

from rnnkit.nn.cells.base import RNNCellBase, State
from rnnkit.nn.cells.elman import RNNCell
from rnnkit.nn.cells.gru import GRUCell
from rnnkit.nn.cells.indrnn import IndRNNCell
from rnnkit.nn.cells.layernorm import LayerNormGRUCell, LayerNormLSTMCell
from rnnkit.nn.cells.lstm import LSTMCell
from rnnkit.nn.cells.minimal import MinGRUCell, MinLSTMCell, compile_min_cells
from rnnkit.nn.cells.packed import PackedWeight, packed_product

__all__ = [
    "GRUCell",
    "IndRNNCell",
    "LSTMCell",
    "LayerNormGRUCell",
    "LayerNormLSTMCell",
    "MinGRUCell",
    "MinLSTMCell",
    "PackedWeight",
    "RNNCell",
    "RNNCellBase",
    "State",
    "compile_min_cells",
    "packed_product",
]
