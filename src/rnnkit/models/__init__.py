"""Task models built around one recurrent layer: a language model with streaming generation, a
many-to-one sequence classifier, a many-to-many sequence tagger (optionally with a linear-chain
CRF) and a forecaster, with distribution heads (gaussian, studentt, negbin) and a quantile
head for probabilistic forecasts. Each model is built from a typed dataclass config, which checkpoints store
as a dict so the model can be rebuilt from them; every such config inherits the recurrent layer's
settings from :class:`~rnnkit.models.recurrent.RecurrentConfig`.
"""

from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.models.crf import CRF
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig, detach_state
from rnnkit.models.likelihoods import LIKELIHOODS, QuantileHead, build_likelihood
from rnnkit.models.recurrent import RecurrentConfig
from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig

__all__ = [
    "CRF",
    "LIKELIHOODS",
    "Forecaster",
    "ForecasterConfig",
    "LanguageModel",
    "LanguageModelConfig",
    "QuantileHead",
    "RecurrentConfig",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequenceTagger",
    "SequenceTaggerConfig",
    "build_likelihood",
    "detach_state",
]
