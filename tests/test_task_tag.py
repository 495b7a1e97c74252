"""The ``tag`` task through the Python API: train, resume, load, evaluate, predict, bad input."""

from __future__ import annotations

import json
import random

import pytest
from cli_helpers import quiet, small_settings

from rnnkit import tasks
from rnnkit.config import ConfigError, fields_of
from rnnkit.errors import RnnkitError
from rnnkit.tasks.tag import TagConfig, TagModel, tag_scores

LEXICON = {"the": "DET", "a": "DET", "dog": "NOUN", "cat": "NOUN", "runs": "VERB", "sleeps": "VERB"}
SMALL = {
    "model": {
        "embedding_dim": 8,
        "hidden_size": 8,
        "char_filters": 8,
        "char_embedding_dim": 8,
        "dropout": 0.1,
    },
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


def _sentences(count: int, seed: int) -> list[list[str]]:
    rng = random.Random(seed)
    return [
        [rng.choice(["the", "a"]), rng.choice(["dog", "cat"]), rng.choice(["runs", "sleeps"])]
        for _ in range(count)
    ]


def _conllu(sentences) -> str:
    blocks = []
    for s, words in enumerate(sentences):
        lines = [f"# sent_id = {s}"]
        lines += [f"{i}\t{w}\t{w}\t{LEXICON[w]}\t_\t_\t0\t_\t_\t_" for i, w in enumerate(words, 1)]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n"


def _settings(data: dict, steps: int, out_dir=None, **train) -> dict:
    return small_settings(SMALL, data, steps, out_dir, **train)


@pytest.fixture(scope="module")
def tag_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("tag")
    (root / "train.conllu").write_text(_conllu(_sentences(40, 0)), encoding="utf-8")
    settings = _settings({"train": str(root / "train.conllu")}, 30, root / "run")
    settings["model"]["use_crf"] = True
    run = tasks.train("tag", settings, log=quiet)
    return root, run


# --------------------------------------------------------------------------- config
def test_defaults_flags_and_train_settings():
    config = TagConfig()
    train = config.train
    assert (train.max_steps, train.batch_size, train.lr, train.warmup_steps) == (2000, 32, 2e-3, 50)
    assert (train.eval_every, train.save_every, train.out_dir) == (250, 250, "runs/tag")
    m = config.model
    assert m.bidirectional and m.chars and not m.use_crf
    assert (m.dropout, m.word_dropout) == (0.3, 0.1)
    flags = {f.name: f.metadata["flag"] for f, _ in fields_of(TagModel)}
    assert flags["use_crf"] == "crf" and flags["embedding_dim"] == "embedding"
    assert flags["char_embedding_dim"] == "char-embedding"
    data = {f.name: f.metadata for f, _ in fields_of(type(config.data))}
    assert data["train"]["flag"] == "data" and "train" in data["train"]["aliases"]
    assert config.missing() == ["data.train"]


def test_bad_config_names_the_key():
    with pytest.raises(ConfigError, match=r"data\.format: expected one of auto, conllu, conll"):
        TagConfig.from_dict({"data": {"format": "xml"}})
    with pytest.raises(ConfigError, match=r"model\.word_dropout: expected a value in \[0, 1\)"):
        TagConfig.from_dict({"model": {"word_dropout": 1.0}})


# --------------------------------------------------------------------------- training
def test_train_writes_files_and_reports_beside_the_baseline(tag_run):
    root, run = tag_run
    out_dir = root / "run"
    for name in ("best.pt", "last.pt", "config.json", "metrics.jsonl"):
        assert (out_dir / name).is_file(), name
    saved = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    assert saved["model"]["use_crf"] is True and saved["train"]["max_steps"] == 30
    (report,) = run.reports
    where = root / "train.conllu"
    assert report.title == f"validation: the last 4 sentences of {where} (12 tokens)"
    assert set(report.rows) == {"token accuracy", "macro-F1"}
    assert report.rows["token accuracy"]["model"] >= 0.9
    assert set(report.rows["macro-F1"]) == {"model", "most-frequent-tag"}
    text = report.format()
    assert "most-frequent-tag" in text and "per-tag F1" in text
    assert [line.split()[0] for line in report.details[2:]] == ["DET", "NOUN", "VERB"]


def test_best_weights_are_chosen_on_validation_accuracy(tag_run):
    root, run = tag_run
    lines = (root / "run" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    evals = [r for r in records if r.get("event") == "eval"]
    assert evals and all("val_accuracy" in r for r in evals)
    best = min(evals, key=lambda r: (-r["val_accuracy"], r["step"]))  # the first best accuracy
    assert run.weights == f"best.pt (step {best['step']:,})"


def test_resume_continues_exactly(tmp_path):
    path = tmp_path / "train.conll"
    path.write_text(
        "\n\n".join("\n".join(f"{w} {LEXICON[w]}" for w in s) for s in _sentences(30, 4)) + "\n",
        encoding="utf-8",
    )
    data = {"train": str(path), "format": "conll"}
    flat = {"min_lr_ratio": 1.0, "save_every": 6}  # the same schedule whatever max_steps says
    tasks.train("tag", _settings(data, 12, tmp_path / "full", **flat), log=quiet)
    tasks.train("tag", _settings(data, 6, tmp_path / "part", **flat), log=quiet)
    run = tasks.train("tag", _settings(data, 12, tmp_path / "part", **flat), resume=True, log=quiet)
    assert run.train.step == 12

    def losses(name):
        lines = (tmp_path / name / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        return {r["step"]: r["loss"] for r in map(json.loads, lines) if "event" not in r}

    full, resumed = losses("full"), losses("part")
    assert sorted(resumed) == list(range(1, 13))
    for step in range(7, 13):
        assert resumed[step] == pytest.approx(full[step], abs=1e-6)


# --------------------------------------------------------------------------- evaluate
def test_evaluate_file_and_python_objects_agree(tag_run):
    root, _ = tag_run
    model = tasks.load(root / "run", device="cpu")
    sentences = _sentences(40, 0)
    (from_file,) = tasks.evaluate(model, str(root / "train.conllu"))
    (from_objects,) = tasks.evaluate(
        model, [(s, [LEXICON[w] for w in s]) for s in sentences], batch_size=3
    )
    assert from_file.rows == from_objects.rows
    assert from_file.rows["token accuracy"]["model"] >= 0.9
    assert from_file.title == f"40 sentences of {root / 'train.conllu'} (120 tokens)"
    assert from_objects.title == "40 sentences (120 tokens)"
    # an unseen word: the baseline gives it the most frequent training tag (DET, first of a tie)
    (report,) = tasks.evaluate(model, [(["the", "bird", "runs"], ["DET", "NOUN", "VERB"])])
    assert report.rows["token accuracy"]["most-frequent-tag"] == pytest.approx(2 / 3)
    assert report.rows["macro-F1"]["most-frequent-tag"] == pytest.approx((2 / 3 + 0 + 1) / 3)


def test_evaluate_names_an_unseen_tag_and_bad_pairs(tag_run):
    model = tasks.load(tag_run[0] / "run", device="cpu")
    with pytest.raises(RnnkitError, match="label\\(s\\) never seen in the training data: 'ADV'"):
        tasks.evaluate(model, [(["the", "dog"], ["DET", "ADV"])])
    with pytest.raises(
        RnnkitError,
        match="evaluation sentence 2: expected tokens and as many tags, got 2 tokens and 1 tag",
    ):
        tasks.evaluate(model, [(["a"], ["DET"]), (["the", "dog"], ["DET"])])


def test_macro_f1_averages_only_tags_that_occur():
    # C is a known tag but occurs neither in the gold tags nor in the predictions.
    scores, macro = tag_scores([["A", "B", "B"]], [["A", "A", "B"]], ["A", "B", "C"])
    assert list(scores) == ["A", "B"]
    assert scores["A"]["f1"] == pytest.approx(2 / 3) and scores["B"]["f1"] == pytest.approx(2 / 3)
    assert macro == pytest.approx(2 / 3)  # not (2/3 + 2/3 + 0) / 3
    # a tag that is only predicted counts (with F1 0)
    scores, macro = tag_scores([["A", "C"]], [["A", "B"]], ["A", "B", "C"])
    assert list(scores) == ["A", "B", "C"] and macro == pytest.approx(1 / 3)


# --------------------------------------------------------------------------- predict
def test_predict_tokenizes_raw_lines_and_marks_blank_ones(tag_run, tmp_path):
    model = tasks.load(tag_run[0] / "run", device="cpu")
    inputs = tmp_path / "in.txt"
    inputs.write_text("the cat runs\n\n  \na dog sleeps.\n", encoding="utf-8")
    records = tasks.predict(model, str(inputs))
    assert [r["line"] for r in records] == [1, 2, 3, 4]
    assert records[0] == {
        "line": 1,
        "tokens": ["the", "cat", "runs"],
        "tags": ["DET", "NOUN", "VERB"],
    }
    assert records[1] == {"line": 2, "tokens": [], "tags": [], "skipped": "empty input"}
    assert records[2]["skipped"] == "empty input"
    assert records[3]["tokens"] == ["a", "dog", "sleeps", "."]  # not "sleeps."
    assert records[3]["tags"][:3] == ["DET", "NOUN", "VERB"] and len(records[3]["tags"]) == 4
    (record,) = tasks.predict(model, ["The Cat sat."])
    assert record["tokens"] == ["The", "Cat", "sat", "."]  # the case is kept
    (record,) = tasks.predict(model, [["a", "cat", "sleeps."]])  # token lists are used as given
    assert record == {"line": 1, "tokens": ["a", "cat", "sleeps."], "tags": record["tags"]}


def test_predict_reads_conll_files_as_tokens(tag_run, tmp_path):
    root, _ = tag_run
    model = tasks.load(root / "run", device="cpu")
    records = tasks.predict(model, str(root / "train.conllu"))
    assert len(records) == 40
    assert [r["line"] for r in records[:2]] == [2, 7]  # each sentence's first token
    assert records[0]["tokens"] == _sentences(40, 0)[0]
    assert records[0]["tags"] == [LEXICON[w] for w in records[0]["tokens"]]
    untagged = tmp_path / "in.conll"
    untagged.write_text("-DOCSTART-\n\nthe\ndog\n\n\na\ncat\nruns\n", encoding="utf-8")
    records = tasks.predict(model, str(untagged))
    assert [(r["line"], r["tokens"]) for r in records] == [
        (3, ["the", "dog"]),
        (7, ["a", "cat", "runs"]),
    ]
    untagged.write_text("\n\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="no sentence to tag in"):
        tasks.predict(model, str(untagged))


# --------------------------------------------------------------------------- bad input
def _train_error(tmp_path, data: dict) -> str:
    with pytest.raises(RnnkitError) as info:
        tasks.train("tag", _settings(data, 2, tmp_path / "run"), log=quiet)
    assert not (tmp_path / "run").exists()  # nothing half-written
    return str(info.value)


def test_conll_wrong_column_count_gives_line_number(tmp_path):
    train = tmp_path / "train.conllu"
    text = _conllu(_sentences(3, 0))
    lines = text.splitlines()
    lines[2] = "\t".join(lines[2].split("\t")[:3])
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    message = _train_error(tmp_path, {"train": str(train)})
    assert "line 3: expected 10 tab-separated CoNLL-U columns, got 3" in message


def test_unseen_and_single_tags_are_named(tmp_path):
    train = tmp_path / "train.conll"
    train.write_text("the DET\ncat NOUN\n\na DET\ndog NOUN\n", encoding="utf-8")
    val = tmp_path / "val.conll"
    val.write_text("the DET\nruns VERB\n", encoding="utf-8")
    message = _train_error(tmp_path, {"train": str(train), "val": str(val)})
    assert "label(s) never seen in the training data: 'VERB'" in message
    single = tmp_path / "single.conll"
    single.write_text("the DET\n\na DET\n", encoding="utf-8")
    message = _train_error(tmp_path, {"train": str(single), "val": str(val)})
    assert "has a single tag ('DET'); a tagger needs at least 2" in message


def test_missing_file_and_directory(tmp_path):
    assert "tagged file not found" in _train_error(tmp_path, {"train": str(tmp_path / "no.conll")})
    assert "is a directory" in _train_error(tmp_path, {"train": str(tmp_path)})
    with pytest.raises(ConfigError, match="data.train: required, but not set"):
        tasks.train("tag", _settings({}, 2), log=quiet)


def test_predict_refuses_python_inputs_that_are_not_sentences(tag_run):
    """Found by fuzzing: an int, None or a list holding a number escaped as a bare TypeError
    from deep inside (``'int' object is not iterable``), or tagged ``str(5)``."""
    _, run = tag_run
    assert tasks.predict(run.trained, [("the", "cat")])[0]["tokens"] == ["the", "cat"]
    for bad, name in ((5, "int"), (None, "NoneType"), (["the", 5], "list")):
        with pytest.raises(TypeError, match=f"input 2: expected a sentence .* got {name}"):
            tasks.predict(run.trained, ["the cat", bad])
