"""``rnnkit train classify|tag``, ``rnnkit predict`` and ``rnnkit evaluate`` in-process on tiny files."""

from __future__ import annotations

import io
import json
import random

import pytest
import torch

from rnnkit.cli import main

SMALL = ["--embedding", "8", "--hidden", "8", "--dropout", "0.1", "--batch-size", "8",
         "--eval-every", "5",
         "--warmup", "2", "--lr", "0.02", "--seed", "0", "--device", "cpu", "--no-progress"]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny models run fastest on one thread; several threads on a busy machine spin and crawl."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _classify_rows(count: int, seed: int) -> str:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        label = rng.choice(["pos", "neg"])
        word = rng.choice(["good", "great"] if label == "pos" else ["bad", "awful"])
        words = rng.choices(["the", "film", "was", "a", "plot"], k=rng.randint(1, 5)) + [word]
        rng.shuffle(words)
        rows.append(f"{' '.join(words)}\t{label}")
    return "\n".join(rows) + "\n"


def _tag_file(count: int, seed: int) -> str:
    rng = random.Random(seed)
    lexicon = {"the": "DET", "a": "DET", "dog": "NOUN", "cat": "NOUN", "runs": "VERB", "sleeps": "VERB"}
    sentences = []
    for s in range(count):
        words = [rng.choice(["the", "a"]), rng.choice(["dog", "cat"]), rng.choice(["runs", "sleeps"])]
        lines = [f"# sent_id = {s}"]
        for i, word in enumerate(words, start=1):
            lines.append(f"{i}\t{word}\t{word}\t{lexicon[word]}\t_\t_\t0\t_\t_\t_")
        sentences.append("\n".join(lines))
    return "\n\n".join(sentences) + "\n\n"


def _run(capsys, argv):
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _assert_one_line_error(code, err, *fragments):
    assert code == 2
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("rnnkit: error: ")
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    (root / "train.tsv").write_text("text\tlabel\n" + _classify_rows(120, 0), encoding="utf-8")
    (root / "dev.tsv").write_text("text\tlabel\n" + _classify_rows(30, 1), encoding="utf-8")
    out_dir = root / "run"
    code = main(["train", "classify", "--train", str(root / "train.tsv"), "--val",
                 str(root / "dev.tsv"), "--steps", "40", "--out", str(out_dir), *SMALL])
    assert code == 0
    return root, out_dir


def test_train_classify_writes_checkpoints(classify_run):
    _, out_dir = classify_run
    assert (out_dir / "best.pt").is_file() and (out_dir / "last.pt").is_file()
    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r.get("event") == "eval"]
    assert evals, "no evaluation was logged"
    for r in evals:  # best.pt is chosen on accuracy: the Trainer's "loss" is the error rate
        assert r["val_loss"] == pytest.approx(1.0 - r["val_accuracy"])
        assert r["val_nll"] > 0


def test_evaluate_dispatches_to_classify(classify_run, capsys):
    pytest.importorskip("rnnkit.cli.evaluate", reason="rnnkit evaluate (issue 3) not written yet")
    root, out_dir = classify_run
    code, out, err = _run(capsys, ["evaluate", str(out_dir), "--data", str(root / "dev.tsv")])
    assert code == 0, err
    assert "majority baseline" in out
    assert float(out.split("\n  model")[1].split()[0]) >= 0.9


def test_classify_evaluate_command_directly(classify_run, capsys):
    import argparse

    from rnnkit.checkpoint import load_checkpoint
    from rnnkit.tasks import classify

    root, out_dir = classify_run
    args = argparse.Namespace(data=str(root / "dev.tsv"), device="cpu")
    assert classify.evaluate_command(args, load_checkpoint(out_dir)) == 0
    out = capsys.readouterr().out
    model_acc = float(out.split("\n  model")[1].split()[0])
    majority = float(out.split("majority baseline")[1].split()[0])
    assert model_acc >= 0.9 > majority
    assert "confusion matrix" in out


