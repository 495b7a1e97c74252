import json
import math
import os
import signal

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from rnnkit.data.batching import ShuffledBatches
from rnnkit.errors import RnnkitError
from rnnkit.training.checkpoint import load_checkpoint
from rnnkit.training.devices import resolve_device, to_device
from rnnkit.training.rng import get_rng_state, seed_everything, set_rng_state
from rnnkit.training.settings import StepOutput, TrainConfig
from rnnkit.training.trainer import Trainer


def _data(n=64):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(n, 4, generator=generator)
    y = (x.sum(1) > 0).long()
    return x, y


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin1 = nn.Linear(4, 16)
        self.drop = nn.Dropout(0.3)  # uses the RNG: exact resume must restore it
        self.lin2 = nn.Linear(16, 2)

    def forward(self, x):
        return self.lin2(self.drop(torch.tanh(self.lin1(x))))


def _trainer(out_dir=None, callbacks=(), **overrides):
    seed_everything(0)
    x, y = _data()
    model = Net()
    options = {
        "max_steps": 30,
        "lr": 1e-2,
        "warmup_steps": 3,
        "eval_every": 10,
        "save_every": 10,
        "out_dir": out_dir,
        "device": "cpu",
        "progress": False,
    }
    options.update(overrides)
    config = TrainConfig(**options)
    source = ShuffledBatches(len(x), 8, lambda idx: (x[idx], y[idx]), seed=1)

    def loss_fn(model, batch):
        bx, by = batch
        return StepOutput(F.cross_entropy(model(bx), by), items=len(by))

    def eval_fn(model):
        return {"loss": F.cross_entropy(model(x), y).item()}

    return Trainer(
        model,
        config,
        source,
        loss_fn,
        eval_fn=eval_fn,
        task="toy",
        model_config={"hidden": 16},
        task_state={"labels": ["neg", "pos"]},
        log=lambda message: None,
        callbacks=callbacks,
    )


def _rows(path):
    with open(path, encoding="utf-8") as file:
        return [json.loads(line) for line in file]


def _losses(path):
    rows = _rows(path)
    return {r["step"]: r["loss"] for r in rows if "event" not in r}


def test_loss_falls_and_files_written(tmp_path):
    trainer = _trainer(tmp_path / "run", max_steps=60)
    first = trainer.evaluate()["loss"]
    result = trainer.fit()
    assert result.stop_reason == "max_steps" and result.step == 60
    assert result.best_metric < first * 0.8
    assert (tmp_path / "run" / "last.pt").is_file() and (tmp_path / "run" / "best.pt").is_file()
    rows = _rows(tmp_path / "run" / "metrics.jsonl")
    steps = [r for r in rows if "event" not in r]
    assert len(steps) == 60 and all(math.isfinite(r["grad_norm"]) for r in steps)
    assert any(r.get("event") == "eval" for r in rows)
    ckpt = load_checkpoint(tmp_path / "run" / "last.pt", task="toy")
    assert ckpt["task_state"] == {"labels": ["neg", "pos"]} and ckpt["train"]["step"] == 60


def test_resume_equals_uninterrupted_run(tmp_path):
    full = _trainer(tmp_path / "full")
    full.fit()

    # an interrupted run: stop at step 20 (as Ctrl-C does), then resume in a fresh trainer
    def stop_at_20(trainer, event, info):
        if event == "step" and info["step"] == 17:
            trainer.request_stop()

    part = _trainer(tmp_path / "part", callbacks=[stop_at_20])
    with pytest.raises(KeyboardInterrupt):
        part.fit()
    ckpt = load_checkpoint(tmp_path / "part" / "last.pt")
    assert ckpt["train"]["step"] == 17
    torch.manual_seed(12345)  # disturb the global RNG: resume must restore it
    resumed = _trainer(tmp_path / "part")
    resumed.fit(resume=ckpt)
    a, b = (
        _losses(tmp_path / "full" / "metrics.jsonl"),
        _losses(tmp_path / "part" / "metrics.jsonl"),
    )
    assert sorted(a) == sorted(b) == list(range(1, 31))
    for step in a:
        assert abs(a[step] - b[step]) <= 1e-6, step
    for p, q in zip(full.model.parameters(), resumed.model.parameters()):
        torch.testing.assert_close(p, q, rtol=0, atol=1e-6)


