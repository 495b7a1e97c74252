"""One module per job, gluing data, model, Trainer, metrics and baselines together: language
modelling (:mod:`~rnnkit.tasks.lm`), text classification (:mod:`~rnnkit.tasks.classify`),
sequence tagging (:mod:`~rnnkit.tasks.tag`), forecasting (:mod:`~rnnkit.tasks.forecast`) and the
synthetic tasks of the tutorials (:mod:`~rnnkit.tasks.synthetic`). The command line parses its
options into the same config dataclasses and calls the same functions exported here; each task
module also holds the ``evaluate_command``/``predict_command`` that ``rnnkit evaluate`` and
``rnnkit predict`` dispatch to by the checkpoint's task.
"""

from rnnkit.tasks.classify import ClassifyConfig, train_classifier
from rnnkit.tasks.forecast import ForecastTaskConfig, train_forecast
from rnnkit.tasks.lm import LMDataConfig, SampleConfig, evaluate_lm, sample_lm, train_lm
from rnnkit.tasks.synthetic import SyntheticTaskConfig, train_synthetic
from rnnkit.tasks.tag import TagConfig, train_tagger

__all__ = [
    "ClassifyConfig",
    "ForecastTaskConfig",
    "LMDataConfig",
    "SampleConfig",
    "SyntheticTaskConfig",
    "TagConfig",
    "evaluate_lm",
    "sample_lm",
    "train_classifier",
    "train_forecast",
    "train_lm",
    "train_synthetic",
    "train_tagger",
]
