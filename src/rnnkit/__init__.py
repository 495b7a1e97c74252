"""rnnkit: recurrent neural networks for PyTorch, written from scratch and proven equal to torch.nn.

The public API is what this module exports; everything else may change between versions.
"""

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
