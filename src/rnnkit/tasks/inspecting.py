"""What ``rnnkit inspect`` shows of a trained run, from the run alone: a summary of the run
(:func:`summary`), the model's views (:func:`page_views`: the character view of a model that writes
text, else the task's own, :class:`~rnnkit.tasks.capabilities.HasInspectPage`), and gradient flow
through time for the trained weights and for the same model at initialisation (:func:`gradient_flow`)
on the training batch stored in the run at training time (:func:`store_sample`)."""

from __future__ import annotations

import copy
import dataclasses
import sys
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from rnnkit.errors import RnnkitError
from rnnkit.inspection import character_view, find_recurrent
from rnnkit.inspection import gradient_flow as flow_of
from rnnkit.tasks.base import TrainedModel, get_task
from rnnkit.tasks.capabilities import HasInspectPage, language_model_of
from rnnkit.training.devices import to_device
from rnnkit.training.rng import seed_everything

__all__ = [
    "VIEW_ROWS",
    "gradient_flow",
    "page_views",
    "store_sample",
    "stored_batch",
    "summary",
]


VIEW_ROWS = 1000  # validation examples a run stores for its views (a confusion matrix...)


def _quiet(_message: str) -> None:
    """A ``log`` that drops the setup's progress lines."""


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def store_sample(batches: Any, **views: Any) -> dict[str, Any]:
    """What a run keeps for ``rnnkit plot`` and ``rnnkit inspect`` (in its checkpoints' task
    state, key ``"sample"``): the first training batch of ``batches`` (left where it was: its
    state is saved and restored around the draw) and the ``views``' data (a few validation
    examples...), plain data and tensors only."""
    state = batches.state_dict()
    batch = batches.next_batch()
    batches.load_state_dict(state)
    return {"batch": list(batch), **views}


def stored_batch(saved: Mapping[str, Any] | None) -> Any:
    """The training batch a run stored (see :func:`store_sample`), or ``None`` (an older run)."""
    sample = (saved or {}).get("sample")
    return None if not sample else sample.get("batch")


def page_views(trained: TrainedModel, text: str | None, chars: int = 2000) -> dict[str, Any]:
    """The views of ``rnnkit inspect`` besides gradient flow, by name: ``"characters"`` for a
    model that writes text (:func:`~rnnkit.inspection.character_view` over the first ``chars``
    characters of ``text``, else of the task's stored ``inspection_text``), else the task's own
    (``"tokens"``, ``"paths"``...), else none. A ``text`` the model cannot read is an error."""
    task = get_task(trained.task)
    found = language_model_of(task, trained)
    if found is None:
        if isinstance(task, HasInspectPage):
            return task.inspect(trained, text, chars=chars)
        if text is not None:
            raise RnnkitError(f"a {task.name!r} model has no view of a text")
        return {}
    model, vocab = found
    shown = (task.inspection_text(trained) if text is None else text)[:chars]
    if not shown:
        raise RnnkitError("the text to inspect is empty")
    return {"characters": character_view(model, vocab, shown, warn=_warn)}


def gradient_flow(trained: TrainedModel, task_state: Mapping[str, Any]) -> dict[str, Any]:
    """``||dL_T/dh_t||`` at every step t of the top layer (:func:`rnnkit.inspection.gradient_flow`)
    for the trained model and for the same architecture at initialisation, on the first training
    batch of the run, with the task's loss.

    The batch is the one stored in the run (``task_state["sample"]``), and the loss the task's
    ``loss(config)``: nothing is read again. A run written before runs stored a batch (or a task
    without ``loss``) rebuilds them with :meth:`Task.setup` from the run's config and data.

    The initial model is the one the run started from: built after seeding every generator with
    the run's seed (as training does). Both are evaluated in evaluation mode (no dropout), each
    with a fresh copy of the loss, so a loss that carries state from batch to batch (a language
    model's) starts from a zero state for both. Seeds the global generators.
    """
    find_recurrent(trained.model, "gradient flow")
    task, config = get_task(trained.task), trained.config
    seed_everything(config.train.seed)
    batch = stored_batch(task_state)
    loss_of: Callable[[Any], Any] | None = getattr(task, "loss", None)
    if batch is not None and loss_of is not None:
        loss_fn, batch = loss_of(config), tuple(batch)
        model_config = dataclasses.asdict(trained.model.config)
        initial: nn.Module = task.restore(config, task_state, model_config)[0]
    else:
        setup = task.setup(config, task_state, _quiet)
        loss_fn, batch, initial = setup.loss_fn, setup.batches.next_batch(), setup.model
    batch = to_device(batch, trained.device)
    initial = initial.to(trained.device).eval()
    was_training = trained.model.training
    trained.model.eval()
    try:
        trained_flow = flow_of(trained.model, copy.deepcopy(loss_fn), batch)
    finally:
        trained.model.train(was_training)
    init_flow = flow_of(initial, copy.deepcopy(loss_fn), batch)
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
