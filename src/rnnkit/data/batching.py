"""Batches across processes: every batch source takes rank ``rank``'s share of each global batch
with these, so that ``world`` processes together see exactly the batches one process sees (see
:mod:`rnnkit.training.distributed`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import torch

from rnnkit.errors import RnnkitError

__all__ = ["BatchSource", "ShuffledBatches", "check_divisible", "shard_rows", "share"]

T = TypeVar("T")


def check_divisible(batch_size: int, world: int) -> None:
    """A global batch must split into ``world`` equal shares."""
    if batch_size % world:
        raise RnnkitError(
            f"batch size {batch_size} does not divide among {world} processes: the batch size is "
            f"the global batch, each process takes 1/{world} of it (use a multiple of {world})"
        )


def share(items: Sequence[T], rank: int, world: int) -> list[T]:
    """Rank ``rank``'s contiguous share of ``items`` (shares differ in size by one at most)."""
    n = len(items)
    if n < world:
        raise RnnkitError(
            f"a batch of {n} example(s) cannot be shared among {world} processes: each needs at "
            "least one (choose a batch size, or a number of examples, that leaves no smaller batch)"
        )
    return list(items[rank * n // world : (rank + 1) * n // world])


def shard_rows(batch: Any, rank: int, world: int) -> Any:
    """Rank ``rank``'s rows of every tensor in ``batch`` (tuples, lists, dicts of tensors with the
    batch first); other values are kept whole."""
    if isinstance(batch, torch.Tensor):
        n = batch.shape[0]
        if n < world:
            share(range(n), rank, world)  # raises the error of a batch too small to share
        return batch[rank * n // world : (rank + 1) * n // world]
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # namedtuple
        return type(batch)(*(shard_rows(v, rank, world) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(shard_rows(v, rank, world) for v in batch)
    if isinstance(batch, dict):
        return {k: shard_rows(v, rank, world) for k, v in batch.items()}
    return batch


@runtime_checkable
class BatchSource(Protocol):
    """An endless source of training batches whose position can be saved and restored."""

    def next_batch(self) -> Any: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: Mapping[str, Any]) -> None: ...


class ShuffledBatches:
    """Ordinary shuffled mini-batches over ``size`` items, epoch after epoch, resumable exactly.

    ``collate(indices)`` turns a list of item indices into a batch. The order of epoch ``e`` is a
    permutation drawn from a generator seeded with ``(seed, e)``, so the saved state is just
    ``{"epoch", "index", "seed"}``. After ``shard(rank, world)`` (multi-process training)
    ``collate`` gets the rank's contiguous share of each global batch's indices; the state is
    that of the global batches, the same on every rank.
    """

    def __init__(
        self,
        size: int,
        batch_size: int,
        collate: Callable[[list[int]], Any],
        *,
        shuffle: bool = True,
        drop_last: bool = False,
        seed: int = 0,
    ) -> None:
        if size < 1:
            raise RnnkitError("no training examples")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if drop_last and size < batch_size:
            raise RnnkitError(f"{size} training examples are fewer than one batch of {batch_size}")
        self.size = size
        self.batch_size = batch_size
        self.collate = collate
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.seed = seed
        self.epoch = 0
        self.index = 0
        self.rank, self.world = 0, 1
        self._order: tuple[int, list[int]] | None = None

    def shard(self, rank: int, world: int) -> None:
        """Return rank ``rank``'s share of each global batch (see :mod:`rnnkit.training.distributed`)."""
        check_divisible(self.batch_size, world)
        rest = 0 if self.drop_last else self.size % self.batch_size
        if 0 < rest < world:
            share(range(rest), rank, world)  # the error of a last batch too small to share
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(self.size, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def _epoch_order(self) -> list[int]:
        if self._order is None or self._order[0] != self.epoch:
            if self.shuffle:
                generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
                order = torch.randperm(self.size, generator=generator).tolist()
            else:
                order = list(range(self.size))
            self._order = (self.epoch, order)
        return self._order[1]

    def next_batch(self) -> Any:
        if self.index >= len(self):
            self.epoch += 1
            self.index = 0
        order = self._epoch_order()
        start = self.index * self.batch_size
        self.index += 1
        indices = order[start : start + self.batch_size]
        if self.world > 1:
            indices = share(indices, self.rank, self.world)
        return self.collate(indices)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "index": self.index, "seed": self.seed, "size": self.size}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state.get("size", self.size) != self.size:
            raise RnnkitError(
                f"the checkpoint was trained on {state['size']} examples but the data now has {self.size}"
            )
        self.epoch, self.index, self.seed = (
            int(state["epoch"]),
            int(state["index"]),
            int(state["seed"]),
        )
        self._order = None