def test_predict_classify_from_file_and_stdin(classify_run, capsys, monkeypatch, tmp_path):
    _, out_dir = classify_run
    inputs = tmp_path / "in.txt"
    inputs.write_text("the film was great\n\nawful plot\n", encoding="utf-8")
    code, out, err = _run(capsys, ["predict", str(out_dir), "--input", str(inputs)])
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in records] == ["the film was great", "awful plot"]
    assert [r["label"] for r in records] == ["pos", "neg"]
    for r in records:
        assert set(r["probabilities"]) == {"neg", "pos"}
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert r["probabilities"][r["label"]] > 0.5
    monkeypatch.setattr("sys.stdin", io.StringIO("a good film\n"))
    code, out, err = _run(capsys, ["predict", str(out_dir), "--input", "-"])
    assert code == 0, err
    assert json.loads(out)["label"] == "pos"
    target = tmp_path / "pred.jsonl"
    code, out, err = _run(capsys, ["predict", str(out_dir), "--input", str(inputs), "--output",
                                   str(target)])
    assert code == 0 and out == ""
    assert len(target.read_text(encoding="utf-8").splitlines()) == 2


def test_train_tag_predict_and_evaluate(tmp_path, capsys):
    train = tmp_path / "train.conllu"
    train.write_text(_tag_file(40, 0), encoding="utf-8")
    out_dir = tmp_path / "run"
    code, out, err = _run(capsys, ["train", "tag", "--train", str(train), "--steps", "30", "--out",
                                   str(out_dir), "--char-filters", "8", "--char-embedding", "8",
                                   "--crf", *SMALL])
    assert code == 0, err
    assert "most-frequent-tag baseline" in out
    assert float(out.split("\n  model")[1].split()[0]) >= 0.9
    inputs = tmp_path / "in.txt"
    inputs.write_text("the cat runs\na dog sleeps\n", encoding="utf-8")
    code, out, err = _run(capsys, ["predict", str(out_dir), "--input", str(inputs)])
    assert code == 0, err
    records = [json.loads(line) for line in out.splitlines()]
    assert records[0] == {"tokens": ["the", "cat", "runs"], "tags": ["DET", "NOUN", "VERB"]}
    assert records[1]["tags"] == ["DET", "NOUN", "VERB"]
    import argparse

    from rnnkit.checkpoint import load_checkpoint
    from rnnkit.tasks import tag

    assert tag.evaluate_command(argparse.Namespace(data=str(train), device="cpu"),
                                load_checkpoint(out_dir)) == 0
    report = capsys.readouterr().out
    assert "per-tag F1" in report and "most-frequent-tag baseline" in report


def test_empty_text_rows_are_skipped_and_counted(tmp_path, capsys):
    train = tmp_path / "train.tsv"
    train.write_text("text\tlabel\n" + _classify_rows(20, 2) + " \tpos\n\tneg\n", encoding="utf-8")
    code, _out, err = _run(capsys, ["train", "classify", "--train", str(train), "--steps", "2",
                                   "--out", str(tmp_path / "run"), *SMALL])
    assert code == 0, err
    assert f"skipped 2 rows with empty text in {train}" in err


# --------------------------------------------------------------------------- bad input
def _bad(tmp_path, capsys, argv, *fragments):
    out_dir = tmp_path / "run"
    code, _, err = _run(capsys, [*argv, "--out", str(out_dir), *SMALL])
    _assert_one_line_error(code, err, *fragments)
    assert not out_dir.exists()  # nothing half-written


def test_unknown_column_lists_available_ones(tmp_path, capsys):
    train = tmp_path / "train.csv"
    train.write_text("review,stars\ngood,5\nbad,1\n", encoding="utf-8")
    _bad(tmp_path, capsys, ["train", "classify", "--train", str(train), "--label-col", "rating"],
         "no column 'text' (--text-col); available columns: 'review', 'stars'")
    _bad(tmp_path, capsys, ["train", "classify", "--train", str(train), "--text-col", "review",
                            "--label-col", "rating"],
         "no column 'rating' (--label-col); available columns: 'review', 'stars'")


