"""Every language-model command of the CLI, in-process through main(argv), on a tiny corpus."""

import json
import os

import pytest
import torch

from rnnkit.checkpoint import load_checkpoint, save_checkpoint
from rnnkit.cli import main

SENTENCES = ["hello how are you", "i am fine", "how are you doing", "the cat sat on the mat"]
TINY = ["--batch-size", "4", "--seq-len", "16", "--hidden", "32", "--embedding", "16",
        "--device", "cpu", "--eval-every", "10", "--save-every", "10"]


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("rnnkit: error:") and "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "corpus.txt"
    path.write_text("\n".join(SENTENCES * 40) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory, corpus):
    out = tmp_path_factory.mktemp("runs") / "lm"
    code = main(["train", "lm", "--text", str(corpus), "--steps", "30", "--out", str(out), *TINY])
    assert code == 0
    return out


def test_train_lm_writes_checkpoints_and_metrics(trained, capsys):
    assert {"best.pt", "last.pt", "metrics.jsonl"} <= set(os.listdir(trained))
    ckpt = load_checkpoint(trained / "last.pt", task="lm")
    assert ckpt["model_config"]["hidden_size"] == 32 and ckpt["train"]["step"] == 30
    assert ckpt["task_state"]["vocab"]["unk_token"] == "<unk>"
    rows = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    assert sum("grad_norm" in r for r in rows) == 30


def test_train_lm_output_and_resume_extends_a_run(tmp_path, corpus, capsys):
    out = tmp_path / "r"
    code, stdout, err = run(capsys, "train", "lm", "--text", corpus, "--steps", 10, "--out", out, *TINY)
    assert code == 0 and "validation loss" in stdout and "best checkpoint" in stdout
    assert err == ""  # no progress bar when stderr is not a terminal, no warnings
    code, stdout, _ = run(capsys, "train", "lm", "--resume", "--out", out, "--steps", 20)
    assert code == 0 and "trained 20 steps" in stdout
    assert load_checkpoint(out / "last.pt")["train"]["step"] == 20


def test_sample_prompt_seed_and_options(trained, capsys):
    code, out1, err = run(capsys, "sample", trained, "--prompt", "how", "--length", 40, "--seed", 3)
    assert code == 0 and out1.startswith("how") and err == ""
    _, out2, _ = run(capsys, "sample", trained, "--prompt", "how", "--length", 40, "--seed", 3)
    assert out1 == out2
    code, out, _ = run(capsys, "sample", trained, "--prompt", "i", "-n", 3, "--seed", 1,
                       "--top-k", 5, "--top-p", 0.9, "--temperature", 0.5, "--length", 30)
    assert code == 0 and out.count("-" * 40) == 2
    code, out, _ = run(capsys, "sample", trained / "best.pt", "--greedy", "--length", 25,
                       "--stop", "\n")
    assert code == 0 and len(out.strip("\n")) <= 25


def test_sample_prompt_file(trained, tmp_path, capsys):
    prompt = tmp_path / "p.txt"
    prompt.write_text("the cat", encoding="utf-8")
    code, out, _ = run(capsys, "sample", trained, "--prompt-file", prompt, "--length", 5)
    assert code == 0 and out.startswith("the cat")


def test_sample_unknown_prompt_characters_warn_once_and_continue(trained, capsys):
    code, out, err = run(capsys, "sample", trained, "--prompt", "héllo ☃", "--length", 10, "--seed", 0)
    assert code == 0 and out.startswith("héllo ☃")
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "'é'" in lines[0] and "'☃'" in lines[0] and "<unk>" in lines[0]


def test_evaluate_text_and_data_alias(trained, corpus, capsys):
    code, out, _ = run(capsys, "evaluate", trained, "--text", corpus)
    assert code == 0 and "nats/char" in out and "bits/char" in out and "perplexity" in out
    code, out2, _ = run(capsys, "evaluate", trained, "--data", corpus)
    assert code == 0 and out2 == out


def test_demo_runs_and_leaves_a_usable_checkpoint(tmp_path, capsys):
    text = tmp_path / "demo.txt"
    text.write_text("\n".join(SENTENCES * 200) + "\n", encoding="utf-8")
    out = tmp_path / "demo"
    code, stdout, _ = run(capsys, "demo", "--text", text, "--minutes", 0.02, "--out", out,
                          "--samples", 2, "--length", 20, "--device", "cpu")
    assert code == 0 and "--- sample 2 ---" in stdout
    code, _, _ = run(capsys, "sample", out, "--length", 5)
    assert code == 0


def test_every_command_has_help(capsys):
    for argv in (["train", "lm"], ["sample"], ["evaluate"], ["demo"]):
        code, out, _ = run(capsys, *argv, "--help")
        assert code == 0 and "default" in out


