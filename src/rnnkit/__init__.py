"""rnnkit: recurrent neural networks for PyTorch, written from scratch and proven equal to torch.nn.

The public API is what this module exports; everything else may change between versions. The
jobs: ``rnnkit.train(task, settings)``, ``rnnkit.load(run)``, ``rnnkit.evaluate(model, data)``,
``rnnkit.predict(model, inputs)`` and ``rnnkit.sample(model, SampleConfig(...))`` for every task
in ``rnnkit.TASKS``.
"""

__version__ = "0.1.0"

from rnnkit import nn
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
from rnnkit.nn import *  # the cells, layers and cell registry: all of rnnkit.nn.__all__
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
    "TASKS",
    "Forecaster",
    "ForecasterConfig",
    "LanguageModel",
    "LanguageModelConfig",
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
    "evaluate",
    "load",
    "predict",
    "register",
    "sample",
    "seed_everything",
    "train",
]
__all__ += nn.__all__

# Last, once every name above is defined: a plugin may `import rnnkit` and call rnnkit.register.
from rnnkit.tasks import plugins as _plugins

_plugins.load_plugins()  # the cells and tasks of installed packages
