"""Whole-sequence recurrent layers, as rnnkit 0.1 and the docs import them: the runner
(:mod:`rnnkit.nn.runner`), torch.nn's ``RNN``, ``LSTM`` and ``GRU`` (:mod:`rnnkit.nn.torch_layers`),
the layers of the other built-in cells (:mod:`rnnkit.nn.extended`), the regularisers
(:mod:`rnnkit.nn.regularisers`) and the registry of cells (:mod:`rnnkit.nn.registry`)."""

from rnnkit.nn.extended import IndRNN, LayerNormGRU, LayerNormLSTM, MinGRU, MinLSTM
from rnnkit.nn.registry import CELLS, build_layer, register_cell
from rnnkit.nn.regularisers import REGULARISERS
from rnnkit.nn.runner import BACKENDS, Recurrent
from rnnkit.nn.torch_layers import GRU, LSTM, RNN

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
