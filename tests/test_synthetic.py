"""Synthetic tasks: the data are right and seeded, and each task is learned in seconds."""

from __future__ import annotations

import math

import pytest
import torch

from rnnkit.data import synthetic
from rnnkit.tasks.synthetic import SyntheticTaskConfig, build_model, train_synthetic
from rnnkit.training import TrainConfig


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # Tiny models: one intra-op thread avoids thread contention on a shared 2-core machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_sine_next_value_and_disjoint_phases():
    train = synthetic.sine_wave(200, seed=0)
    test = synthetic.sine_wave(200, split="test", seed=0)
    assert train.inputs.shape == (200, 20, 1) and train.targets.shape == (200, 20, 1)
    torch.testing.assert_close(train.targets[:, :-1], train.inputs[:, 1:])  # the next value
    torch.testing.assert_close(train.inputs[:, 1, 0], torch.sin(train.phases + 0.4).float())
    sector = 2 * math.pi / 16
    assert set((train.phases // sector).long().remainder(2).tolist()) == {0}  # even sectors only
    assert set((test.phases // sector).long().remainder(2).tolist()) == {1}  # odd: unseen phases
    torch.testing.assert_close(synthetic.sine_wave(5, seed=3).inputs, synthetic.sine_wave(5, seed=3).inputs)


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


def test_mean_sign_model_has_13314_parameters():
    model, config = build_model(SyntheticTaskConfig(task="mean-sign").resolved())
    assert (config["cell"], config["num_layers"], config["hidden_size"], config["input_size"]) == ("rnn", 2, 64, 10)
    assert sum(p.numel() for p in model.parameters()) == 13_314


def _train(steps: int, lr: float = 1e-2, **task):
    config = TrainConfig(max_steps=steps, lr=lr, warmup_steps=10, eval_every=steps, batch_size=32,
                         progress=False, seed=0)
    return train_synthetic(SyntheticTaskConfig(n_val=128, n_test=500, **task), config, log=lambda m: None).test


def test_sine_is_learned():
    result = _train(600, lr=3e-2, task="sine")  # the tutorial's 6-unit tanh RNN
    assert result.baseline > 0.07  # persistence
    assert result.model < 2e-3, result.format()


def test_mean_sign_is_learned():
    result = _train(300, lr=3e-3, task="mean-sign", hidden_size=16, num_layers=1)
    assert result.model > 0.85, result.format()  # accuracy; the majority class is ~0.5


def test_adding_is_learned_on_short_sequences():
    result = _train(400, task="adding", seq_len=10, hidden_size=32)
    assert result.baseline > 0.12  # always predicting 1
    assert result.model < 0.05, result.format()


def test_copy_is_learned_on_short_delays():
    result = _train(400, task="copy", seq_len=5, n_copy=3, n_symbols=4, hidden_size=32, cell="gru")
    assert result.model > 0.9, result.format()  # accuracy on the copied symbols; chance is 0.25


def test_sentence_completion_is_learned():
    result = _train(150, task="sentence")
    assert result.model == 1.0, result.format()  # every prompt completed exactly


def test_same_seed_same_result():
    first = _train(30, task="adding", seq_len=8, hidden_size=8)
    second = _train(30, task="adding", seq_len=8, hidden_size=8)
    assert first.model == second.model
