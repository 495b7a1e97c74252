"""The synthetic data sets are right and seeded (the tasks are tested in test_task_synthetic.py)."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.data import synthetic

pytestmark = pytest.mark.usefixtures("one_thread")


def test_sine_next_value_and_disjoint_phases():
    train = synthetic.sine_wave(200, seed=0)
    test = synthetic.sine_wave(200, split="test", seed=0)
    assert train.inputs.shape == (200, 20, 1) and train.targets.shape == (200, 20, 1)
    torch.testing.assert_close(train.targets[:, :-1], train.inputs[:, 1:])  # the next value
    torch.testing.assert_close(train.inputs[:, 1, 0], torch.sin(train.phases + 0.4).float())
    sector = 2 * math.pi / 16
    assert set((train.phases // sector).long().remainder(2).tolist()) == {0}  # even sectors only
    assert set((test.phases // sector).long().remainder(2).tolist()) == {1}  # odd: unseen phases
    torch.testing.assert_close(
        synthetic.sine_wave(5, seed=3).inputs, synthetic.sine_wave(5, seed=3).inputs
    )


def test_mean_sign_labels_and_seed():
    x, y = synthetic.mean_sign(500, seed=1)
    assert x.shape == (500, 20, 10) and y.dtype == torch.long
    assert torch.equal(y, (x.mean(dim=(1, 2)) > 0).long())
    assert 0.4 < y.float().mean().item() < 0.6
    assert torch.equal(synthetic.mean_sign(4, seed=7)[0], synthetic.mean_sign(4, seed=7)[0])
    assert not torch.equal(synthetic.mean_sign(4, seed=7)[0], synthetic.mean_sign(4, seed=8)[0])


def test_adding_problem_markers_and_target():
    x, y = synthetic.adding_problem(300, seq_len=30, seed=2)
    assert x.shape == (300, 30, 2) and y.shape == (300, 1)
    markers = x[:, :, 1]
    assert torch.equal(markers.sum(1), torch.full((300,), 2.0))
    assert torch.all(markers[:, :15].sum(1) == 1) and torch.all(markers[:, 15:].sum(1) == 1)
    torch.testing.assert_close(y[:, 0], (x[:, :, 0] * markers).sum(1))
    with pytest.raises(ValueError, match="seq_len must be >= 2 for the adding problem, got 1"):
        synthetic.adding_problem(3, seq_len=1)


def test_copy_task_layout():
    x, y = synthetic.copy_task(4, seq_len=5, n_copy=3, n_symbols=4, seed=0)
    assert x.shape == y.shape == (4, 11)
    assert torch.all((x[:, :3] >= 1) & (x[:, :3] <= 4))
    assert torch.all(x[:, 3:7] == 0) and torch.all(x[:, 7] == 5) and torch.all(x[:, 8:] == 0)
    assert torch.equal(y[:, -3:], x[:, :3]) and torch.all(y[:, :-3] == 0)


def test_sentences():
    sentences, checks = synthetic.sentence_completion()
    assert sentences == ["hello how are you", "i am fine", "how are you doing"]
    assert ("hello", " how are you") in checks
