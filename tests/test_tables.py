"""Data in memory, DataFrames, Hugging Face datasets and .jsonl/.parquet files (issue 17, part 3):
every form trains the same weights as the equivalent file with the same seed, predict and evaluate
read them, and bad input is one line."""

from __future__ import annotations

import datetime
import json
import math
import subprocess
import sys
from pathlib import Path

import datasets
import numpy as np
import pandas as pd
import pytest
import torch
from cli_helpers import run

import rnnkit
from rnnkit.config import ConfigError
from rnnkit.errors import RnnkitError
from rnnkit.tasks import resolve_config

TINY = {"max_steps": 2, "eval_every": 2, "batch_size": 4, "out_dir": None, "seed": 3}
MODELS = {
    # the network alone: a tiny one still errs, so predictions differ from the gold labels
    "classify": {"embedding_dim": 4, "hidden_size": 4, "hybrid": False},
    "tag": {"embedding_dim": 4, "hidden_size": 4, "char_filters": 2, "char_embedding_dim": 4},
    "lm": {"embedding_size": 4, "hidden_size": 8},
    "forecast": {"hidden_size": 4},
}
WORDS = {"pos": "good great fine nice", "neg": "bad awful poor dull"}
PAIRS = [
    (f"{' '.join(WORDS[k].split()[i % 4 :])} film", k) for i, k in enumerate(["pos", "neg"] * 10)
]
SENTENCES = [
    [("the", "DET"), ("cat", "NOUN"), ("sat", "VERB")][i % 2 :] + [("now", "ADV")] * (i % 3)
    for i in range(16)
]
TEXTS = [f"line {i}: the cat sat on the mat." for i in range(12)]
DAYS = [datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in range(60)]
VALUES = [round(10 + 5 * math.sin(i / 6), 3) for i in range(60)]


def _train(task: str, data: dict) -> rnnkit.RunResult:
    settings = {"data": data, "model": MODELS[task], "train": TINY}
    return rnnkit.train(task, settings, log=lambda message: None)


def _same_weights(a: rnnkit.RunResult, b: rnnkit.RunResult) -> None:
    first, second = a.trained.model.state_dict(), b.trained.model.state_dict()
    assert list(first) == list(second)
    for name, tensor in first.items():
        assert torch.equal(tensor, second[name]), name


def _dataset(columns: dict, features: dict | None = None) -> datasets.Dataset:
    return datasets.Dataset.from_dict(
        columns, features=None if features is None else datasets.Features(features)
    )


