"""The ``lm`` task through the Python API (train, load, evaluate, sample), and the commands that use
a language model (``rnnkit sample``, ``evaluate``, ``demo``) in-process through ``main(argv)``.

What every task does (run files, config.json, resume, device, batch size, a bad data file through
the command line) is tested once for all tasks in test_task_contract.py.
"""

from __future__ import annotations

import math
import os
import re
import sys

import pytest
import torch
from cli_helpers import assert_one_line_error, quiet, run

import rnnkit
from rnnkit.cli import main
from rnnkit.config import ConfigError
from rnnkit.errors import RnnkitError
from rnnkit.tasks.lm import SampleConfig, sample
from rnnkit.training.checkpoint import FORMAT_VERSION, load_checkpoint, save_checkpoint

SENTENCES = ["hello how are you", "i am fine", "how are you doing", "the cat sat on the mat"]
SMALL = {
    "model": {"embedding_size": 16, "hidden_size": 32},
    "train": {
        "batch_size": 4,
        "eval_every": 10,
        "save_every": 10,
        "device": "cpu",
        "progress": False,
    },
}


pytestmark = pytest.mark.usefixtures("one_thread")


def _settings(text, steps: int, out_dir=None, **data) -> dict:
    return {
        "data": {"text": str(text), "seq_len": 16, **data},
        "model": dict(SMALL["model"]),
        "train": {
            **SMALL["train"],
            "max_steps": steps,
            "out_dir": None if out_dir is None else str(out_dir),
        },
    }


