"""Multi-process data-parallel training under ``torchrun``, with PyTorch's DistributedDataParallel.

Nothing here starts processes: ``torchrun --nproc_per_node N -m rnnkit train TASK ...`` does, and
sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` in each one's environment. :func:`init` reads them
and joins the process group (gloo on the CPU, nccl on CUDA with ``cuda:LOCAL_RANK``); without them
(or with ``WORLD_SIZE=1``) it returns ``None`` and training runs as a single process, unchanged.

The rules every rank follows (``docs/distributed.md`` says more):

- ``batch_size`` is the *global* batch. Each batch source has ``shard(rank, world)``; after it,
  ``next_batch()`` returns the rank's contiguous ``1/world`` share of the global batch it would
  have returned unsharded (:func:`share` for lists of example indices, :func:`shard_rows` for a
  drawn batch of tensors). So ``world`` processes together see exactly the batches one sees.
- The step runs through :func:`wrap`: DDP around a small module whose ``forward`` is the task's
  ``loss_fn(model, batch)``, so a loss that calls model methods other than ``forward`` is still
  synchronised. Each rank's loss is the mean over its share; :func:`reduce_step` all-reduces
  ``(loss * items, items)`` once per step and scales each rank's loss by
  ``items * world / global items``, so DDP's averaged gradient is the gradient of the global mean
  loss even when shares are unequal (a last partial batch, sequences of different lengths).
- Rank 0 alone writes files and prints; every rank agrees on evaluation (rank 0 evaluates and
  :func:`broadcast` sends its metrics), on the clock and on a stop request (:func:`agree`).
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from rnnkit.data.batching import shard_rows, share  # re-exported: the sharding rules
from rnnkit.errors import RnnkitError

__all__ = [
    "Context",
    "agree",
    "broadcast",
    "current",
    "gather",
    "init",
    "is_main",
    "rank_seed",
    "reduce_step",
    "shard_rows",
    "shard_source",
    "share",
    "shutdown",
    "wrap",
]


@dataclass(frozen=True)
class Context:
    """This process's place in the group: ``rank`` of ``world``, its ``device``."""

    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


_context: Context | None = None
_owned = False  # whether init() created the process group (then shutdown() destroys it)


def _env_int(name: str) -> int:
    value = os.environ[name]
    try:
        return int(value)
    except ValueError:
        raise RnnkitError(f"{name} must be an integer (set by torchrun), got {value!r}") from None


def init(device: str = "auto") -> Context | None:
    """Join the process group that ``torchrun`` describes in the environment, once per process.

    ``device``: ``auto`` or ``cuda`` -> ``cuda:LOCAL_RANK`` with nccl when CUDA is available
    (``cuda`` without it is an error), ``cpu`` or ``auto`` without CUDA -> the CPU with gloo.
    Returns ``None`` outside torchrun (no ``WORLD_SIZE``, or 1); a second call returns the same
    context.
    """
    global _context, _owned
    if _context is not None:
        return _context
    if "WORLD_SIZE" not in os.environ or _env_int("WORLD_SIZE") <= 1:
        return None
    world, rank = _env_int("WORLD_SIZE"), _env_int("RANK")
    local_rank = _env_int("LOCAL_RANK") if "LOCAL_RANK" in os.environ else rank
    name = str(device).strip().lower()
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RnnkitError(f"device {name!r} was asked for, but no CUDA GPU is available")
    if name.startswith("cuda") or (name == "auto" and torch.cuda.is_available()):
        where, backend = torch.device("cuda", local_rank), "nccl"
        torch.cuda.set_device(where)  # nccl and the *_object collectives use the current device
    else:
        where, backend = torch.device("cpu"), "gloo"
    if not dist.is_initialized():
        dist.init_process_group(backend=backend)  # env://: MASTER_ADDR, MASTER_PORT from torchrun
        _owned = True
    if dist.get_world_size() != world or dist.get_rank() != rank:
        raise RnnkitError(
            f"the process group has rank {dist.get_rank()} of {dist.get_world_size()}, but the "
            f"environment says rank {rank} of {world}"
        )
    _context = Context(rank, world, local_rank, where)
    return _context


