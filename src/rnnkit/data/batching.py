"""One resumable batch order for every batch source, and batches across processes.

:class:`BatchOrder` owns what every batch source shares: the seed and the formula that turns it into
one generator per epoch (:func:`epoch_seed`), the epoch and the position in it, the share of each
global batch a process takes (``shard(rank, world)``: ``world`` processes together see exactly the
batches one process sees, see :mod:`rnnkit.training.distributed`) and the saved position
(``state_dict``/``load_state_dict``: ``{"epoch", "index", "seed", "size"}``). A source says only
how it plans one epoch and builds one batch of it: :class:`ShuffledBatches` (shuffled
mini-batches), ``rnnkit.data.labelled.BucketedBatches`` (batches of similar length),
``rnnkit.data.text.TBPTTBatches`` (streams of text) and :class:`FreshBatches` (a new random batch
at every step).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

import torch

from rnnkit.errors import RnnkitError

__all__ = [
    "BatchOrder",
    "BatchSource",
    "FreshBatches",
    "ShuffledBatches",
    "check_divisible",
    "epoch_generator",
    "epoch_seed",
    "shard_rows",
    "share",
]

T = TypeVar("T")


def epoch_seed(seed: int, epoch: int) -> int:
    """The seed of epoch (or step) ``epoch`` of a source seeded ``seed``: ``seed * 1_000_003 +
    epoch``, distinct for every epoch of every seed that :func:`rnnkit.config.seed_range` allows
    and within the 64 bits torch takes."""
    return seed * 1_000_003 + epoch


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator seeded with :func:`epoch_seed`: the randomness of one epoch, and of it alone."""
    return torch.Generator().manual_seed(epoch_seed(seed, epoch))


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


class BatchOrder:
    """The base of every batch source: endless epochs in a seeded order, resumable exactly.

    Epoch ``e`` is planned by :meth:`plan` from ``e`` alone (its randomness from
    :meth:`generator`), so the saved state is only the position: ``{"epoch", POSITION, "seed",
    "size"}`` (``POSITION`` is ``"index"``, or the class's ``position``). :meth:`next_batch` moves
    to the next epoch when :meth:`count` batches of the plan are used up and asks :meth:`batch`
    for this process's part of the global batch at the position.

    Subclasses set ``size`` (the examples, characters... a resumed run must have the same),
    implement :meth:`plan` and :meth:`batch`, and :meth:`check_world` when sharing among
    processes has conditions. ``size_error`` is the message of a checkpoint saved on another
    size (formatted with ``saved`` and ``size``).
    """

    position = "index"
    size_error = "the checkpoint was trained on {saved} examples but the data now has {size}"

    def __init__(self, size: int | None, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0
        self.index = 0  # batches of the epoch already given
        self.rank, self.world = 0, 1
        self._plan: tuple[tuple[int, int], Any] | None = None

    def generator(self, epoch: int) -> torch.Generator:
        """The generator of epoch ``epoch`` (see :func:`epoch_seed`)."""
        return epoch_generator(self.seed, epoch)

    def plan(self, epoch: int) -> Any:
        """Everything :meth:`batch` needs for epoch ``epoch`` (e.g. its batches' indices)."""
        raise NotImplementedError

    def count(self, plan: Any) -> float:
        """Batches in the epoch ``plan`` describes."""
        return len(plan)

    def batch(self, plan: Any, index: int) -> Any:
        """This process's part of global batch ``index`` of the epoch ``plan`` describes."""
        raise NotImplementedError

    def check_world(self, world: int) -> None:
        """``RnnkitError`` when the global batches cannot be shared among ``world`` processes."""

    def shard(self, rank: int, world: int) -> None:
        """Return rank ``rank``'s share of each global batch (see :mod:`rnnkit.training.distributed`)."""
        self.check_world(world)
        self.rank, self.world = rank, world

    def current_plan(self) -> Any:
        """The plan of the current epoch, made once per epoch (and seed)."""
        if self._plan is None or self._plan[0] != (self.epoch, self.seed):
            self._plan = ((self.epoch, self.seed), self.plan(self.epoch))
        return self._plan[1]

    def next_batch(self) -> Any:
        if self.index >= self.count(self.current_plan()):
            self.epoch += 1
            self.index = 0
        batch = self.batch(self.current_plan(), self.index)
        self.index += 1
        return batch

    def state_dict(self) -> dict[str, Any]:
        state = {"epoch": self.epoch, self.position: self.index, "seed": self.seed}
        return state if self.size is None else {**state, "size": self.size}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        saved = state.get("size", self.size)
        if saved is not None and int(saved) != self.size:
            raise RnnkitError(self.size_error.format(saved=int(saved), size=self.size))
        self.epoch = int(state.get("epoch", 0))
        self.index, self.seed = int(state[self.position]), int(state["seed"])


class ShuffledBatches(BatchOrder):
    """Ordinary shuffled mini-batches over ``size`` items, epoch after epoch, resumable exactly.

    ``collate(indices)`` turns a list of item indices into a batch. The order of epoch ``e`` is a
    permutation drawn from :meth:`generator` ``(e)``, cut into batches of ``batch_size`` (the last
    one smaller, or dropped with ``drop_last``). After ``shard(rank, world)`` (multi-process
    training) ``collate`` gets the rank's contiguous share of each global batch's indices; the
    state is that of the global batches, the same on every rank.
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
        super().__init__(size, seed)
        self.batch_size = batch_size
        self.collate = collate
        self.shuffle = shuffle
        self.drop_last = drop_last

    def check_world(self, world: int) -> None:
        check_divisible(self.batch_size, world)
        rest = 0 if self.drop_last else self.size % self.batch_size
        if 0 < rest < world:
            share(range(rest), 0, world)  # the error of a last batch too small to share

    def __len__(self) -> int:
        """Batches per epoch."""
        full, rest = divmod(self.size, self.batch_size)
        return full if self.drop_last or rest == 0 else full + 1

    def plan(self, epoch: int) -> list[list[int]]:
        """The index lists of the batches of epoch ``epoch``."""
        order = range(self.size)
        if self.shuffle:
            order = torch.randperm(self.size, generator=self.generator(epoch)).tolist()
        return [
            list(order[i : i + self.batch_size])
            for i in range(0, len(self) * self.batch_size, self.batch_size)
        ]

    def batch(self, plan: list[list[int]], index: int) -> Any:
        indices = plan[index]
        return self.collate(share(indices, self.rank, self.world) if self.world > 1 else indices)


class FreshBatches(BatchOrder):
    """Endless batches each drawn anew: batch ``i`` is ``draw(generator)`` with a generator seeded
    ``epoch_seed(seed, i)``, so no epoch ever ends (the state is ``{"index", "seed"}``).

    After ``shard(rank, world)`` every rank draws the same global batch and keeps its rows
    (:func:`shard_rows`).
    """

    def __init__(self, draw: Callable[[torch.Generator], Any], seed: int) -> None:
        super().__init__(None, seed)
        self.draw = draw

    def plan(self, epoch: int) -> None:
        return None

    def count(self, plan: None) -> float:
        return math.inf

    def batch(self, plan: None, index: int) -> Any:
        batch = self.draw(self.generator(index))
        return batch if self.world == 1 else shard_rows(batch, self.rank, self.world)

    def state_dict(self) -> dict[str, Any]:
        return {"index": self.index, "seed": self.seed}
