"""The ``classify`` task through the Python API: train, resume, load, evaluate, predict, bad input.

What every task does (run files, config.json, resume, device, batch size, a bad data file through
the command line) is tested once for all tasks in test_task_contract.py.
"""

from __future__ import annotations

import io
import json
import random
import re

import pytest
from cli_helpers import quiet, small_settings

from rnnkit import tasks
from rnnkit.errors import RnnkitError
from rnnkit.training.checkpoint import load_checkpoint

SMALL = {
    "model": {"embedding_dim": 8, "hidden_size": 8, "dropout": 0.1},
    "train": {
        "batch_size": 8,
        "eval_every": 5,
        "warmup_steps": 2,
        "lr": 0.02,
        "seed": 0,
        "device": "cpu",
        "progress": False,
    },
}


pytestmark = pytest.mark.usefixtures("one_thread")


def _pairs(count: int, seed: int) -> list[tuple[str, str]]:
    """(text, label): a sentiment word decides the label, among filler words."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        label = rng.choice(["pos", "neg"])
        word = rng.choice(["good", "great"] if label == "pos" else ["bad", "awful"])
        words = rng.choices(["the", "film", "was", "a", "plot"], k=rng.randint(1, 5)) + [word]
        rng.shuffle(words)
        pairs.append((" ".join(words), label))
    return pairs


def _tsv(pairs, extra: str = "") -> str:
    return "text\tlabel\n" + "".join(f"{t}\t{label}\n" for t, label in pairs) + extra


def _settings(data: dict, steps: int, out_dir=None, **train) -> dict:
    return small_settings(SMALL, data, steps, out_dir, **train)


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    """A classifier trained 40 steps with validation every 5; ``(root, run, log lines)``."""
    root = tmp_path_factory.mktemp("classify")
    (root / "train.tsv").write_text(_tsv(_pairs(120, 0)), encoding="utf-8")
    (root / "dev.tsv").write_text(_tsv(_pairs(30, 1)), encoding="utf-8")
    logs: list[str] = []
    run = tasks.train(
        "classify",
        _settings(
            {"train": str(root / "train.tsv"), "val": str(root / "dev.tsv")}, 40, root / "run"
        ),
        log=logs.append,
    )
    return root, run, logs


# --------------------------------------------------------------------------- training
def test_report_beside_the_majority_baseline(classify_run):
    root, run, _ = classify_run
    (report,) = run.reports
    assert report.title == f"validation: 30 rows of {root / 'dev.tsv'}"
    assert list(report.rows) == ["accuracy", "macro-F1", "loss (nats/example)"]
    assert report.columns == ["model", "majority", "bag of n-grams"]
    assert report.rows["accuracy"]["model"] >= 0.9 > report.rows["accuracy"]["majority"]
    # the bag of n-grams learns a sentiment word in 5 epochs
    assert report.rows["accuracy"]["bag of n-grams"] >= 0.9
    assert "bag of n-grams" in report.format().splitlines()[1]
    assert report.details[0] == "confusion matrix (rows: gold, columns: predicted):"
    assert [line.split()[0] for line in report.details[2:]] == ["neg", "pos"]


def test_select_on_accuracy_picks_the_step_of_the_best_validation_accuracy(classify_run):
    root, run, logs = classify_run
    assert run.config.model.select_on == "accuracy"  # the default
    lines = (root / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    evals = [r for r in map(json.loads, lines) if r.get("event") == "eval"]
    assert [r["step"] for r in evals] == list(range(5, 41, 5))
    best_accuracy = max(r["val_accuracy"] for r in evals)
    best = next(r["step"] for r in evals if r["val_accuracy"] == best_accuracy)  # first of a tie
    lowest_loss = min(evals, key=lambda r: r["val_loss"])["step"]
    assert best != lowest_loss, "the data should make accuracy and loss pick different steps"
    assert load_checkpoint(root / "run" / "best.pt")["train"]["step"] == best
    assert run.weights == f"best.pt (step {best})"
    # the Trainer marks each new best accuracy, and only those
    marked, high = [], -1.0
    for r in evals:
        if r["val_accuracy"] > high:
            marked.append(r["step"])
            high = r["val_accuracy"]
    assert [int(m.split()[1].rstrip(":")) for m in logs if m.endswith("(best accuracy)")] == marked
    assert not any("(best loss)" in m for m in logs)


def test_empty_text_rows_are_skipped_and_counted(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text(_tsv(_pairs(20, 2), extra=" \tpos\n\tneg\n"), encoding="utf-8")
    logs: list[str] = []
    run = tasks.train("classify", _settings({"train": str(train)}, 2), log=logs.append)
    assert f"skipped 2 rows with empty text in {train}" in logs
    assert "18 training and 2 validation examples, 2 classes" in " ".join(logs)
    assert run.train.step == 2


def test_resume_continues_exactly(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text(_tsv(_pairs(60, 4)), encoding="utf-8")
    data = {"train": str(train)}
    flat = {"min_lr_ratio": 1.0, "save_every": 6}  # the same schedule whatever max_steps says
    tasks.train("classify", _settings(data, 12, tmp_path / "full", **flat), log=quiet)
    tasks.train("classify", _settings(data, 6, tmp_path / "part", **flat), log=quiet)
    run = tasks.train(
        "classify", _settings(data, 12, tmp_path / "part", **flat), resume=True, log=quiet
    )
    assert run.train.step == 12

    def losses(name):
        lines = (tmp_path / name / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        return {r["step"]: r["loss"] for r in map(json.loads, lines) if "event" not in r}

    full, resumed = losses("full"), losses("part")
    assert sorted(resumed) == list(range(1, 13))
    for step in range(7, 13):
        assert resumed[step] == pytest.approx(full[step], abs=1e-6)


# --------------------------------------------------------------------------- bad input
def _refused(tmp_path, data: dict, message: str) -> None:
    with pytest.raises(RnnkitError) as error:
        tasks.train("classify", _settings(data, 2, tmp_path / "run"), log=quiet)
    assert str(error.value) == message
    assert not (tmp_path / "run").exists()  # nothing half-written


def test_unknown_column_lists_the_available_ones(tmp_path):
    train = tmp_path / "train.csv"
    train.write_text("review,stars\ngood,5\nbad,1\n", encoding="utf-8")
    _refused(
        tmp_path,
        {"train": str(train), "label_col": "rating"},
        f"{train}: no column 'text' (the text column); available columns: 'review', 'stars'",
    )
    _refused(
        tmp_path,
        {"train": str(train), "text_col": "review", "label_col": "rating"},
        f"{train}: no column 'rating' (the label column); available columns: 'review', 'stars'",
    )


def test_label_unseen_in_training_is_named(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text(_tsv(_pairs(20, 3)), encoding="utf-8")
    val = tmp_path / "dev.tsv"
    val.write_text("text\tlabel\ngood film\tpos\nso so\tmixed\n", encoding="utf-8")
    _refused(
        tmp_path,
        {"train": str(train), "val": str(val)},
        f"validation data 2 rows of {val} has label(s) never seen in the training data: "
        "'mixed' (known labels: 'neg', 'pos')",
    )


def test_single_class_training_data(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("text\tlabel\ngood\t1\ngreat\t1\n", encoding="utf-8")
    _refused(
        tmp_path,
        {"train": str(train)},
        f"training data {train} has a single class ('1'); a classifier needs at least 2",
    )


# --------------------------------------------------------------------------- evaluate
def test_evaluate_a_file_and_text_label_pairs_alike(classify_run):
    root, _, _ = classify_run
    model = tasks.load(root / "run", device="cpu")
    (from_file,) = tasks.evaluate(model, str(root / "dev.tsv"))
    (from_pairs,) = tasks.evaluate(model, _pairs(30, 1), batch_size=7)
    assert list(from_file.rows) == list(from_pairs.rows)
    for row in from_file.rows:
        assert from_pairs.rows[row] == pytest.approx(from_file.rows[row], abs=1e-6)
    assert from_file.details == from_pairs.details
    assert from_file.title == f"30 rows of {root / 'dev.tsv'}"
    assert from_pairs.title == "30 examples"
    with pytest.raises(
        RnnkitError,
        match=re.escape(
            "evaluation data 1 example has label(s) never seen in the training data: 'meh'"
        ),
    ):
        tasks.evaluate(model, [("so so", "meh")])


# --------------------------------------------------------------------------- predict
def test_predict_keeps_line_numbers_and_marks_empty_lines(classify_run, tmp_path, monkeypatch):
    model = tasks.load(classify_run[0] / "run", device="cpu")
    inputs = tmp_path / "in.txt"
    inputs.write_text("the film was great\n\n  \nawful plot\n", encoding="utf-8")
    records = tasks.predict(model, str(inputs))
    assert [r["line"] for r in records] == [1, 2, 3, 4]
    assert [r["label"] for r in records] == ["pos", None, None, "neg"]
    assert records[1] == {"line": 2, "text": "", "label": None, "skipped": "empty input"}
    assert records[2]["skipped"] == "empty input"
    for r in (records[0], records[3]):
        assert set(r) == {"line", "text", "label", "probabilities"}
        assert set(r["probabilities"]) == {"neg", "pos"}
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
        assert r["probabilities"][r["label"]] > 0.5
    assert records[0]["text"] == "the film was great"
    # a TSV is read by the training text column; its line numbers count the header
    table = tmp_path / "in.tsv"
    table.write_text("id\ttext\n1\ta good film\n2\t\n3\tawful\n", encoding="utf-8")
    records = tasks.predict(model, str(table))
    assert [(r["line"], r["label"]) for r in records] == [(2, "pos"), (3, None), (4, "neg")]
    assert records[1]["skipped"] == "empty input"
    # Python strings and standard input
    assert [r["line"] for r in tasks.predict(model, ["great", "", "bad"])] == [1, 2, 3]
    monkeypatch.setattr("sys.stdin", io.StringIO("a good film\n"))
    (record,) = tasks.predict(model, "-")
    assert (record["line"], record["label"]) == (1, "pos")


def test_predict_on_a_table_without_the_text_column_names_it(classify_run, tmp_path):
    model = tasks.load(classify_run[0] / "run", device="cpu")
    table = tmp_path / "in.tsv"
    table.write_text("id\treview\n1\tgood film\n", encoding="utf-8")
    with pytest.raises(RnnkitError) as error:  # no fallback to one text a line
        tasks.predict(model, str(table))
    assert str(error.value) == (
        f"{table} has no column 'text' (the text column of the training "
        "data); its header: id, review"
    )


def test_resuming_on_new_labels_names_the_checkpoints_labels(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text(_tsv(_pairs(20, 3)), encoding="utf-8")
    tasks.train("classify", _settings({"train": str(train)}, 2, tmp_path / "run"), log=quiet)
    train.write_text(_tsv(_pairs(20, 3)) + "so so\tmixed\n", encoding="utf-8")
    with pytest.raises(RnnkitError) as caught:
        tasks.train(
            "classify",
            _settings({"train": str(train)}, 4, tmp_path / "run"),
            resume=True,
            log=quiet,
        )
    assert "has label(s) never seen in the checkpoint's labels: 'mixed'" in str(caught.value)


def test_evaluate_refuses_a_table_object_in_one_line(classify_run):
    class Frame:  # what pandas' DataFrame looks like to rnnkit: 2-D, iterating its columns
        ndim = 2

        def __iter__(self):
            return iter(["text", "label"])

    model = tasks.load(classify_run[0] / "run", device="cpu")
    with pytest.raises(RnnkitError) as error:
        tasks.evaluate(model, Frame())
    assert str(error.value) == (
        "expected a file, a DataFrame, a datasets.Dataset or a list of (text, label) pairs, got Frame"
    )


# --------------------------------------------------------------------------- long texts, the bag
def test_a_length_cap_reports_the_share_of_tokens_it_cuts(tmp_path):
    train, dev = tmp_path / "train.tsv", tmp_path / "dev.tsv"
    pairs = [("good film", "pos"), ("a bad , bad film", "neg")] * 5
    train.write_text(_tsv(pairs), encoding="utf-8")
    dev.write_text(_tsv([("very very good", "pos"), ("bad", "neg")]), encoding="utf-8")
    data = {"train": str(train), "val": str(dev), "max_length": 3}
    logs: list[str] = []
    tasks.train("classify", _settings(data, 2, tmp_path / "run"), log=logs.append)
    assert "max_length 3 cut 10 of 35 training tokens (28.6%), from 5 of 10 texts" in logs
    assert "max_length 3 cut 0 of 4 validation tokens (0.0%), from 0 of 2 texts" in logs
    (report,) = tasks.evaluate(tasks.load(tmp_path / "run"), [("a very very good film", "pos")])
    assert (
        report.title
        == "1 example; max_length 3 cut 2 of 5 evaluated tokens (40.0%), from 1 of 1 texts"
    )
    # no cap (the default): nothing to report
    logs.clear()
    del data["max_length"]
    tasks.train("classify", _settings(data, 2, tmp_path / "all"), log=logs.append)
    assert not any("max_length" in line for line in logs)


def test_hybrid_turns_on_for_long_texts_and_the_choice_is_saved(tmp_path):
    from rnnkit.tasks.classify_text import HYBRID_LENGTH, wants_hybrid

    assert HYBRID_LENGTH == 100
    assert not wants_hybrid([[5] * 99, [5] * 99, [5] * 500])  # median 99 tokens
    assert wants_hybrid([[5] * 3, [5] * 100, [5] * 100]) and not wants_hybrid([])
    words = ["good", "film", "plot", "cast", "bad", "dull"]
    long = [(" ".join(words[i % 4 : i % 4 + 2] * 60), "pos" if i % 2 else "neg") for i in range(8)]
    train = tmp_path / "train.tsv"
    train.write_text(_tsv(long), encoding="utf-8")
    logs: list[str] = []
    run = tasks.train(
        "classify", _settings({"train": str(train)}, 3, tmp_path / "a"), log=logs.append
    )
    assert run.config.model.hybrid is True and run.trained.model.bag is not None
    assert any(m.startswith("step 0: validation") for m in logs)  # validated before training
    saved = json.loads((tmp_path / "a" / "config.json").read_text(encoding="utf-8"))
    assert saved["model"]["hybrid"] is True  # the run keeps its choice when resumed or loaded
    train.write_text(_tsv([(text[:20], label) for text, label in long]), encoding="utf-8")
    run = tasks.train("classify", _settings({"train": str(train)}, 3, tmp_path / "b"))
    assert run.config.model.hybrid is False and run.trained.model.bag is None


def test_model_bag_trains_evaluates_and_predicts_alone(classify_run, tmp_path):
    root, rnn, _ = classify_run
    data = {"train": str(root / "train.tsv"), "val": str(root / "dev.tsv")}
    settings = _settings(data, 40, tmp_path / "bag")
    settings["model"] = {"kind": "bag"}
    settings["train"].pop("lr")  # the bag's own default learning rate
    run = tasks.train("classify", settings, log=quiet)
    assert run.config.train.lr == 0.05 and run.config.train.weight_decay == 0.0
    (report,) = run.reports
    assert report.columns == ["model", "majority"]  # no baseline beside the baseline itself
    assert report.rows["accuracy"]["model"] >= 0.9
    model = tasks.load(tmp_path / "bag")
    assert type(model.model).__name__ == "BagClassifier"
    (again,) = tasks.evaluate(model, str(root / "dev.tsv"))
    assert again.rows == report.rows  # the same weights score the same
    records = tasks.predict(model, ["a great film", "awful plot"])
    assert [r["label"] for r in records] == ["pos", "neg"]
    # the recurrent run's bag-of-n-grams column is a model of this kind, fitted at setup
    assert rnn.reports[0].rows["accuracy"]["bag of n-grams"] >= 0.9
    with pytest.raises(RnnkitError) as error:
        model.export_spec()
    assert str(error.value) == (
        "export: expected a recurrent classifier, got a bag-of-n-grams model (--model bag); "
        "export supports --model rnn runs"
    )


def test_without_val_the_checkpoint_is_selected_on_rows_held_out_of_train(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text(_tsv(_pairs(50, 6)), encoding="utf-8")
    logs: list[str] = []
    run = tasks.train(
        "classify", _settings({"train": str(train)}, 10, tmp_path / "run"), log=logs.append
    )
    assert "45 training and 5 validation examples, 2 classes" in " ".join(logs)
    assert run.reports[0].title == f"validation: 5 rows held out of {train}"
    lines = (tmp_path / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    evals = [r for r in map(json.loads, lines) if r.get("event") == "eval"]
    best = max(evals, key=lambda r: (r["val_accuracy"], -r["step"]))
    assert load_checkpoint(tmp_path / "run" / "best.pt")["train"]["step"] == best["step"]
    assert run.reports[0].rows["accuracy"]["model"] == best["val_accuracy"]