def test_real_sigint_writes_last_pt(tmp_path):
    def interrupt(trainer, event, info):
        if event == "step" and info["step"] == 5:
            os.kill(os.getpid(), signal.SIGINT)

    trainer = _trainer(tmp_path / "run", callbacks=[interrupt])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert load_checkpoint(tmp_path / "run" / "last.pt")["train"]["step"] == 5
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_nonfinite_steps_are_skipped_then_stop_after_five(tmp_path):
    trainer = _trainer(max_steps=20)
    original = trainer.loss_fn
    bad_steps = {3}

    def flaky(model, batch):
        out = original(model, batch)
        if trainer.step + 1 in bad_steps or trainer.step + 1 >= 10:
            out.loss = out.loss * float("nan")
        return out

    trainer.loss_fn = flaky
    logged = []
    trainer._log = logged.append
    before = [p.detach().clone() for p in trainer.model.parameters()]
    with pytest.raises(RnnkitError, match="5 steps in a row"):
        trainer.fit()
    assert trainer.step == 14 and trainer.skipped_steps == 6
    assert any("step 3" in line and "skipped" in line for line in logged)
    assert all(torch.isfinite(p).all() for p in trainer.model.parameters())
    assert any(not torch.equal(p, q) for p, q in zip(before, trainer.model.parameters()))


def test_nonfinite_gradient_is_skipped():
    trainer = _trainer(max_steps=3, eval_every=100)

    def inf_grad(model, batch):
        return (
            model.lin1.weight * torch.tensor(float("inf"))
        ).sum() * 0 + 1.0 * model.lin2.bias.sum()

    trainer.loss_fn = inf_grad
    with pytest.raises(RnnkitError):
        trainer.config.max_nonfinite = 2
        trainer.fit()
    assert trainer.skipped_steps == 2


def test_early_stopping(tmp_path):
    trainer = _trainer(max_steps=1000, eval_every=1, patience=3, lr=1e-9, warmup_steps=0)
    values = iter([1.0, 0.9, 0.95, 0.96, 0.97, 0.5])
    trainer.eval_fn = lambda model: {"loss": next(values)}
    result = trainer.fit()
    assert result.stop_reason == "early_stopping" and result.step == 5
    assert result.best_metric == 0.9


def test_validate_first_keeps_the_untrained_model_when_training_never_beats_it(tmp_path):
    # a hybrid classifier starts as its fitted baseline: best.pt must be able to keep step 0
    trainer = _trainer(tmp_path / "run", max_steps=20, eval_every=10)
    trainer.validate_first = True
    values = iter([0.5, 0.7, 0.6])  # step 0, step 10, step 20
    trainer.eval_fn = lambda model: {"loss": next(values)}
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    result = trainer.fit()
    assert (result.best_step, result.best_metric) == (0, 0.5)
    best = load_checkpoint(tmp_path / "run" / "best.pt", task="toy")
    assert best["train"]["step"] == 0
    assert all(torch.equal(best["model_state"][k], v) for k, v in start.items())
    assert next(values, None) is None  # validated at 0, 10 and 20: three times, not four


def test_max_minutes_budget_stops():
    trainer = _trainer(max_steps=None, max_minutes=0.5 / 60, eval_every=10**6)
    result = trainer.fit()
    assert result.stop_reason == "max_minutes" and 0.5 <= result.elapsed < 5


