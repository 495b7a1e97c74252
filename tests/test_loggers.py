"""rnnkit.training.loggers: the Trainer's events, the same for every task, and the jsonl, csv and
TensorBoard loggers (``--logger``)."""

from __future__ import annotations

import csv
import importlib
import json
import math

import pytest
import torch
from cli_helpers import quiet, run
from torch import nn
from torch.nn import functional as F

import rnnkit.tasks
from rnnkit.config import ConfigError
from rnnkit.data.batching import ShuffledBatches
from rnnkit.tasks import TASKS
from rnnkit.tasks.base import merge
from rnnkit.training.checkpoint import load_checkpoint, save_checkpoint
from rnnkit.training.loggers import CSV_FIRST, markdown_verbatim
from rnnkit.training.rng import seed_everything
from rnnkit.training.settings import StepOutput, TrainConfig
from rnnkit.training.trainer import Trainer

SHORT = {"max_steps": 2, "eval_every": 2, "save_every": 2, "device": "cpu", "progress": False}


def _jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def _csv(path):
    with open(path, encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        return reader.fieldnames, list(reader)


def _toy_trainer(out_dir, callbacks=(), **overrides):
    """A two-layer classifier on 64 random points: 30 steps, evaluated and saved every 10."""
    seed_everything(0)
    x = torch.randn(64, 4, generator=torch.Generator().manual_seed(0))
    y = (x.sum(1) > 0).long()
    model = nn.Sequential(nn.Linear(4, 16), nn.Tanh(), nn.Linear(16, 2))
    options = {**SHORT, "max_steps": 30, "eval_every": 10, "save_every": 10, "lr": 1e-2}
    config = TrainConfig(**{**options, "out_dir": out_dir and str(out_dir), **overrides})
    source = ShuffledBatches(len(x), 8, lambda idx: (x[idx], y[idx]), seed=1)

    def loss_fn(model, batch):
        return StepOutput(F.cross_entropy(model(batch[0]), batch[1]), items=len(batch[1]))

    def eval_fn(model):
        return {"loss": F.cross_entropy(model(x), y).item()}

    return Trainer(model, config, source, loss_fn, eval_fn=eval_fn, log=quiet, callbacks=callbacks)


# --------------------------------------------------------------------------- events
@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_sends_the_same_events(name, tmp_path):
    found = TASKS[name].example(tmp_path)
    out = tmp_path / "run"
    settings = merge(found.settings, {"train": {**SHORT, "out_dir": str(out)}})
    events = []
    rnnkit.tasks.train(name, settings, log=quiet, callbacks=[lambda t, e, i: events.append((e, i))])
    kinds = [event for event, _ in events]
    assert kinds == [
        "start",
        *("backward", "step") * 2,
        "eval",
        "save",  # best.pt: the first evaluation is always the best so far
        "save",  # last.pt at save_every
        "save",  # last.pt at the end
        "end",
    ]
    info = dict(events)
    assert info["start"] == {"step": 0, "resumed": False}
    assert [i["name"] for e, i in events if e == "save"] == ["best.pt", "last.pt", "last.pt"]
    assert "val_loss" in info["eval"] and info["eval"]["step"] == 2
    assert info["end"] == {"step": 2, "stop_reason": "max_steps"}
    # the loggers run first: what a callback is handed is already in metrics.jsonl
    records = [i for e, i in events if e in ("step", "eval")]
    assert _jsonl(out / "metrics.jsonl") == json.loads(json.dumps(records))


# --------------------------------------------------------------------------- csv
def test_csv_holds_the_jsonl_records(tmp_path):
    _toy_trainer(tmp_path, logger=["jsonl", "csv"]).fit()
    records = _jsonl(tmp_path / "metrics.jsonl")
    header, rows = _csv(tmp_path / "metrics.csv")
    keys = {key for record in records for key in record} | {"event"}
    assert header == [*CSV_FIRST, *sorted(keys - set(CSV_FIRST))]
    assert len(rows) == len(records) == 30 + 3
    for row, record in zip(rows, records):
        assert row["event"] == record.get("event", "step")
        for key in header:
            if key == "event":
                continue
            if key not in record or record[key] is None:
                assert row[key] == "", key
            elif isinstance(record[key], float):
                assert float(row[key]) == record[key], key  # exactly: floats round-trip
            else:
                assert row[key] == str(record[key]), key


def test_csv_resume_keeps_the_rows_up_to_the_checkpoint(tmp_path):
    full = tmp_path / "full"
    _toy_trainer(full, logger=["csv"]).fit()
    assert not (full / "metrics.jsonl").exists()

    # interrupted at step 17, then resumed from the checkpoint of step 10: rows 11-17 go
    part, saved = tmp_path / "part", {}

    def stop_at_17(trainer, event, info):
        if event == "save" and info["step"] == 10 and info["name"] == "last.pt":
            saved["ckpt"] = load_checkpoint(info["path"])
        if event == "step" and info["step"] == 17:
            trainer.request_stop()

    with pytest.raises(KeyboardInterrupt):
        _toy_trainer(part, callbacks=[stop_at_17], logger=["csv"]).fit()
    _, rows = _csv(part / "metrics.csv")
    assert [int(r["step"]) for r in rows if r["event"] == "step"] == list(range(1, 18))
    _toy_trainer(part, logger=["csv"]).fit(resume=saved["ckpt"])

    header, rows = _csv(part / "metrics.csv")
    header_full, rows_full = _csv(full / "metrics.csv")
    assert header == header_full
    assert [(r["step"], r["event"]) for r in rows] == [(r["step"], r["event"]) for r in rows_full]
    for row, row_full in zip(rows, rows_full):  # the same numbers: exact resume
        assert {**row, "time": ""} == {**row_full, "time": ""}


def test_without_an_output_directory_no_logger_writes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = _toy_trainer(None, logger=["jsonl", "csv", "tensorboard"]).fit()
    assert result.step == 30
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- tensorboard
def test_tensorboard_logs_scalars_histograms_hparams_and_text(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import (
        STORE_EVERYTHING_SIZE_GUIDANCE,
        EventAccumulator,
    )
    from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

    found = TASKS["lm"].example(tmp_path)
    config = tmp_path / "example.json"
    config.write_text(json.dumps(found.settings))
    out, plain = tmp_path / "run", tmp_path / "plain"
    code, printed, err = run(
        capsys, "train", "lm", "--config", config, "--out", out, "--logger", "jsonl,tensorboard"
    )
    assert code == 0, err
    assert "tensorboard" in printed.splitlines()[-1]  # "saved in OUT: ..., tensorboard"
    assert run(capsys, "train", "lm", "--config", config, "--out", plain)[0] == 0

    events = EventAccumulator(
        str(out / "tensorboard"), size_guidance=STORE_EVERYTHING_SIZE_GUIDANCE
    )
    events.Reload()
    records = _jsonl(out / "metrics.jsonl")
    steps = {r["step"]: r for r in records if "event" not in r}
    evals = {r["step"]: r for r in records if r.get("event") == "eval"}
    assert sorted(steps) == [1, 2, 3, 4] and sorted(evals) == [2, 4]
    # logging to TensorBoard (histograms, text samples) leaves training as it was
    assert [r["loss"] for r in _jsonl(plain / "metrics.jsonl") if "event" not in r] == [
        steps[s]["loss"] for s in sorted(steps)
    ]

    loss = events.Scalars("train/loss")
    assert [e.step for e in loss] == [1, 2, 3, 4]
    for event in loss:
        assert abs(event.value - steps[event.step]["loss"]) <= 1e-6
    assert [e.step for e in events.Scalars("train/lr")] == [1, 2, 3, 4]
    val = {e.step: e.value for e in events.Scalars("val/loss")}
    assert sorted(val) == [2, 4]
    assert all(abs(val[s] - evals[s]["val_loss"]) <= 1e-6 for s in val)
    assert [e.step for e in events.Scalars("val/bpc")] == [2, 4]

    tags = events.Tags()
    weights = [t for t in tags["histograms"] if t.startswith("weights/")]
    gradients = [t for t in tags["histograms"] if t.startswith("gradients/")]
    names = {name for name, _ in rnnkit.tasks.load(out / "last.pt", "cpu").model.named_parameters()}
    assert {t.removeprefix("weights/") for t in weights} == names
    assert {t.removeprefix("gradients/") for t in gradients} == names
    # the first evaluation (step 2) and the last (step 4)
    assert [h.step for h in events.Histograms(gradients[0])] == [2, 4]

    content = events.PluginTagToContent("hparams")
    start = HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["model.hidden_size"].number_value == 16
    assert hparams["train.logger"].string_value == "jsonl,tensorboard"
    assert hparams["data.train"].string_value == found.settings["data"]["text"]  # its older name
    experiment = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    metrics = {info.name.tag for info in experiment.metric_infos}
    assert {"val/loss", "val/bpc", "best/val_loss"} <= metrics

    texts = events.Tensors("sample/text_summary")
    assert [t.step for t in texts] == [2, 4]
    last = texts[-1].tensor_proto.string_val[0].decode("utf-8")
    trained = rnnkit.tasks.load(out / "last.pt", "cpu")
    sample = TASKS["lm"].text_sample(trained)
    assert len(sample) >= 300 and last == markdown_verbatim(sample)


def test_tensorboard_resume_hides_the_steps_after_the_checkpoint(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import (
        STORE_EVERYTHING_SIZE_GUIDANCE,
        EventAccumulator,
    )

    saved = {}

    def keep_step_10(trainer, event, info):
        if event == "save" and info["step"] == 10 and info["name"] == "last.pt":
            saved["ckpt"] = load_checkpoint(info["path"])

    _toy_trainer(tmp_path, callbacks=[keep_step_10], logger=["tensorboard"]).fit()
    _toy_trainer(tmp_path, logger=["tensorboard"]).fit(resume=saved["ckpt"])
    events = EventAccumulator(
        str(tmp_path / "tensorboard"), size_guidance=STORE_EVERYTHING_SIZE_GUIDANCE
    )
    events.Reload()
    assert [e.step for e in events.Scalars("train/loss")] == list(range(1, 31))
    assert [e.step for e in events.Scalars("val/loss")] == [10, 20, 30]
    # histograms at the first evaluation, every second after it, and the last
    assert [e.step for e in events.Histograms("gradients/0.weight")] == [10, 30]


def test_tensorboard_missing_is_one_line_naming_the_extra(tmp_path, capsys, monkeypatch):
    real = importlib.import_module

    def without_tensorboard(name, *args):
        if name.startswith(("tensorboard", "torch.utils.tensorboard")):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", without_tensorboard)
    found = TASKS["lm"].example(tmp_path)
    config = tmp_path / "example.json"
    config.write_text(json.dumps(found.settings))
    out = tmp_path / "run"
    code, _, err = run(
        capsys, "train", "lm", "--config", config, "--out", out, "--logger", "tensorboard"
    )
    assert code == 2
    assert err.startswith("rnnkit: error: --logger tensorboard needs tensorboard, which is not")
    assert 'pip install "rnnkit[tensorboard]"' in err and err.count("\n") == 1
    assert not (out / "last.pt").exists()


# --------------------------------------------------------------------------- the setting
def test_bad_logger_values_are_one_line_naming_the_option(capsys):
    code, _, err = run(capsys, "train", "lm", "--logger", "foo", "--print-config")
    assert code == 2
    assert err == (
        "rnnkit: error: --logger: expected a comma-separated list of jsonl, csv, tensorboard "
        "(each at most once), got 'foo'\n"
    )
    code, _, err = run(capsys, "train", "lm", "--logger", "csv,csv", "--print-config")
    assert code == 2 and err.endswith("got 'csv,csv'\n")
    code, _, err = run(capsys, "train", "lm", "--logger", "", "--print-config")
    assert code == 2 and err.count("\n") == 1
    assert "--logger: expected one or more comma-separated values, got ''" in err
    code, printed, _ = run(capsys, "train", "lm", "--logger", "csv,tensorboard", "--print-config")
    assert code == 0 and 'logger = ["csv", "tensorboard"]' in printed


def test_the_logger_setting_in_python():
    assert TrainConfig().logger == ["jsonl"]
    assert TrainConfig(logger="csv, jsonl").logger == ["csv", "jsonl"]
    with pytest.raises(ConfigError, match=r"^logger: expected .* got ''$"):
        TrainConfig(logger=[])
    with pytest.raises(ConfigError, match="got 'jsonl,txt'"):
        TrainConfig(logger=["jsonl", "txt"])


def test_an_old_checkpoint_without_logger_resumes(tmp_path, capsys):
    found = TASKS["lm"].example(tmp_path)
    config = tmp_path / "example.json"
    config.write_text(json.dumps(found.settings))
    out = tmp_path / "run"
    assert run(capsys, "train", "lm", "--config", config, "--out", out, "--steps", 2)[0] == 0
    old = load_checkpoint(out / "last.pt")
    del old["train"]["config"]["logger"], old["task_state"]["config"]["train"]["logger"]
    save_checkpoint(out / "last.pt", {k: v for k, v in old.items() if k != "path"})

    assert TrainConfig.from_dict(old["train"]["config"]).logger == ["jsonl"]
    code, _, err = run(capsys, "train", "lm", "--resume", out, "--steps", 4)
    assert code == 0, err
    last = load_checkpoint(out / "last.pt")
    assert last["train"]["step"] == 4
    assert last["task_state"]["config"]["train"]["logger"] == ["jsonl"]
    steps = [r["step"] for r in _jsonl(out / "metrics.jsonl") if "event" not in r]
    assert steps == [1, 2, 3, 4] and all(math.isfinite(s) for s in steps)
