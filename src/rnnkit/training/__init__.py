"""Running a training job: the run context, the Trainer loop and its callbacks, devices and
precision, atomic checkpoints, the output directory's lock, metric loggers and multi-process
set-up."""

from rnnkit.data.batching import BatchSource, ShuffledBatches
from rnnkit.training.callbacks import (
    BestCheckpoint,
    Callback,
    EarlyStopping,
    LastCheckpoint,
    NonFiniteGuard,
    ProgressBar,
)
from rnnkit.training.context import RunContext
from rnnkit.training.rng import seed_everything
from rnnkit.training.settings import BestMetric, StepOutput, TrainConfig, TrainResult
from rnnkit.training.trainer import Trainer

__all__ = [
    "BatchSource",
    "BestCheckpoint",
    "BestMetric",
    "Callback",
    "EarlyStopping",
    "LastCheckpoint",
    "NonFiniteGuard",
    "ProgressBar",
    "RunContext",
    "ShuffledBatches",
    "StepOutput",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "seed_everything",
]