def test_schedule_warmup_cosine_and_time_keyed():
    trainer = _trainer(max_steps=110, warmup_steps=10, lr=1.0, min_lr_ratio=0.1)
    assert trainer.lr_at(0, 0) == pytest.approx(0.1)
    assert trainer.lr_at(9, 0) == pytest.approx(1.0)
    assert trainer.lr_at(60, 0) == pytest.approx(0.55)
    assert trainer.lr_at(110, 0) == pytest.approx(0.1)
    timed = _trainer(max_steps=None, max_minutes=1.0, warmup_steps=0, lr=1.0, min_lr_ratio=0.0)
    assert timed.lr_at(5, 30.0) == pytest.approx(0.5)
    assert timed.lr_at(5, 60.0) == pytest.approx(0.0)


def test_clip_by_value(tmp_path):
    trainer = _trainer(max_steps=5, clip="value", clip_value=1e-3, out_dir=tmp_path / "v")
    trainer.fit()
    rows = _rows(tmp_path / "v" / "metrics.jsonl")
    assert all(r["grad_norm"] > 0 for r in rows if "event" not in r)


def test_config_validation():
    with pytest.raises(RnnkitError, match="lr"):
        TrainConfig(lr=0)
    with pytest.raises(RnnkitError, match="max_steps or max_minutes"):
        TrainConfig(max_steps=None)
    with pytest.raises(RnnkitError, match="clip"):
        TrainConfig(clip="sometimes")
    cfg = TrainConfig.from_dict({"lr": 0.5}, max_steps=7)
    assert cfg.lr == 0.5 and cfg.max_steps == 7
    with pytest.raises(RnnkitError, match="unknown: unknown key; accepted: max_steps, "):
        TrainConfig.from_dict({"lr": 0.5, "unknown": 1})


def test_output_dir_not_writable(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    trainer = _trainer(out_dir=blocker / "run")
    with pytest.raises(RnnkitError, match="cannot write to output directory"):
        trainer.fit()


def test_shuffled_batches_resume_and_epochs():
    source = ShuffledBatches(10, 4, lambda idx: idx, seed=3)
    assert len(source) == 3
    first_epoch = [source.next_batch() for _ in range(3)]
    assert sorted(i for batch in first_epoch for i in batch) == list(range(10))
    state = source.state_dict()
    expected = [source.next_batch() for _ in range(4)]
    again = ShuffledBatches(10, 4, lambda idx: idx, seed=3)
    again.load_state_dict(state)
    assert [again.next_batch() for _ in range(4)] == expected
    assert expected[0] != first_epoch[0]  # a new permutation each epoch
    with pytest.raises(RnnkitError):
        ShuffledBatches(3, 4, lambda idx: idx, drop_last=True)


def test_rng_state_round_trip_and_helpers():
    seed_everything(5)
    state = get_rng_state()
    a = (torch.rand(3), __import__("random").random(), __import__("numpy").random.rand())
    set_rng_state(state)
    b = (torch.rand(3), __import__("random").random(), __import__("numpy").random.rand())
    assert torch.equal(a[0], b[0]) and a[1:] == b[1:]
    assert resolve_device("cpu").type == "cpu"
    with pytest.raises(RnnkitError):
        resolve_device("tpu")
    moved = to_device({"a": (torch.ones(1), [torch.zeros(1)]), "b": 3}, torch.device("cpu"))
    assert moved["b"] == 3 and isinstance(moved["a"], tuple)


def test_a_new_run_never_reports_an_earlier_runs_best_pt(tmp_path):
    """Found by fuzzing: a new run whose validation never improved (a NaN loss) in a directory
    holding an earlier run's best.pt reported those weights, and with another model failed to
    load them ("Error(s) in loading state_dict")."""
    first = _trainer(str(tmp_path)).fit()
    assert first.best_path == str(tmp_path / "best.pt")
    again = _trainer(str(tmp_path), max_steps=10)
    again.eval_fn = lambda model: {"loss": math.nan}
    assert again.fit().best_path is None
