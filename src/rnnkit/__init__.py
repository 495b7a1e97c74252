"""rnnkit: recurrent neural networks for PyTorch, written from scratch and proven equal to torch.nn.

The public API is what this module exports; everything else may change between versions. The
jobs: ``rnnkit.train(task, settings)``, ``rnnkit.load(run)``, ``rnnkit.evaluate(model, data)``,
``rnnkit.predict(model, inputs)`` and ``rnnkit.sample(model, SampleConfig(...))`` for every task
in ``rnnkit.TASKS``.
"""

__version__ = "0.1.0"

from rnnkit.errors import RnnkitError
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
from rnnkit.nn import (
    CELLS,
    GRU,
    LSTM,
    RNN,
    GRUCell,
    IndRNN,
    IndRNNCell,
    LayerNormGRU,
    LayerNormGRUCell,
    LayerNormLSTM,
    LayerNormLSTMCell,
    LSTMCell,
    MinGRU,
    MinGRUCell,
    MinLSTM,
    MinLSTMCell,
    Recurrent,
    RNNCell,
    RNNCellBase,
    build_layer,
    register_cell,
)
from rnnkit.tasks import (
    TASKS,
    SampleConfig,
    TrainedModel,
    evaluate,
    load,
    predict,
    register,
    sample,
    train,
)
from rnnkit.training import TrainConfig, Trainer, seed_everything

__all__ = [
    "CELLS",
    "GRU",
    "LSTM",
    "RNN",
    "TASKS",
    "Forecaster",
    "ForecasterConfig",
    "GRUCell",
    "IndRNN",
    "IndRNNCell",
    "LSTMCell",
    "LanguageModel",
    "LanguageModelConfig",
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
    "RnnkitError",
    "SampleConfig",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequenceTagger",
    "SequenceTaggerConfig",
    "TrainConfig",
    "TrainedModel",
    "Trainer",
    "__version__",
    "build_layer",
    "evaluate",
    "load",
    "predict",
    "register",
    "register_cell",
    "sample",
    "seed_everything",
    "train",
]

# Last, once every name above is defined: a plugin may `import rnnkit` and call rnnkit.register.
from rnnkit.tasks import plugins as _plugins

_plugins.load_plugins()  # the cells and tasks of installed packages