# ----------------------------------------------------------------------------- bad input
def _files(path):
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*"))


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda p: None, ["not found"]),
        (lambda p: p.mkdir(), ["is a directory"]),
        (lambda p: p.write_bytes(b""), ["is empty"]),
        (lambda p: p.write_bytes(b"good text, then \xfe\xff"), ["byte offset 16"]),
        (lambda p: p.write_text("too short"), ["fewer than one batch"]),
    ],
    ids=["missing", "directory", "empty", "not-utf8", "shorter-than-a-batch"],
)
def test_train_bad_text(tmp_path, capsys, make, fragments):
    text = tmp_path / "in.txt"
    make(text)
    before = _files(tmp_path)
    code, _, err = run(capsys, "train", "lm", "--text", text, "--out", tmp_path / "out", "--steps", 2, *TINY)
    assert_one_line_error(code, err, *fragments)
    assert _files(tmp_path) == before  # no output directory, no half-written file


def test_train_output_directory_cannot_be_written(tmp_path, corpus, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = run(capsys, "train", "lm", "--text", corpus, "--out", blocker / "out", "--steps", 2, *TINY)
    assert_one_line_error(code, err, "cannot write to output directory")
    assert _files(tmp_path) == ["file"]


def test_resume_without_checkpoint(tmp_path, corpus, capsys):
    code, _, err = run(capsys, "train", "lm", "--text", corpus, "--resume", "--out", tmp_path / "none", *TINY)
    assert_one_line_error(code, err, "no checkpoint to resume from")
    assert _files(tmp_path) == []


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--temperature", "0"], "temperature must be > 0"),
        (["--temperature", "-1"], "temperature must be > 0"),
        (["--top-p", "0"], "top-p must be in (0, 1]"),
        (["--top-p", "1.5"], "top-p must be in (0, 1]"),
        (["--top-k", "0"], "top-k must be >= 1"),
        (["--length", "-5"], "length must be >= 0"),
    ],
)
def test_sample_bad_options(trained, capsys, options, fragment):
    code, out, err = run(capsys, "sample", trained, *options)
    assert_one_line_error(code, err, fragment)
    assert out == ""


def _bad_checkpoints(trained, tmp_path):
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
    return {"corrupt": corrupt, "truncated": truncated, "future": future}


@pytest.mark.parametrize("command", ["sample", "evaluate"])
def test_bad_checkpoints(trained, corpus, tmp_path, capsys, command):
    expected = {"corrupt": "corrupt", "truncated": "corrupt or truncated", "future": "format version 99"}
    for name, path in _bad_checkpoints(trained, tmp_path).items():
        extra = ["--text", corpus] if command == "evaluate" else []
        code, _, err = run(capsys, command, path, *extra)
        assert_one_line_error(code, err, expected[name])


def test_code_running_checkpoint_is_refused(tmp_path, capsys):
    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {tmp_path / 'pwned'}",))

    path = tmp_path / "evil.pt"
    torch.save({"format_version": 1, "task": "lm", "model_config": {}, "model_state": Evil()}, path)
    code, _, err = run(capsys, "sample", path)
    assert_one_line_error(code, err, "refusing to load", "run code")
    assert not (tmp_path / "pwned").exists()


def test_evaluate_missing_text_and_missing_checkpoint(trained, tmp_path, capsys):
    code, _, err = run(capsys, "evaluate", trained)
    assert_one_line_error(code, err, "--text")
    code, _, err = run(capsys, "evaluate", tmp_path / "nothing", "--text", "x")
    assert_one_line_error(code, err, "not found")
    code, _, err = run(capsys, "evaluate", trained, "--text", tmp_path / "missing.txt")
    assert_one_line_error(code, err, "not found")


def test_evaluate_dispatches_on_the_task_field(tmp_path, capsys):
    path = tmp_path / "other.pt"
    save_checkpoint(path, {"task": "nosuchtask", "model_config": {}, "model_state": {}})
    code, _, err = run(capsys, "evaluate", path, "--data", path)
    assert_one_line_error(code, err, "'nosuchtask'", "does not know")
    code, _, err = run(capsys, "sample", path)
    assert_one_line_error(code, err, "not 'lm'")


def test_predict_refuses_a_language_model_and_points_to_sample(trained, tmp_path, capsys):
    inputs = tmp_path / "in.txt"
    inputs.write_text("hello\n", encoding="utf-8")
    code, out, err = run(capsys, "predict", trained, "--input", inputs)
    assert_one_line_error(code, err, "'lm'", "use rnnkit sample")
    assert out == ""


def test_predict_dispatches_on_the_task_field(tmp_path, capsys):
    path = tmp_path / "other.pt"
    save_checkpoint(path, {"task": "nosuchtask", "model_config": {}, "model_state": {}})
    code, _, err = run(capsys, "predict", path, "--input", "-")
    assert_one_line_error(code, err, "'nosuchtask'", "does not know")