# --------------------------------------------------------------------------- classify
def _classify_forms(tmp_path: Path) -> dict:
    rows = [{"text": t, "label": y} for t, y in PAIRS]
    (tmp_path / "c.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    frame = pd.DataFrame(rows)
    frame.to_parquet(tmp_path / "c.parquet")
    names = ["neg", "pos"]  # a ClassLabel column: read as the class names
    labelled = _dataset(
        {"text": [t for t, _ in PAIRS], "label": [names.index(y) for _, y in PAIRS]},
        {"text": datasets.Value("string"), "label": datasets.ClassLabel(names=names)},
    )
    return {
        "pairs": PAIRS,
        "records": rows,
        "DataFrame": frame,
        "Dataset": labelled,
        "jsonl": str(tmp_path / "c.jsonl"),
        "parquet": tmp_path / "c.parquet",
    }


@pytest.fixture(scope="module")
def classify_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("classify")
    (root / "train.tsv").write_text(
        "text\tlabel\n" + "".join(f"{t}\t{y}\n" for t, y in PAIRS), "utf-8"
    )
    return root, _train("classify", {"train": str(root / "train.tsv")})


@pytest.mark.parametrize("form", ["pairs", "records", "DataFrame", "Dataset", "jsonl", "parquet"])
def test_classify_from_each_form_equals_the_file(classify_file, form, tmp_path):
    from_file = classify_file[1]
    given = _classify_forms(tmp_path)[form]
    from_memory = _train("classify", {"train": given})
    _same_weights(from_file, from_memory)
    assert from_memory.reports[0].rows == from_file.reports[0].rows


def test_a_datasetdict_gives_train_and_validation(tmp_path):
    head, tail = PAIRS[:14], PAIRS[14:]
    for name, part in (("train.tsv", head), ("dev.tsv", tail)):
        lines = "".join(f"{t}\t{y}\n" for t, y in part)
        (tmp_path / name).write_text("text\tlabel\n" + lines, "utf-8")
    from_files = _train(
        "classify", {"train": str(tmp_path / "train.tsv"), "val": str(tmp_path / "dev.tsv")}
    )
    splits = datasets.DatasetDict(
        {
            name: _dataset({"text": [t for t, _ in part], "label": [y for _, y in part]})
            for name, part in (("train", head), ("validation", tail))
        }
    )
    from_splits = _train("classify", {"train": splits})
    _same_weights(from_files, from_splits)
    assert from_splits.reports[0].rows == from_files.reports[0].rows
    data = from_splits.config.to_dict()["data"]
    assert data["train"] == "<in-memory: Dataset of 14 rows (text, label)>"
    assert data["val"] == "<in-memory: Dataset of 6 rows (text, label)>"
    # a validation set given beside it wins over the dict's validation split
    config, _ = resolve_config("classify", {"data": {"train": splits, "val": PAIRS[:4]}})
    assert str(config.data.val) == "<in-memory: list of 4 (text, label) pairs>"


# --------------------------------------------------------------------------- tag
def _tag_forms(tmp_path: Path) -> dict:
    tokens = [[w for w, _ in s] for s in SENTENCES]
    tags = [[t for _, t in s] for s in SENTENCES]
    rows = [{"tokens": w, "tags": t} for w, t in zip(tokens, tags)]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    pd.DataFrame(rows).to_parquet(tmp_path / "t.parquet")
    names = sorted({t for s in tags for t in s})
    classes = datasets.Sequence(datasets.ClassLabel(names=names))
    return {
        "pairs": SENTENCES,
        "columns": list(zip(tokens, tags)),
        "records": rows,
        "DataFrame": pd.DataFrame(rows),
        "Dataset": _dataset(  # ner_tags of ClassLabel ids: read as their names
            {"tokens": tokens, "ner_tags": [[names.index(t) for t in s] for s in tags]},
            {"tokens": datasets.Sequence(datasets.Value("string")), "ner_tags": classes},
        ),
        "jsonl": tmp_path / "t.jsonl",
        "parquet": str(tmp_path / "t.parquet"),
    }


@pytest.fixture(scope="module")
def tag_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("tag")
    text = "\n".join("".join(f"{w}\t{t}\n" for w, t in s) for s in SENTENCES)
    (root / "train.conll").write_text(text, "utf-8")
    return root, _train("tag", {"train": str(root / "train.conll")})


@pytest.mark.parametrize(
    "form", ["pairs", "columns", "records", "DataFrame", "Dataset", "jsonl", "parquet"]
)
def test_tag_from_each_form_equals_the_file(tag_file, form, tmp_path):
    from_file = tag_file[1]
    from_memory = _train("tag", {"train": _tag_forms(tmp_path)[form]})
    _same_weights(from_file, from_memory)
    assert from_memory.reports[0].rows == from_file.reports[0].rows


# --------------------------------------------------------------------------- lm
@pytest.mark.parametrize("form", ["texts", "DataFrame", "Dataset"])
def test_lm_from_each_form_equals_the_file(form, tmp_path):
    (tmp_path / "text.txt").write_text("\n".join(TEXTS), "utf-8")
    lm = {"seq_len": 8}
    from_file = _train("lm", {**lm, "train": str(tmp_path / "text.txt")})
    given = {
        "texts": TEXTS,
        "DataFrame": pd.DataFrame({"text": TEXTS}),
        "Dataset": _dataset({"text": TEXTS}),
    }[form]
    from_memory = _train("lm", {**lm, "train": given})
    _same_weights(from_file, from_memory)
    assert from_memory.reports[0].rows == from_file.reports[0].rows


# --------------------------------------------------------------------------- forecast
@pytest.mark.parametrize("form", ["numbers", "array", "DataFrame", "Dataset"])
def test_forecast_from_each_form_equals_the_file(form, tmp_path):
    dated = form in ("DataFrame", "Dataset")
    dates = [str(d) for d in DAYS] if dated else [f"t{n}" for n in range(1, 61)]
    lines = "".join(f"{d},{v}\n" for d, v in zip(dates, VALUES))
    (tmp_path / "s.csv").write_text("Date,y\n" + lines, "utf-8")
    series = {"target": "y", "lookback": 5}
    from_file = _train("forecast", {**series, "train": str(tmp_path / "s.csv")})
    given = {
        "numbers": lambda: VALUES,
        "array": lambda: np.array(VALUES),
        "DataFrame": lambda: pd.DataFrame({"Date": pd.to_datetime(dates), "y": VALUES}),
        "Dataset": lambda: _dataset({"Date": pd.to_datetime(dates), "y": VALUES}),  # timestamps
    }[form]()
    from_memory = _train("forecast", {**series, "train": given})
    _same_weights(from_file, from_memory)
    assert from_memory.reports[-1].rows == from_file.reports[-1].rows
    assert from_memory.trained.state.input_names == from_file.trained.state.input_names


# --------------------------------------------------------------------------- predict, evaluate
def test_predict_and_evaluate_read_the_same_forms(classify_file, tag_file, tmp_path):
    root, trained = classify_file[0], classify_file[1].trained
    frame = pd.DataFrame({"text": [t for t, _ in PAIRS[:3]], "label": [y for _, y in PAIRS[:3]]})
    records = rnnkit.predict(trained, [t for t, _ in PAIRS[:3]])
    table = rnnkit.predict(trained, frame)
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["text", "label", "predicted_label", "probabilities"]
    assert table["predicted_label"].tolist() == [r["label"] for r in records]
    right = frame.assign(label=[r["label"] for r in records])  # gold equal to every prediction
    assert "predicted_label" in rnnkit.predict(trained, right).columns
    assert rnnkit.predict(trained, _dataset(frame.to_dict("list"))) == records
    assert rnnkit.predict(trained, frame.to_dict("records")) == records
    whole = pd.DataFrame(PAIRS, columns=["text", "label"])
    from_file = rnnkit.evaluate(trained, str(root / "train.tsv"))[0]
    for given in (whole, PAIRS, _dataset(whole.to_dict("list"))):
        report = rnnkit.evaluate(trained, given)[0]
        assert (report.rows, report.title) == (from_file.rows, "20 examples")

    tagger = tag_file[1].trained
    tokens = [[w for w, _ in s] for s in SENTENCES[:4]]
    tagged = rnnkit.predict(tagger, pd.DataFrame({"tokens": tokens}))
    assert list(tagged.columns) == ["tokens", "tags"]  # the tokens are the input's
    assert tagged["tags"].tolist() == [r["tags"] for r in rnnkit.predict(tagger, tokens)]
    from_conll = rnnkit.evaluate(tagger, str(tag_file[0] / "train.conll"))[0]
    for form in ("pairs", "DataFrame", "Dataset"):
        assert rnnkit.evaluate(tagger, _tag_forms(tmp_path)[form])[0].rows == from_conll.rows


def test_forecast_predicts_from_a_dataframe(tmp_path):
    frame = pd.DataFrame({"Date": pd.to_datetime(DAYS), "y": VALUES})
    result = _train("forecast", {"train": frame, "target": "y", "lookback": 5})
    (tmp_path / "s.csv").write_text(frame.to_csv(index=False), "utf-8")
    expected = rnnkit.predict(result.trained, str(tmp_path / "s.csv"))
    forecast = rnnkit.predict(result.trained, frame)
    assert forecast.to_dict("records") == [
        {k: v for k, v in r.items() if k != "line"} for r in expected
    ]
    evaluated = rnnkit.evaluate(result.trained, frame.set_index("Date"))[0]
    assert evaluated.rows == rnnkit.evaluate(result.trained, str(tmp_path / "s.csv"))[0].rows


# --------------------------------------------------------------------------- runs, resume, CLI
def test_a_run_records_a_description_and_resumes_only_with_the_data(tmp_path):
    settings = {
        "data": {"train": PAIRS},
        "model": MODELS["classify"],
        "train": {**TINY, "out_dir": str(tmp_path / "run")},
    }
    rnnkit.train("classify", settings, log=lambda message: None)
    saved = json.loads((tmp_path / "run" / "config.json").read_text("utf-8"))
    assert saved["data"]["train"] == "<in-memory: list of 20 (text, label) pairs>"
    with pytest.raises(ConfigError) as info:
        rnnkit.train("classify", {"train": {"max_steps": 4}}, resume=tmp_path / "run")
    assert str(info.value) == (
        "data.train: the run was trained on data in memory, <in-memory: list of 20 (text, "
        "label) pairs>, which it does not keep: give the data again"
    )
    again = {"data": {"train": PAIRS}, "train": {"max_steps": 4}}
    resumed = rnnkit.train("classify", again, resume=tmp_path / "run", log=lambda m: None)
    assert (resumed.start_step, resumed.train.step) == (2, 4)
    model = rnnkit.load(tmp_path / "run")  # the checkpoint loads with weights_only
    assert model.config.data.train == "<in-memory: list of 20 (text, label) pairs>"


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_the_command_line_trains_on_a_jsonl_file(task, tmp_path, capsys):
    data = (_classify_forms if task == "classify" else _tag_forms)(tmp_path)["jsonl"]
    small = ["--embedding", "4", "--hidden", "4"]
    small += ["--char-filters", "2"] if task == "tag" else []
    code, _, err = run(
        capsys, "train", task, "--data", data, *small, "--steps", "2", "--out", tmp_path / "run"
    )
    assert code == 0, err
    code, out, err = run(capsys, "evaluate", tmp_path / "run", "--data", data)
    assert code == 0, err
    assert "accuracy" in out
    code, out, err = run(capsys, "predict", tmp_path / "run", "--input", data)
    assert (code, len(out.splitlines())) == (0, 20 if task == "classify" else 16), err


def test_a_parquet_file_without_pandas_names_the_extra(tmp_path, monkeypatch):
    pd.DataFrame({"text": ["a"], "label": ["pos"]}).to_parquet(tmp_path / "d.parquet")
    monkeypatch.setitem(sys.modules, "pandas", None)  # as if it were not installed
    with pytest.raises(
        RnnkitError, match=r'needs pandas, which is not installed: pip install "rnnkit\[pandas\]"'
    ):
        _train("classify", {"train": tmp_path / "d.parquet"})


def test_importing_rnnkit_imports_neither_pandas_nor_datasets():
    code = "import sys, rnnkit; print(sorted({'pandas', 'datasets'} & set(sys.modules)))"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert found.strip() == "[]"


# --------------------------------------------------------------------------- bad input
def test_bad_data_in_memory_is_one_line(tmp_path):
    frame = pd.DataFrame({"review": ["a"], "stars": [1]})
    cases = [
        (
            "classify",
            {"train": frame},
            RnnkitError,
            (
                "<in-memory: DataFrame of 1 row (review, stars)>: no column 'text' (the text "
                "column); available columns: review, stars"
            ),
        ),
        (
            "classify",
            {"train": datasets.DatasetDict({"test": _dataset({"text": ["a"], "label": [1]})})},
            ConfigError,
            (
                "data.train: expected a DatasetDict with a 'train' split, got one with the splits "
                "'test'"
            ),
        ),
        (
            "tag",
            {"train": []},
            ConfigError,
            "data.train: expected a file path or a non-empty list, got an empty list",
        ),
        (
            "classify",
            {"train": [("good", 1), ("bad", "neg")]},
            RnnkitError,
            (
                "<in-memory: list of 2 (text, label) pairs>: labels of mixed types, int (1) and str "
                "('neg'); expected labels of one type"
            ),
        ),
        (
            "forecast",
            {"train": [1.0, 2.0, float("nan"), 4.0] * 10, "target": "y", "lookback": 3},
            RnnkitError,
            (
                "<in-memory: list of 40 numbers> column 'y' has 10 missing value(s) (rows 3, 7, 11, "
                "15, 19, ...); fill them with --fill ffill or --fill interpolate (fill in the data "
                "config)"
            ),
        ),
    ]
    for task, data, error, message in cases:
        with pytest.raises(error) as info:
            _train(task, data)
        assert str(info.value) == message
    with pytest.raises(ConfigError) as info:
        rnnkit.evaluate(_train("tag", {"train": SENTENCES}).trained, [])
    assert str(info.value) == "data: expected data to evaluate on, got an empty list"
    filled = {"train": [1.0, 2.0, float("nan"), 4.0] * 10, "target": "y", "fill": "ffill"}
    _train("forecast", {**filled, "lookback": 3})  # the NaNs filled: it trains
    with pytest.raises(RnnkitError) as info:
        rnnkit.predict(_train("classify", {"train": PAIRS}).trained, frame)
    assert str(info.value) == (
        "<in-memory: DataFrame of 1 row (review, stars)>: no column 'text' (the text column of "
        "the training data); available columns: review, stars"
    )


def test_evaluate_asks_for_one_split_of_a_datasetdict(classify_file):
    splits = datasets.DatasetDict({"test": _dataset({"text": ["a"], "label": ["pos"]})})
    with pytest.raises(RnnkitError) as info:
        rnnkit.evaluate(classify_file[1].trained, splits)
    assert str(info.value) == (
        "expected one split of the DatasetDict (e.g. data['test']), got the DatasetDict of the "
        "splits 'test'"
    )
    assert rnnkit.evaluate(classify_file[1].trained, splits["test"])[0].title == "1 example"