def _files(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "corpus.txt"
    path.write_text("\n".join(SENTENCES * 40) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus):
    """A run directory of a tiny language model (30 steps)."""
    out = tmp_path_factory.mktemp("runs") / "lm"
    rnnkit.train("lm", _settings(corpus, 30, out), log=quiet)
    return out


# --------------------------------------------------------------------------- the report
def test_report_rows_and_baselines_equal_a_hand_computation(tmp_path):
    # 16 training characters, then 4 validation characters ("acab": 'c' never occurs in training)
    train_text, val_text = "abaababbabaabbab", "acab"
    path = tmp_path / "tiny.txt"
    path.write_text(train_text + val_text, encoding="utf-8")
    settings = _settings(path, 2, val_fraction=0.2, seq_len=2)
    settings["train"]["batch_size"] = 1
    result = rnnkit.train("lm", settings, log=quiet)
    (report,) = result.reports
    assert report.title == "validation: the last 4 characters of tiny.txt"
    assert list(report.rows) == ["loss (nats/char)", "bits/char", "perplexity"]
    assert report.columns == ["model", "unigram", "bigram"]
    # Vocabulary <unk>, a, b, c (V = 4). The training text has 15 (character, next) pairs:
    # next characters: a 7, b 8, c 0, <unk> 0; add-one: p(a) = 8/19, p(b) = 9/19, p(c) = 1/19.
    # Pairs from 'a': 8 in all, 6 of them 'ab'; pairs from 'c': none.
    # Validation predictions: a->c, c->a, a->b.
    unigram = -(math.log(1 / 19) + math.log(8 / 19) + math.log(9 / 19)) / 3
    # Dirichlet smoothing towards the unigram: (n(x, y) + p(y)) / (n(x) + 1)
    bigram = (
        -(
            math.log((0 + 1 / 19) / (8 + 1))
            + math.log((0 + 8 / 19) / (0 + 1))
            + math.log((6 + 9 / 19) / (8 + 1))
        )
        / 3
    )
    nats = report.rows["loss (nats/char)"]
    assert nats["unigram"] == pytest.approx(unigram, rel=1e-9)
    assert nats["bigram"] == pytest.approx(bigram, rel=1e-9)
    for column in ("model", "unigram", "bigram"):
        assert report.rows["bits/char"][column] == pytest.approx(nats[column] / math.log(2))
        assert report.rows["perplexity"][column] == pytest.approx(math.exp(nats[column]))
    # evaluating on the same text gives the same figures
    (again,) = rnnkit.evaluate(result.trained, [val_text])
    assert list(again.rows) == list(report.rows)
    for row in report.rows:
        assert again.rows[row] == pytest.approx(report.rows[row], rel=1e-6)
    assert again.title == "3 characters of the given text"


def test_validation_during_training_reads_a_prefix_and_the_report_reads_all(corpus, tmp_path):
    logs: list[str] = []
    result = rnnkit.train(
        "lm", _settings(corpus, 20, tmp_path / "run", eval_chars=50), log=logs.append
    )
    text = corpus.read_text(encoding="utf-8")
    val_text = text[len(text) - round(len(text) * 0.1) :]
    total = len(val_text)
    assert (
        f"validating every 10 steps on the first 50 of {total:,} validation characters; the "
        "final report reads all of them"
    ) in logs
    (report,) = result.reports
    assert report.title == f"validation: the last {total:,} characters of corpus.txt"
    # the logged validation loss at the best step is the loss on the first 50 characters ...
    best_step = int(re.fullmatch(r"best\.pt \(step (\d+)\)", result.weights).group(1))
    (line,) = [m for m in logs if m.startswith(f"step {best_step}: validation")]
    logged = float(re.search(r"validation loss (\S+)", line).group(1))
    (prefix,) = rnnkit.evaluate(result.trained, [val_text[:50]])
    assert prefix.rows["loss (nats/char)"]["model"] == pytest.approx(logged, abs=6e-5)
    # ... and the final report's is the loss on all of them
    (whole,) = rnnkit.evaluate(result.trained, [val_text])
    assert report.rows["loss (nats/char)"]["model"] == pytest.approx(
        whole.rows["loss (nats/char)"]["model"], rel=1e-6
    )
    assert report.rows["loss (nats/char)"]["model"] != pytest.approx(logged, abs=1e-3)


# --------------------------------------------------------------------------- sample (API)
def test_sample_prompt_seed_and_options(trained):
    model = rnnkit.load(trained, "cpu")
    first = sample(model, SampleConfig(prompt="how", length=40, seed=3))
    assert len(first) == 1 and first[0].startswith("how") and len(first[0]) == 43
    assert sample(model, SampleConfig(prompt="how", length=40, seed=3)) == first
    several = sample(
        model,
        SampleConfig(
            prompt="i", num_samples=3, seed=1, top_k=5, top_p=0.9, temperature=0.5, length=30
        ),
    )
    assert len(several) == 3 and all(t.startswith("i") and len(t) == 31 for t in several)
    (greedy,) = sample(model, SampleConfig(greedy=True, length=25, stop="\n"))
    assert len(greedy) <= 25 and "\n" not in greedy  # the stop string is not written


def test_sample_unknown_prompt_characters_warn_once(trained):
    model = rnnkit.load(trained, "cpu")
    warnings: list[str] = []
    (text,) = sample(model, SampleConfig(prompt="héllo ☃", length=10, seed=0), warn=warnings.append)
    assert text.startswith("héllo ☃") and len(text) == len("héllo ☃") + 10
    assert warnings == [
        (
            "warning: 2 character(s) of the prompt are not in the model's vocabulary "
            "and are read as <unk>: 'é', '☃'"
        )
    ]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"temperature": 0}, "temperature: expected a value > 0, got 0.0"),
        ({"temperature": -1}, "temperature: expected a value > 0, got -1.0"),
        ({"top_p": 0.0}, "top_p: expected a value in (0, 1], got 0.0"),
        ({"top_p": 1.5}, "top_p: expected a value in (0, 1], got 1.5"),
        ({"top_k": 0}, "top_k: expected a value >= 1, got 0"),
        ({"length": -5}, "length: expected a value >= 0, got -5"),
        ({"num_samples": 0}, "num_samples: expected a value >= 1, got 0"),
        ({"temperature": "hot"}, "temperature: expected a float, got 'hot' (str)"),
    ],
)
def test_sample_config_refuses_bad_options(settings, message):
    with pytest.raises(ConfigError) as error:
        SampleConfig.from_dict(settings)
    assert str(error.value) == message


