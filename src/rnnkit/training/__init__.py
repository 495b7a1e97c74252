"""Running a training job: the Trainer loop and its callbacks, devices and precision, atomic
checkpoints, the output directory's lock, metric loggers and multi-process set-up."""

from rnnkit.training.trainer import (
    BatchSource,
    ShuffledBatches,
    StepOutput,
    TrainConfig,
    Trainer,
    TrainResult,
    seed_everything,
)

__all__ = [
    "BatchSource",
    "ShuffledBatches",
    "StepOutput",
    "TrainConfig",
    "TrainResult",
    "Trainer",
    "seed_everything",
]
