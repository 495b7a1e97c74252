"""The one resumable batch order (rnnkit.data.batching.BatchOrder) and the sources built on it:
the same seed gives the very batches rnnkit 0.1 gave (pinned below), and a restored state
continues exactly where the saved one stopped."""

import pytest
import torch

from rnnkit.data.batching import (
    BatchOrder,
    FreshBatches,
    ShuffledBatches,
    epoch_generator,
    epoch_seed,
)
from rnnkit.data.labelled import BucketedBatches
from rnnkit.data.text import TBPTTBatches
from rnnkit.errors import RnnkitError

LENGTHS = [(i * 7) % 11 + 1 for i in range(13)]


def _tbptt(batches, n):
    return [(b.inputs[:, 0].tolist(), b.reset) for b in (batches.next_batch() for _ in range(n))]


def test_the_seed_formula_is_written_once():
    assert epoch_seed(3, 2) == 3 * 1_000_003 + 2
    assert torch.equal(
        torch.randperm(9, generator=epoch_generator(3, 2)),
        torch.randperm(9, generator=torch.Generator().manual_seed(3_000_011)),
    )


def test_orders_are_those_of_rnnkit_0_1():
    shuffled = ShuffledBatches(10, 4, list, seed=7)
    assert [shuffled.next_batch() for _ in range(7)] == [
        [3, 1, 8, 7], [6, 2, 0, 5], [9, 4], [4, 1, 7, 0], [2, 5, 8, 3], [9, 6], [4, 7, 5, 8],
    ]  # fmt: skip
    dropped = ShuffledBatches(10, 4, list, seed=7, drop_last=True)
    assert [dropped.next_batch() for _ in range(3)] == [[3, 1, 8, 7], [6, 2, 0, 5], [4, 1, 7, 0]]
    bucketed = BucketedBatches(LENGTHS, 4, list, seed=5, bucket_batches=2)
    assert [bucketed.next_batch() for _ in range(9)] == [
        [3], [10, 12, 1, 9], [8, 7, 4, 6], [11, 0, 5, 2], [2, 4, 9, 6], [10, 7, 12, 1],
        [11, 0, 8, 5], [3], [9],
    ]  # fmt: skip
    streams = TBPTTBatches(torch.arange(60), 3, 4, seed=2)
    assert _tbptt(streams, 10) == [
        ([0, 20, 40], True), ([4, 24, 44], False), ([8, 28, 48], False), ([12, 32, 52], False),
        ([0, 20, 40], True), ([4, 24, 44], False), ([8, 28, 48], False), ([12, 32, 52], False),
        ([1, 20, 39], True), ([5, 24, 43], False),
    ]  # fmt: skip


def _draw(generator):
    return torch.rand(4, generator=generator)


def test_fresh_batches_draw_each_step_from_its_own_seed_and_resume():
    fresh = FreshBatches(_draw, seed=3)
    first = [fresh.next_batch() for _ in range(3)]
    for step, batch in enumerate(first):
        assert torch.equal(batch, _draw(torch.Generator().manual_seed(3 * 1_000_003 + step)))
    assert fresh.state_dict() == {"index": 3, "seed": 3}  # the keys rnnkit 0.1 saved
    again = FreshBatches(_draw, seed=0)
    again.load_state_dict({"index": 2, "seed": 3})
    assert torch.equal(again.next_batch(), first[2])
    fresh.shard(1, 2)
    assert torch.equal(fresh.next_batch(), _draw(torch.Generator().manual_seed(3_000_012))[2:])


@pytest.mark.parametrize(
    "make",
    [
        lambda: ShuffledBatches(10, 4, list, seed=1),
        lambda: BucketedBatches(LENGTHS, 4, list, seed=1),
        lambda: TBPTTBatches(torch.arange(90), 3, 4, seed=1),
    ],
)
def test_every_source_resumes_exactly_mid_epoch(make):
    source = make()
    assert isinstance(source, BatchOrder)
    for _ in range(5):
        source.next_batch()
    state = source.state_dict()
    assert set(state) == {"epoch", source.position, "seed", "size"}
    ahead = [source.next_batch() for _ in range(8)]
    resumed = make()
    resumed.load_state_dict(state)
    for expected, got in zip(ahead, (resumed.next_batch() for _ in range(8))):
        assert str(expected) == str(got)
    with pytest.raises(RnnkitError, match="the checkpoint was trained on 1,?000 "):
        resumed.load_state_dict({**state, "size": 1000})
