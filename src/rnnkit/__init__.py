"""rnnkit: recurrent neural networks for PyTorch, written from scratch and proven equal to torch.nn.

The public API is what this module exports; everything else may change between versions.
"""

__version__ = "0.1.0"

from rnnkit.cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from rnnkit.errors import RnnkitError
from rnnkit.layers import GRU, LSTM, RNN, Recurrent

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "RNNCellBase",
    "Recurrent",
    "RnnkitError",
    "__version__",
]
