"""rnnkit.training.callbacks and rnnkit.training.context: the Trainer's hooks as a user adds to
them, a callback that stops training, the named selection metric, and a run set up once."""

from __future__ import annotations

import collections
import json
import pathlib

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import rnnkit
from rnnkit.cli.main import main
from rnnkit.tasks import TASKS, run
from rnnkit.tasks.base import merge
from rnnkit.training import (
    BestMetric,
    Callback,
    ShuffledBatches,
    StepOutput,
    TrainConfig,
    Trainer,
    devices,
    distributed,
    seed_everything,
)
from rnnkit.training import context as context_module
from rnnkit.training.checkpoint import load_checkpoint


def _toy(out_dir=None, callbacks=(), best=None, **overrides) -> Trainer:
    seed_everything(0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    y = (x.sum(1) > 0).long()
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    options = {"max_steps": 6, "eval_every": 2, "save_every": 2, "warmup_steps": 0}
    options.update(out_dir=out_dir, device="cpu", progress=False, **overrides)
    source = ShuffledBatches(len(x), 8, lambda idx: (x[idx], y[idx]), seed=1)

    def loss_fn(model, batch):
        return StepOutput(F.cross_entropy(model(batch[0]), batch[1]), items=8)

    def eval_fn(model):
        logits = model(x)
        accuracy = (logits.argmax(1) == y).float().mean().item()
        return {"loss": F.cross_entropy(logits, y).item(), "accuracy": accuracy}

    return Trainer(
        model, TrainConfig(**options), source, loss_fn, eval_fn=eval_fn, task="toy",
        best=best, callbacks=callbacks, log=lambda message: None,
    )  # fmt: skip


class Recorder(Callback):
    """Records every hook it is handed, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int]] = []

    def __call__(self, trainer, event, info):
        self.seen.append((event, info.get("step", -1)))
        super().__call__(trainer, event, info)


# --------------------------------------------------------------------------- the interface
def test_a_user_callback_sees_every_hook_in_order(tmp_path):
    recorder, plain = Recorder(), []
    _toy(tmp_path, callbacks=[recorder, lambda t, e, i: plain.append(e)], max_steps=2).fit()
    assert [event for event, _ in recorder.seen] == [
        "start",
        "backward",
        "step",
        "step_end",
        "backward",
        "step",
        "eval",
        "save",  # best.pt, after the evaluation
        "step_end",
        "save",  # last.pt at save_every: after the step's evaluation
        "finish",
        "save",  # last.pt at the end
        "end",
    ]
    # a plain function gets the six events, not the hooks of Callback objects
    assert plain == [e for e, _ in recorder.seen if e not in ("step_end", "finish")]


def test_hooks_are_methods_of_a_callback(tmp_path):
    class Evals(Callback):
        def __init__(self):
            self.steps = []

        def on_eval(self, trainer, info):
            self.steps.append((info["step"], trainer.improved, trainer.best.name))

    evals = Evals()
    _toy(callbacks=[evals]).fit()
    assert [step for step, _, _ in evals.steps] == [2, 4, 6]
    assert evals.steps[0][1] is True and all(name == "loss" for _, _, name in evals.steps)


def test_a_callback_stops_training(tmp_path):
    class StopAt(Callback):
        def on_step(self, trainer, info):
            if info["step"] == 3:
                trainer.stop("enough")

    ends = []
    trainer = _toy(
        tmp_path, callbacks=[StopAt(), lambda t, e, i: ends.append(i) if e == "end" else 0]
    )
    result = trainer.fit()
    assert result.stop_reason == "enough" and result.step == 3
    assert ends == [{"step": 3, "stop_reason": "enough"}]
    assert trainer.last_eval_step == 3  # the final evaluation, as at any limit
    assert load_checkpoint(tmp_path / "last.pt")["train"]["step"] == 3
    assert result.last_path == str(tmp_path / "last.pt")


def test_a_callback_stops_rnnkit_train(tmp_path):
    found = TASKS["lm"].example(tmp_path)
    settings = merge(found.settings, {"train": {"out_dir": str(tmp_path / "run"), "max_steps": 8}})

    class StopAtTwo(Callback):
        def on_step_end(self, trainer, info):
            if info["step"] == 2:
                trainer.stop("user")

    result = rnnkit.train("lm", settings, log=lambda m: None, callbacks=[StopAtTwo()])
    assert result.train.stop_reason == "user" and result.train.step == 2


# --------------------------------------------------------------------------- the selection metric
def test_the_selection_metric_is_named_with_its_direction(tmp_path):
    result = _toy(tmp_path, best=BestMetric("accuracy", "max")).fit()
    assert (result.best_metric_name, result.best_metric_mode) == ("accuracy", "max")
    train = load_checkpoint(tmp_path / "best.pt")["train"]
    assert train["best_metric_name"] == "accuracy" and train["best_metric_mode"] == "max"
    assert train["best_metric"] == result.best_metric and "best_val_loss" not in train
    with pytest.raises(ValueError, match="expected 'min' or 'max', got 'up'"):
        BestMetric("accuracy", "up")


def test_a_checkpoint_of_rnnkit_0_1_resumes_its_best_val_loss(tmp_path):
    trainer = _toy(tmp_path, max_steps=4)
    trainer.fit()
    old = trainer.state_dict()
    value = old["train"].pop("best_metric")
    for key in ("best_metric_name", "best_metric_mode"):
        del old["train"][key]
    old["train"]["best_val_loss"] = value  # as rnnkit 0.1 wrote it
    again = _toy(tmp_path / "again")
    again.load_state_dict(old)
    assert again.best.value == value and again.best.step == trainer.best.step


# --------------------------------------------------------------------------- set up once
@pytest.fixture
def counted(monkeypatch, tmp_path):
    """Counts, for the run into tmp_path/run: validations of its train config, locks and
    creations of its directory, device resolutions and process-group joins; best.pt is never
    read back."""
    out = tmp_path / "run"
    counts = collections.Counter()

    def counting(owner, name, key, when=lambda *a, **k: True):
        original = getattr(owner, name)

        def wrapper(*args, **kwargs):
            counts[key] += bool(when(*args, **kwargs))
            return original(*args, **kwargs)

        monkeypatch.setattr(owner, name, wrapper)

    counting(TrainConfig, "validate", "validate", lambda self: self.out_dir == str(out))
    counting(context_module, "lock_out_dir", "lock")
    counting(pathlib.Path, "mkdir", "mkdir", lambda self, *a, **k: self == out)
    counting(devices, "resolve_device", "device")
    counting(distributed, "init", "process group")

    def no_reading_back(path, **kwargs):
        raise AssertionError(f"{path} was read back")

    monkeypatch.setattr(run, "load_checkpoint", no_reading_back)
    return out, counts


ONCE = {"validate": 1, "lock": 1, "mkdir": 1, "device": 1, "process group": 1}


def test_rnnkit_train_sets_a_run_up_once(tmp_path, counted):
    out, counts = counted
    found = TASKS["lm"].example(tmp_path)
    settings = merge(found.settings, {"train": {"out_dir": str(out)}})
    result = rnnkit.train("lm", settings, log=lambda m: None)
    assert dict(counts) == ONCE
    assert result.weights == f"best.pt (step {result.train.best_step:,})"  # from memory
    torch.testing.assert_close(
        result.trained.model.state_dict(),
        torch.load(out / "best.pt", weights_only=False)["model_state"],
    )


def test_rnnkit_train_on_the_command_line_sets_a_run_up_once(tmp_path, counted, capsys):
    out, counts = counted
    found = TASKS["lm"].example(tmp_path)
    settings = merge(found.settings, {"train": {"out_dir": str(out)}})
    config = tmp_path / "settings.json"
    config.write_text(json.dumps(settings), encoding="utf-8")
    assert main(["train", "lm", "--config", str(config)]) == 0
    assert dict(counts) == ONCE
    assert "the reports score best.pt (step" in capsys.readouterr().out


def test_threads_sets_torchs_cpu_threads_for_the_run():
    before = torch.get_num_threads()
    try:
        _toy(threads=1)
        assert torch.get_num_threads() == 1
        _toy()  # none: left as it is
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    with pytest.raises(rnnkit.config.ConfigError, match=r"threads: expected a value >= 1, got 0"):
        TrainConfig(threads=0)
