"""The synthetic tasks through the Python API: per-task defaults, each task trains and is learned,
resume, evaluate on the fixed test draw, predict, and sampling the sentence model."""

from __future__ import annotations

import io
import json
import math

import pytest
import torch

from rnnkit.config import ConfigError
from rnnkit.errors import RnnkitError
from rnnkit.tasks import evaluate, load, predict, resolve_config, train
from rnnkit.tasks.lm import SampleConfig, sample
from rnnkit.tasks.synthetic import RECIPES, SyntheticConfig, recipe

NAMES = ("sine", "mean-sign", "sentence", "adding", "copy")
QUIET = {"progress": False, "seed": 0}


pytestmark = pytest.mark.usefixtures("one_thread")


def _train(task: str, steps: int, out=None, **settings):
    """Train like the old tests: batch 32, warmup 10, one evaluation at the end."""
    train_settings = {
        "max_steps": steps,
        "batch_size": 32,
        "warmup_steps": 10,
        "eval_every": steps,
        "out_dir": out,
        **QUIET,
    }
    train_settings.update(settings.pop("train", {}))
    model = settings.pop("model", {})
    config = {
        "data": {"task": task, "n_val": 128, "n_test": 500, **settings},
        "model": model,
        "train": train_settings,
    }
    return train("synthetic", config, log=lambda message: None)


def _flat(rows):
    return {
        (metric, column): value
        for metric, values in rows.items()
        for column, value in values.items()
    }


@pytest.fixture(scope="module")
def sine_run():
    return _train("sine", 600, train={"lr": 3e-2})  # the tutorial's 6-unit tanh RNN


@pytest.fixture(scope="module")
def sentence_run():
    return _train("sentence", 150)


# ---------------------------------------------------------------------------- configs
def test_each_task_has_its_own_defaults():
    assert SyntheticConfig().to_dict() == recipe("sine")
    for name in NAMES:
        config = resolve_config("synthetic", {"data": {"task": name}})[0]
        assert config.train.out_dir == f"runs/{name}"
        for section in ("data", "model", "train"):
            chosen = RECIPES[name][section]
            assert {k: getattr(getattr(config, section), k) for k in chosen} == chosen
    assert (
        resolve_config("synthetic", {"data": {"task": "mean-sign"}})[0].train.out_dir
        == "runs/mean-sign"
    )
    config = resolve_config(
        "synthetic", {"data": {"task": "adding"}, "model": {"hidden_size": 8}, "train": {"lr": 0.5}}
    )[0]
    assert (config.data.seq_len, config.model.cell, config.model.hidden_size) == (50, "gru", 8)
    assert (config.train.lr, config.train.max_steps) == (0.5, 1000)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (
            {"data": {"task": "adding", "seq_len": 1}},
            "data.seq_len: the adding problem needs seq_len >= 2, got 1",
        ),
        (
            {"data": {"task": "copy"}, "model": {"hidden_size": 0}},
            "model.hidden_size: expected a value >= 1, got 0",
        ),
        ({"data": {"task": "sinus"}}, "data.task: expected one of sine, mean-sign, sentence"),
        ({"data": {"task": "sine", "n_tests": 3}}, "data.n_tests: unknown key"),
    ],
)
def test_bad_settings(given, expected):
    with pytest.raises(ConfigError) as error:
        resolve_config("synthetic", given)
    assert expected in str(error.value)


def test_mean_sign_model_has_13314_parameters():
    run = _train("mean-sign", 1, train={"batch_size": 4}, n_val=4, n_test=4)
    config = run.trained.model.config
    assert (config.cell, config.num_layers, config.hidden_size, config.input_size) == (
        "rnn",
        2,
        64,
        10,
    )
    assert sum(p.numel() for p in run.trained.model.parameters()) == 13_314


# ---------------------------------------------------------------------------- training
@pytest.mark.parametrize("name", NAMES)
def test_each_task_trains_with_its_defaults_and_writes_a_run(tmp_path, name):
    out = tmp_path / "runs" / name
    run = train(
        "synthetic",
        {
            "data": {"task": name, "n_val": 16, "n_test": 16},
            "train": {"max_steps": 5, "out_dir": str(out), **QUIET},
        },
        log=lambda message: None,
    )
    assert run.train.step == 5 and run.weights.startswith("best.pt")
    assert {"best.pt", "last.pt", "config.json"} <= {p.name for p in out.iterdir()}
    assert json.loads((out / "config.json").read_text())["data"]["task"] == name
    [report] = run.reports
    metric = next(iter(report.rows))
    assert report.goals[metric].endswith(("(reached)", "(not reached)"))
    if name != "sentence":
        assert report.title.startswith(f"{name}: 16 test sequences")
        assert len(report.rows[metric]) == 2  # the model beside its baseline
    again = evaluate(load(out))  # the same test draw, the same best weights
    assert _flat(again[0].rows) == pytest.approx(_flat(report.rows))


