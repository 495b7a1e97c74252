"""Whole-sequence recurrent layers, as rnnkit 0.1 and the docs import them: the runner
(:mod:`rnnkit.nn.runner`), torch.nn's ``RNN``, ``LSTM`` and ``GRU`` (:mod:`rnnkit.nn.torch_layers`),
the layers of the other built-in cells (:mod:`rnnkit.nn.extended`), the regularisers
(:mod:`rnnkit.nn.regularisers`) and the registry of cells (:mod:`rnnkit.nn.registry`); it re-exports
all of :mod:`rnnkit.nn`."""

from rnnkit.nn import *
from rnnkit.nn import __all__  # noqa: F401