# --------------------------------------------------------------------------- sample (CLI)
def test_sample_command_honours_prompt_seed_and_options(trained, capsys):
    expected = sample(rnnkit.load(trained, "cpu"), SampleConfig(prompt="how", length=40, seed=3))
    code, out1, err = run(
        capsys, "sample", trained, "--prompt", "how", "--length", 40, "--seed", 3, "--device", "cpu"
    )
    assert code == 0 and err == ""
    assert out1 == expected[0] + "\n"
    assert run(capsys, "sample", trained, "--prompt", "how", "--length", 40, "--seed", 3)[1] == out1
    code, out, _ = run(
        capsys,
        "sample",
        trained,
        "--prompt",
        "i",
        "--num-samples",
        3,
        "--seed",
        1,
        "--top-k",
        5,
        "--top-p",
        0.9,
        "--temperature",
        0.5,
        "--length",
        30,
    )
    assert code == 0 and out.count("-" * 40 + "\n") == 2
    assert [len(t) for t in out.split("\n" + "-" * 40 + "\n")] == [31, 31, 32]  # last: + "\n"
    code, out, _ = run(
        capsys, "sample", trained / "best.pt", "--greedy", "--length", 25, "--stop", "\n"
    )
    assert code == 0 and len(out) <= 26 and out.count("\n") == 1


def test_sample_command_prompt_file_and_unknown_characters_warn_once(trained, tmp_path, capsys):
    prompt = tmp_path / "p.txt"
    prompt.write_text("the cat ☃", encoding="utf-8")
    code, out, err = run(capsys, "sample", trained, "--prompt-file", prompt, "--device", "cpu")
    assert code == 0 and out.startswith("the cat ☃")
    assert err == (
        "warning: 1 character(s) of the prompt are not in the model's vocabulary and "
        "are read as <unk>: '☃'\n"
    )


def test_sample_command_refuses_prompt_and_prompt_file_together(trained, tmp_path, capsys):
    prompt = tmp_path / "p.txt"
    prompt.write_text("the cat", encoding="utf-8")
    code, out, err = run(capsys, "sample", trained, "--prompt", "a", "--prompt-file", prompt)
    assert_one_line_error(code, err, "give the prompt as text or as a file, not both")
    assert out == ""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--temperature", "0"], "--temperature: expected a value > 0, got 0.0"),
        (["--temperature", "-1"], "--temperature: expected a value > 0, got -1.0"),
        (["--top-p", "0"], "--top-p: expected a value in (0, 1], got 0.0"),
        (["--top-p", "1.5"], "--top-p: expected a value in (0, 1], got 1.5"),
        (["--top-k", "0"], "--top-k: expected a value >= 1, got 0"),
        (["--length", "-5"], "--length: expected a value >= 0, got -5"),
        (["--num-samples", "0"], "--num-samples: expected a value >= 1, got 0"),
    ],
)
def test_sample_command_bad_options(trained, capsys, options, message):
    code, out, err = run(capsys, "sample", trained, *options)
    assert_one_line_error(code, err, message)
    assert out == ""


def test_sample_command_malformed_number_is_a_usage_error(trained, capsys):
    code, out, err = run(capsys, "sample", trained, "--top-k", "x")
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == (
        "rnnkit sample: error: argument --top-k: expected an integer, got 'x'"
    )