def test_sine_is_learned(sine_run):
    report = sine_run.reports[0]
    metric = "MSE (steps 2..L, unseen phases)"
    assert report.rows[metric]["persistence"] > 0.07
    assert report.rows[metric]["model"] < 2e-3, report.format()
    assert report.goals[metric] == (
        "< 0.001 (reached)" if report.rows[metric]["model"] < 1e-3 else "< 0.001 (not reached)"
    )
    assert set(report.rows) == {metric, "MSE (all steps)"}
    assert report.title == "sine: 500 test sequences (data seed 0)"


def test_mean_sign_is_learned():
    report = _train(
        "mean-sign", 200, train={"lr": 3e-3}, model={"hidden_size": 16, "num_layers": 1}
    ).reports[0]
    assert report.rows["accuracy"]["model"] > 0.85, report.format()  # the majority is ~0.5
    assert 0.45 < report.rows["accuracy"]["majority class"] < 0.6 and "loss" in report.rows


def test_adding_is_learned_on_short_sequences():
    report = _train("adding", 200, seq_len=10, model={"hidden_size": 32}).reports[0]
    assert report.rows["MSE"]["always 1"] > 0.12
    assert report.rows["MSE"]["model"] < 0.05, report.format()


def test_copy_is_learned_on_short_delays():
    report = _train(
        "copy",
        200,
        seq_len=5,
        n_copy=3,
        n_symbols=4,
        train={"lr": 3e-2},
        model={"hidden_size": 32, "cell": "gru"},
    ).reports[0]
    rows = report.rows["accuracy on copied symbols"]
    assert rows["chance"] == 0.25 and rows["model"] > 0.9, report.format()


def test_sentence_completion_is_learned(sentence_run):
    report = sentence_run.reports[0]
    assert report.rows["completions right"]["model"] == 1.0, report.format()
    assert report.goals == {"completions right": ">= 1 (reached)"}
    assert "'hello' -> ' how are you'" in report.details


def test_same_seed_same_result():
    first = _train("adding", 30, seq_len=8, model={"hidden_size": 8}).reports[0]
    second = _train("adding", 30, seq_len=8, model={"hidden_size": 8}).reports[0]
    assert first.rows == second.rows


def test_resume_continues_exactly(tmp_path):
    settings = {
        "data": {
            "task": "copy",
            "seq_len": 4,
            "n_copy": 2,
            "n_symbols": 3,
            "n_val": 8,
            "n_test": 8,
        },
        "model": {"hidden_size": 8},
        "train": {"max_steps": 6, "eval_every": 3, "save_every": 3, **QUIET},
    }
    whole = train(
        "synthetic",
        {**settings, "train": {**settings["train"], "out_dir": str(tmp_path / "whole")}},
        log=lambda message: None,
    )

    def stop_at_3(trainer, event, info):
        if event == "step" and trainer.step == 3:
            trainer.request_stop()

    out = str(tmp_path / "cut")
    with pytest.raises(KeyboardInterrupt):
        train(
            "synthetic",
            {**settings, "train": {**settings["train"], "out_dir": out}},
            log=lambda message: None,
            callbacks=[stop_at_3],
        )
    resumed = train("synthetic", None, resume=out, log=lambda message: None)
    assert resumed.train.step == 6
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=False)["model_state"]
    b = torch.load(tmp_path / "cut" / "last.pt", weights_only=False)["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert resumed.reports[0].rows == whole.reports[0].rows


# ---------------------------------------------------------------------------- evaluate
def test_evaluate_scores_the_test_draw_in_batches(sine_run):
    trained = sine_run.trained
    whole = evaluate(trained)[0]
    assert _flat(whole.rows) == pytest.approx(_flat(sine_run.reports[0].rows))
    assert _flat(evaluate(trained, batch_size=7)[0].rows) == pytest.approx(_flat(whole.rows))
    with pytest.raises(RnnkitError, match="evaluated on a fresh draw of its own data"):
        evaluate(trained, "mine.csv")


# ---------------------------------------------------------------------------- predict
def test_predict_sine_from_a_file_stdin_and_lists(sine_run, tmp_path, monkeypatch):
    trained = sine_run.trained
    source = tmp_path / "in.jsonl"
    wave = [round(math.sin(0.3 + 0.4 * t), 4) for t in range(10)]
    source.write_text(f"{json.dumps(wave)}\n\n[0.5]\n")
    records = predict(trained, str(source))
    assert [r["line"] for r in records] == [1, 2, 3]
    assert records[1] == {"line": 2, "next": None, "skipped": "empty input"}
    assert isinstance(records[0]["next"], float)
    assert records[0]["next"] == round(records[0]["next"], 6)
    assert abs(records[0]["next"] - math.sin(0.3 + 4.0)) < 0.05, records  # the wave goes on
    assert predict(trained, [wave, [], [0.5]]) == records
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(wave) + "\n"))
    assert predict(trained, "-") == records[:1]
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[0.1, 0.2]\nhello\n")
    with pytest.raises(RnnkitError, match=f"{bad} line 2: expected a JSON array, got 'hello'"):
        predict(trained, str(bad))
    with pytest.raises(RnnkitError, match=r"input 1: expected \[x1, x2, ...\] for the sine task"):
        predict(trained, [[[0.1], [0.2]]])