def test_label_unseen_in_training_is_named(tmp_path, capsys):
    train = tmp_path / "train.tsv"
    train.write_text("text\tlabel\n" + _classify_rows(20, 3), encoding="utf-8")
    val = tmp_path / "dev.tsv"
    val.write_text("text\tlabel\ngood film\tpos\nso so\tmixed\n", encoding="utf-8")
    _bad(tmp_path, capsys, ["train", "classify", "--train", str(train), "--val", str(val)],
         "label(s) never seen in the training data: 'mixed'")


def test_single_class_training_data(tmp_path, capsys):
    train = tmp_path / "train.tsv"
    train.write_text("text\tlabel\ngood\t1\ngreat\t1\n", encoding="utf-8")
    _bad(tmp_path, capsys, ["train", "classify", "--train", str(train)],
         "has a single class ('1'); a classifier needs at least 2")


def test_conll_wrong_column_count_gives_line_number(tmp_path, capsys):
    train = tmp_path / "train.conllu"
    text = _tag_file(3, 0).replace("2\tdog\tdog\tNOUN\t_\t_\t0\t_\t_\t_", "2\tdog\tNOUN", 1)
    if "2\tdog\tNOUN" not in text:
        text = _tag_file(3, 0).replace("2\tcat\tcat\tNOUN\t_\t_\t0\t_\t_\t_", "2\tcat\tNOUN", 1)
    train.write_text(text, encoding="utf-8")
    bad_line = next(i for i, line in enumerate(text.splitlines(), 1) if line.count("\t") == 2)
    _bad(tmp_path, capsys, ["train", "tag", "--train", str(train)],
         f"line {bad_line}: expected 10 tab-separated CoNLL-U columns, got 3")


def test_tag_unseen_in_training_is_named(tmp_path, capsys):
    train = tmp_path / "train.conll"
    train.write_text("the DET\ncat NOUN\n\na DET\ndog NOUN\n", encoding="utf-8")
    val = tmp_path / "val.conll"
    val.write_text("the DET\nruns VERB\n", encoding="utf-8")
    _bad(tmp_path, capsys, ["train", "tag", "--train", str(train), "--val", str(val)],
         "label(s) never seen in the training data: 'VERB'")
    single = tmp_path / "single.conll"
    single.write_text("the DET\n\na DET\n", encoding="utf-8")
    _bad(tmp_path, capsys, ["train", "tag", "--train", str(single), "--val", str(val)],
         "has a single tag ('DET'); a tagger needs at least 2")


def test_missing_file_and_bad_checkpoint(tmp_path, capsys):
    _bad(tmp_path, capsys, ["train", "classify", "--train", str(tmp_path / "nope.tsv")],
         "data file not found")
    _bad(tmp_path, capsys, ["train", "tag", "--train", str(tmp_path)], "is a directory")
    code, _, err = _run(capsys, ["predict", str(tmp_path / "none"), "--input", "-"])
    _assert_one_line_error(code, err, "checkpoint not found")


def _losses(path):
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {r["step"]: r["loss"] for r in records if "event" not in r}


def test_classify_resume_continues_exactly(tmp_path, capsys):
    train = tmp_path / "train.tsv"
    train.write_text("text\tlabel\n" + _classify_rows(60, 4), encoding="utf-8")
    # --min-lr-ratio 1: a flat schedule after warmup, the same whatever --steps says
    common = ["train", "classify", "--train", str(train), "--dropout", "0.2", "--save-every", "6",
              "--min-lr-ratio", "1",
              *SMALL]
    assert main([*common, "--steps", "12", "--out", str(tmp_path / "full")]) == 0
    assert main([*common, "--steps", "6", "--out", str(tmp_path / "part")]) == 0
    code = main([*common, "--steps", "12", "--out", str(tmp_path / "part"), "--resume"])
    capsys.readouterr()
    assert code == 0
    full = _losses(tmp_path / "full" / "metrics.jsonl")
    resumed = _losses(tmp_path / "part" / "metrics.jsonl")
    assert sorted(resumed) == list(range(1, 13))
    for step in range(7, 13):
        assert resumed[step] == pytest.approx(full[step], abs=1e-6)