def test_sample_into_a_closed_pipe_endsquietly(trained, capsys, monkeypatch):
    """``rnnkit sample RUN | head -1``: the reader goes away; exit 141 and nothing on stderr."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    pipe = os.fdopen(write_end, "w", encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", pipe)
    try:
        code = main(["sample", str(trained), "--device", "cpu"])
    finally:
        monkeypatch.undo()
        pipe.close()  # its descriptor now points to /dev/null: closing writes nowhere
    assert code == 141
    assert capsys.readouterr().err == ""


# --------------------------------------------------------------------------- evaluate
def test_evaluate_command_data_and_its_text_alias(trained, corpus, capsys):
    code, out, err = run(capsys, "evaluate", trained, "--data", corpus, "--device", "cpu")
    assert code == 0 and err == ""
    (report,) = rnnkit.evaluate(rnnkit.load(trained, "cpu"), str(corpus))
    assert out == report.format() + "\n"
    assert report.title == f"{len(corpus.read_text(encoding='utf-8')) - 1:,} characters of {corpus}"
    for row in ("loss (nats/char)", "bits/char", "perplexity"):
        assert row in out
    code, alias, _ = run(capsys, "evaluate", trained, "--text", corpus, "--device", "cpu")
    assert code == 0 and alias == out


def test_evaluate_command_missing_data_checkpoint_or_file(trained, tmp_path, capsys):
    code, _, err = run(capsys, "evaluate", trained)
    assert_one_line_error(code, err, "--data: evaluating a 'lm' model needs data to evaluate on")
    code, _, err = run(capsys, "evaluate", tmp_path / "nothing", "--data", "x")
    assert_one_line_error(code, err, f"checkpoint not found: {tmp_path / 'nothing'}")
    code, _, err = run(capsys, "evaluate", trained, "--data", tmp_path / "missing.txt")
    assert_one_line_error(code, err, f"text file not found: {tmp_path / 'missing.txt'}")
    with pytest.raises(
        RnnkitError,
        match="^the given text is too short to evaluate: it needs at "
        r"least 2 characters$",
    ):
        rnnkit.evaluate(rnnkit.load(trained, "cpu"), ["h"])


# --------------------------------------------------------------------------- demo
def test_demo_runs_and_leaves_a_usable_checkpoint(tmp_path, capsys):
    text = tmp_path / "demo.txt"
    text.write_text("\n".join(SENTENCES * 120) + "\n", encoding="utf-8")
    out = tmp_path / "demo"
    code, stdout, err = run(
        capsys,
        "demo",
        "--data",
        text,
        "--minutes",
        0.02,
        "--out",
        out,
        "--samples",
        1,
        "--length",
        10,
        "--device",
        "cpu",
        "--no-progress",
    )
    assert code == 0, err
    assert stdout.startswith("trained ") and "bits/char" in stdout
    assert "--- sample 1 ---" in stdout and "--- sample 2 ---" not in stdout
    assert stdout.endswith(f"\nmore: rnnkit sample {out} --length 500\n")
    shown = stdout.rpartition("\n\nmore: ")[0].partition("--- sample 1 ---\n")[2]
    assert len(shown) == 10
    assert {"best.pt", "last.pt", "config.json", "metrics.jsonl"} <= set(os.listdir(out))
    # the checkpoint it leaves is the model it sampled from: the same seed gives the same text
    model = rnnkit.load(out, "cpu")
    assert sample(model, SampleConfig(length=10, temperature=0.7, seed=1337)) == [shown]
    code, printed, err = run(capsys, "sample", out, "--device", "cpu")
    assert code == 0 and printed and err == ""
    assert run(capsys, "evaluate", out, "--data", text)[0] == 0


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "text file not found: {path}"),
        (lambda p: p.mkdir(), "text file {path} is a directory, not a file"),
        (lambda p: p.write_bytes(b""), "text file {path} is empty"),
        (
            lambda p: p.write_bytes(b"good text, then \xfe\xff"),
            (
                "text file {path} is not UTF-8 text: byte 0xfe at byte offset 16 cannot be decoded "
                "(convert it, e.g. with iconv -t utf-8)"
            ),
        ),
        (
            lambda p: p.write_text("too short"),
            (
                "the training text has 8 characters, fewer than one batch needs (4 streams x 17 "
                "characters + shift = 84); use a longer text or a smaller --batch-size/--seq-len"
            ),
        ),
    ],
    ids=["missing", "directory", "empty", "not-utf8", "shorter-than-a-batch"],
)
def test_bad_text_file(tmp_path, make, message):
    text = tmp_path / "in.txt"
    make(text)
    before = _files(tmp_path)
    with pytest.raises(RnnkitError) as error:
        rnnkit.train("lm", _settings(text, 2, tmp_path / "out"), log=quiet)
    assert str(error.value) == message.format(path=text)
    assert _files(tmp_path) == before  # no output directory, no half-written file


def test_output_directory_cannot_be_written(tmp_path, corpus):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(
        RnnkitError, match=re.escape(f"cannot write to output directory {blocker / 'out'}: ")
    ):
        rnnkit.train("lm", _settings(corpus, 2, blocker / "out"), log=quiet)
    assert _files(tmp_path) == ["file"]


def test_resume_without_checkpoint(tmp_path, corpus):
    with pytest.raises(RnnkitError) as error:
        rnnkit.train("lm", _settings(corpus, 2, tmp_path / "none"), resume=True, log=quiet)
    assert str(error.value) == f"no checkpoint to resume from at {tmp_path / 'none' / 'last.pt'}"
    assert _files(tmp_path) == []


def _bad_checkpoints(trained, tmp_path) -> dict:
    good = (trained / "last.pt").read_bytes()
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"PK\x03\x04 this is no checkpoint")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good[: len(good) // 3])
    future = tmp_path / "future.pt"
    data = load_checkpoint(trained / "last.pt")
    data.pop("path")
    data.pop("format_version")
    save_checkpoint(future, data)
    raw = torch.load(future, weights_only=True)
    raw["format_version"] = 99
    torch.save(raw, future)
    unknown = tmp_path / "unknown.pt"
    save_checkpoint(unknown, {"task": "nosuchtask", "model_config": {}, "model_state": {}})
    return {
        corrupt: f"checkpoint {corrupt} is corrupt or truncated",
        truncated: f"checkpoint {truncated} is corrupt or truncated",
        future: f"checkpoint {future} has format version 99, but this rnnkit "
        f"({rnnkit.__version__}) reads version ",
        unknown: f"{unknown} is for task 'nosuchtask', which this rnnkit does not know (known: "
        f"{', '.join(rnnkit.TASKS)})",
    }


@pytest.mark.parametrize("command", ["sample", "evaluate", "predict"])
def test_bad_checkpoints_are_refused_in_one_line(trained, corpus, tmp_path, capsys, command):
    extra = {"sample": [], "evaluate": ["--data", corpus], "predict": ["--input", corpus]}[command]
    for path, start in _bad_checkpoints(trained, tmp_path).items():
        code, out, err = run(capsys, command, path, *extra)
        assert code == 2 and out == "" and err.count("\n") == 1, err
        assert err.startswith(f"rnnkit: error: {start}"), err
        with pytest.raises(RnnkitError, match="^" + re.escape(start)):
            rnnkit.load(path)


@pytest.mark.parametrize("command", ["sample", "evaluate", "load"])
def test_code_running_checkpoint_is_refused(tmp_path, corpus, capsys, command):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    path = tmp_path / "evil.pt"
    torch.save(
        {"format_version": FORMAT_VERSION, "task": "lm", "model_config": {}, "model_state": Evil()},
        path,
    )
    message = (
        f"refusing to load {path}: it holds Python objects that would run code when loaded "
        f"({os.system.__module__}.system); rnnkit checkpoints hold only tensors and plain "
        "data"
    )
    if command == "load":
        with pytest.raises(RnnkitError) as error:
            rnnkit.load(path)
        assert str(error.value) == message
    else:
        extra = ["--data", corpus] if command == "evaluate" else []
        code, _, err = run(capsys, command, path, *extra)
        assert_one_line_error(code, err, message)
    assert not (tmp_path / "pwned").exists()


def test_predict_refuses_a_language_model_and_points_to_sample(trained, tmp_path, capsys):
    message = (
        "predict does not support 'lm' models (a language model writes text: use sample "
        "(rnnkit sample RUN))"
    )
    with pytest.raises(RnnkitError) as error:
        rnnkit.predict(rnnkit.load(trained, "cpu"), ["hello"])
    assert str(error.value) == message
    inputs = tmp_path / "in.txt"
    inputs.write_text("hello\n", encoding="utf-8")
    code, out, err = run(capsys, "predict", trained, "--input", inputs)
    assert_one_line_error(code, err, message)
    assert out == ""


def test_a_val_fraction_that_leaves_no_training_text_is_an_error(tmp_path):
    """Found by fuzzing: ``--val-fraction 0.999999`` left an empty training text and failed in
    the bigram counts with "Trying to create tensor with negative dimension -1"."""
    path = tmp_path / "short.txt"
    path.write_text("the cat sat on the mat\n" * 10, encoding="utf-8")
    settings = {"data": {"text": str(path), "val_fraction": 0.999999}, "train": {"device": "cpu"}}
    with pytest.raises(RnnkitError, match="the training part of short.txt has 0 character"):
        rnnkit.train("lm", settings, log=quiet)
