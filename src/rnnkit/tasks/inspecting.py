"""What ``rnnkit inspect`` shows of a trained run besides the task's own views
(:meth:`Task.inspect`), for every task: a summary of the run (:func:`summary`) and gradient flow
through time for the trained weights and for the same model at initialisation, on one real
training batch (:func:`gradient_flow`)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from rnnkit.inspection import find_recurrent
from rnnkit.inspection import gradient_flow as flow_of
from rnnkit.tasks.base import TrainedModel, get_task
from rnnkit.training.trainer import seed_everything, to_device

__all__ = ["gradient_flow", "summary"]


def _quiet(_message: str) -> None:
    """A ``log`` that drops the setup's progress lines."""


def gradient_flow(trained: TrainedModel, task_state: Mapping[str, Any]) -> dict[str, Any]:
    """``||dL_T/dh_t||`` at every step t of the top layer (:func:`rnnkit.inspection.gradient_flow`)
    for the trained model and for the same architecture at initialisation, on the first training
    batch of the run's data and loss, rebuilt with :meth:`Task.setup` from the run's config and
    its checkpoint's ``task_state``.

    The initial model is the one the run started from: the setup's model, built after seeding
    every generator with the run's seed (as training does). Both are evaluated in evaluation mode
    (no dropout), each with a fresh copy of the loss, so a loss that carries state from batch to
    batch (a language model's) starts from a zero state for both. Seeds the global generators.
    """
    find_recurrent(trained.model, "gradient flow")
    task, config = get_task(trained.task), trained.config
    seed_everything(config.train.seed)
    setup = task.setup(config, task_state, _quiet)
    batch = to_device(setup.batches.next_batch(), trained.device)
    initial = setup.model.to(trained.device).eval()
    was_training = trained.model.training
    trained.model.eval()
    try:
        trained_flow = flow_of(trained.model, copy.deepcopy(setup.loss_fn), batch)
    finally:
        trained.model.train(was_training)
    init_flow = flow_of(initial, copy.deepcopy(setup.loss_fn), batch)
    return {"trained": trained_flow, "init": init_flow, "cell": summary(trained)["cell"]}


def summary(trained: TrainedModel) -> dict[str, Any]:
    """The run in a few words for a title: task, cell, sizes and parameters."""
    settings = getattr(trained.model, "config", None)
    name = trained.task
    kind = getattr(getattr(trained.config, "data", None), "task", None)  # a synthetic task's
    if isinstance(kind, str):
        name = f"{name} {kind}"
    return {
        "run": trained.path or "",
        "task": name,
        "cell": str(getattr(settings, "cell", "?")),
        "hidden_size": getattr(settings, "hidden_size", None),
        "num_layers": getattr(settings, "num_layers", None),
        "parameters": sum(p.numel() for p in trained.model.parameters()),
    }
