"""Task models built around one recurrent layer: a language model with streaming generation, a
many-to-one sequence classifier, a many-to-many sequence tagger (optionally with a linear-chain
CRF), a forecaster of one series and a global DeepAR-style forecaster of many, with distribution heads (gaussian, studentt, negbin) and a quantile
head for probabilistic forecasts. Each model is built from a typed dataclass config, which checkpoints store
as a dict so the model can be rebuilt from them; every such config inherits the recurrent layer's
settings from :class:`~rnnkit.models.recurrent.RecurrentConfig`.
"""

from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.models.crf import CRF
from rnnkit.models.forecaster import Forecaster, ForecasterConfig
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig, detach_state
from rnnkit.models.likelihoods import LIKELIHOODS, QuantileHead, build_likelihood
from rnnkit.models.panel_forecaster import ForecastOutput, PanelForecaster, PanelForecasterConfig
from rnnkit.models.recurrent import RecurrentConfig
from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig

__all__ = [
    "CRF",
    "LIKELIHOODS",
    "ForecastOutput",
    "Forecaster",
    "ForecasterConfig",
    "LanguageModel",
    "LanguageModelConfig",
    "PanelForecaster",
    "PanelForecasterConfig",
    "QuantileHead",
    "RecurrentConfig",
    "SequenceClassifier",
    "SequenceClassifierConfig",
    "SequenceTagger",
    "SequenceTaggerConfig",
    "build_likelihood",
    "detach_state",
]