def shutdown() -> None:
    """Leave the process group (destroying it if :func:`init` created it)."""
    global _context, _owned
    if _owned and dist.is_initialized():
        # Every rank gets here before any leaves: a rank that tore its connections down while
        # rank 0 still wrote its report aborted gloo's threads on exit ("terminate called ...").
        dist.barrier()
        dist.destroy_process_group()
    _context, _owned = None, False


def current() -> Context | None:
    """The context of :func:`init`, or ``None`` in a single process."""
    return _context


def is_main() -> bool:
    """True in a single process and on rank 0: the process that writes files and prints."""
    return _context is None or _context.is_main


def rank_seed(seed: int, rank: int) -> int:
    """The seed of rank ``rank``'s global RNG once the (identical) model is built: rank 0 keeps
    ``seed`` so that it draws what a single process draws; the others differ (dropout masks)."""
    return seed if rank == 0 else seed * 1_000_003 + rank


def shard_source(source: Any, context: Context) -> None:
    """Make a batch source return ``context.rank``'s share of each global batch."""
    shard = getattr(source, "shard", None)
    if shard is None:
        raise RnnkitError(
            f"the batch source {type(source).__name__} cannot be shared among {context.world} "
            "processes: it has no shard(rank, world) method"
        )
    shard(context.rank, context.world)


# --------------------------------------------------------------------------- the step
class _Step(nn.Module):
    """``forward(batch) = loss_fn(model, batch)``: the whole loss is one DDP forward."""

    def __init__(self, model: nn.Module, loss_fn: Callable[[nn.Module, Any], Any]) -> None:
        super().__init__()
        self.model = model
        self.loss_fn = loss_fn

    def forward(self, batch: Any) -> Any:
        return self.loss_fn(self.model, batch)


def wrap(model: nn.Module, loss_fn: Callable[[nn.Module, Any], Any], context: Context) -> nn.Module:
    """A DDP module whose call ``step(batch)`` returns ``loss_fn(model, batch)`` with the
    gradients of its backward averaged over the ranks. ``model`` keeps its parameters (the
    optimiser's and the checkpoint's); DDP broadcasts rank 0's values once, here."""
    device_ids = [context.device.index] if context.device.type == "cuda" else None
    ddp = nn.parallel.DistributedDataParallel
    # Buffers are not synchronised at every forward: rnnkit's models change none while training
    # (newer torch names the option forward_sync_buffers and deprecates broadcast_buffers).
    name = "forward_sync_buffers"
    if name not in inspect.signature(ddp.__init__).parameters:
        name = "broadcast_buffers"
    return ddp(_Step(model, loss_fn), device_ids=device_ids, **{name: False})


def reduce_step(
    context: Context, loss: torch.Tensor, items: int | None
) -> tuple[float, int | None, float]:
    """``(global mean loss, global items, this rank's loss scale)`` from one all-reduce.

    Each rank's ``loss`` is a mean over its ``items`` (1 each when a loss function gives none).
    The global loss is the items-weighted mean; scaling the local loss by
    ``items * world / global items`` makes DDP's averaged gradient that of the global mean. A
    non-finite loss on any rank makes the global loss non-finite, so every rank skips the step.
    """
    weight = float(items) if items is not None else 1.0
    sums = torch.tensor(
        [float(loss.detach()) * weight, weight], dtype=torch.float64, device=context.device
    )
    dist.all_reduce(sums)  # a sync point: one small message per step
    total, count = float(sums[0]), float(sums[1])
    global_items = None if items is None else round(count)
    return total / count, global_items, weight * context.world / count


def agree(context: Context, elapsed: float, stop: bool) -> tuple[float, bool]:
    """Every rank's view of the clock and of a stop request, made one: the latest clock (the
    learning rate and the time budget follow it) and a stop when any rank was asked to stop."""
    values = torch.tensor([elapsed, float(stop)], dtype=torch.float64, device=context.device)
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return float(values[0]), bool(values[1])


def broadcast(context: Context, value: Any) -> Any:
    """Rank 0's ``value`` on every rank (any picklable object)."""
    holder = [value if context.is_main else None]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def gather(context: Context, value: Any) -> list[Any]:
    """Every rank's ``value`` (picklable; tensors moved to the CPU first), in rank order."""
    values: list[Any] = [None] * context.world
    dist.all_gather_object(values, _to_cpu(value))
    return values


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return type(value)(*(_to_cpu(v) for v in value))
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    return value