def test_predict_each_task_and_its_record(tmp_path):
    cases = [
        ("mean-sign", {}, [[0.5] * 10] * 4, "[[1, 2]]", r"\[\[10 numbers\], ...\]"),
        (
            "adding",
            {},
            [[0.2, 1], [0.3, 0], [0.4, 1]],
            "[0.2, 0.3]",
            r"\[\[number, marker\], ...\]",
        ),
        (
            "copy",
            {"seq_len": 5, "n_copy": 2, "n_symbols": 3},
            [1, 2, 0, 0, 0, 4, 0, 0],
            "[1, 9]",
            r"\[symbol, ...\] of symbols 0..4",
        ),
    ]
    for name, data, good, bad, expected in cases:
        run = _train(
            name, 2, train={"batch_size": 4}, model={"hidden_size": 8}, n_val=4, n_test=4, **data
        )
        [record] = predict(run.trained, [good])
        if name == "mean-sign":
            assert record["label"] in (0, 1) and set(record["probabilities"]) == {"0", "1"}
            assert sum(record["probabilities"].values()) == pytest.approx(1, abs=1e-5)
            assert record["label"] == int(
                max(record["probabilities"], key=record["probabilities"].get)
            )
        elif name == "adding":
            assert isinstance(record["sum"], float)
        else:
            assert len(record["output"]) == 8 and all(0 <= s <= 3 for s in record["output"])
        with pytest.raises(RnnkitError, match=f"input 1: expected {expected} for the {name} task"):
            predict(run.trained, [bad])


def test_predict_and_sample_the_sentence_model(sentence_run):
    trained = sentence_run.trained
    records = predict(trained, ["hello", "  ", "i am"])
    assert records[0] == {"line": 1, "prompt": "hello", "completion": " how are you"}
    assert records[1]["skipped"] == "empty input" and records[2]["completion"] == " fine"
    with pytest.raises(RnnkitError, match=r"input 1: the sentence model knows only the characters"):
        predict(trained, ["hello!"])
    [text] = sample(trained, SampleConfig(prompt="hello", greedy=True, length=12))
    assert text.startswith("hello") and len(text) == 17


def test_only_the_sentence_model_is_a_language_model(sine_run):
    with pytest.raises(RnnkitError, match="sampling needs a character language model"):
        sample(sine_run.trained, SampleConfig(prompt="x", length=3))


def test_predict_refuses_deeply_nested_and_non_finite_input(sine_run, tmp_path):
    """Found by fuzzing: a line of 100,000 '[' escaped as RecursionError; NaN (JSON reads it)
    and 1e309 came out as a NaN prediction, written as invalid JSON."""
    trained = sine_run.trained
    deep = tmp_path / "deep.jsonl"
    deep.write_text("[" * 100_000 + "\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match=f"{deep} line 1: expected a JSON array, got '"):
        predict(trained, str(deep))
    for line in ("[0.1, NaN]", "[1e309, 0.2]", "[-Infinity]"):
        with pytest.raises(RnnkitError, match="input 1: expected finite numbers, got NaN"):
            predict(trained, [line])
    with pytest.raises(RnnkitError, match="input 2: expected finite numbers"):
        predict(trained, [[0.1], [float("inf")]])


def test_a_task_name_that_is_not_a_string_is_a_config_error():
    """Found by fuzzing: ``task = []`` in a config file escaped as TypeError (unhashable type)
    while choosing the task's defaults."""
    for name in ([], {}, ["sine"]):
        with pytest.raises(ConfigError, match="data.task: expected a str, got"):
            resolve_config("synthetic", {"data": {"task": name}})
