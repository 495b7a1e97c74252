"""rnnkit: recurrent neural networks for PyTorch, written from scratch and proven equal to torch.nn.

The public API is what this module exports; everything else may change between versions.
"""

import os

# Set before torch is first imported (OpenMP reads it once, when torch loads it); every
# ``rnnkit.*`` import, the command line's included, runs this module first. OpenMP threads that
# busy-wait make small models tens of times slower on a loaded 2-core machine.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

from rnnkit.cells import GRUCell, LSTMCell, RNNCell, RNNCellBase
from rnnkit.errors import RnnkitError
from rnnkit.layers import GRU, LSTM, RNN, Recurrent
from rnnkit.models import (
    Forecaster,
    ForecasterConfig,
    LanguageModel,
    LanguageModelConfig,
    SequenceClassifier,
    SequenceClassifierConfig,
    SequenceTagger,
    SequenceTaggerConfig,
)
from rnnkit.training import TrainConfig, Trainer, seed_everything

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "Forecaster",
    "ForecasterConfig",
    "GRUCell",
    "LSTMCell",
    "LanguageModel",
    "LanguageModelConfig",
    "RNNCell",
    "RNNCellBase",
    "Recurrent",
    "RnnkitError",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequenceTagger",
    "SequenceTaggerConfig",
    "TrainConfig",
    "Trainer",
    "__version__",
    "seed_everything",
]
