"""rnnkit.config and the task configs: one name for one idea (data.train, *_col) with the older
names still read, path-like paths, and in-memory data refused in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run

import rnnkit
from rnnkit.config import ConfigError, read_config_file
from rnnkit.errors import RnnkitError
from rnnkit.tasks import TASKS, resolve_config
from rnnkit.tasks.lm import LMData


class FakeFrame:
    """Stands for a pandas DataFrame: ``==`` gives no bool and its truth value raises."""

    def __eq__(self, other):
        return self

    def __bool__(self):
        raise ValueError("The truth value of a DataFrame is ambiguous.")

    __hash__ = object.__hash__


@pytest.mark.parametrize("task", ["lm", "classify", "tag", "forecast"])
def test_the_data_file_is_data_train_in_every_task(task):
    fields = TASKS[task].config_class().data.__dataclass_fields__
    assert fields["train"].metadata["flag"] == "data"
    assert "train" in fields["train"].metadata["aliases"]


@pytest.mark.parametrize(
    ("task", "old", "new"),
    [
        ("lm", {"text": "a.txt"}, {"train": "a.txt"}),
        ("forecast", {"csv": "a.csv", "target": "T"}, {"train": "a.csv", "target": "T"}),
        ("forecast", {"date_column": "D", "target": "T"}, {"date_col": "D", "target": "T"}),
    ],
)
def test_older_names_are_read_as_the_new_ones(task, old, new, tmp_path):
    config, _ = resolve_config(task, {"data": old})
    assert config == resolve_config(task, {"data": new})[0]
    # in a config file, and given again under the new name on the command line: that one wins
    path = tmp_path / "old.json"
    path.write_text(json.dumps({"data": old}))
    given = {"data": {**read_config_file(path)["data"], "train": "b"}}
    assert resolve_config(task, given)[0].data.train == "b"


def test_a_checkpoint_with_older_names_is_given_the_file_again(tmp_path):
    # a resumed run of an older version: its saved data.text, the new --data given again
    saved = {"data": {"text": "old.txt"}}
    merged = TASKS["lm"].config_class.current_names(saved)
    assert merged == {"data": {"train": "old.txt"}}
    assert LMData.from_dict({"text": "a", "train": "b"}).train == "b"  # the current name wins


def test_old_flags_still_work(capsys):
    code, out, err = run(capsys, "train", "lm", "--text", "t.txt", "--print-config", "json")
    assert code == 0, err
    assert json.loads(out)["data"]["train"] == "t.txt"
    argv = ["--csv", "s.csv", "--target", "T", "--date-column", "D", "--print-config", "json"]
    code, out, err = run(capsys, "train", "forecast", *argv)
    assert code == 0, err
    assert (json.loads(out)["data"]["train"], json.loads(out)["data"]["date_col"]) == ("s.csv", "D")


@pytest.mark.parametrize("task", ["lm", "classify", "tag", "forecast"])
def test_a_path_is_accepted_wherever_a_path_is_expected(task, tmp_path):
    given = {
        "data": {"train": tmp_path / "data.txt", "target": "T"},
        "train": {"out_dir": tmp_path},
    }
    if task != "forecast":
        del given["data"]["target"]
    config, _ = resolve_config(task, given)
    assert config.data.train == str(tmp_path / "data.txt")
    assert config.train.out_dir == str(tmp_path)
    json.dumps(config.to_dict())  # plain strings: config.json can hold it


def test_what_cannot_be_data_is_refused_in_one_line():
    """Data in memory is read (issue 17, tests/test_tables.py); what is no data says so."""
    with pytest.raises(RnnkitError) as info:
        rnnkit.train("classify", {"data": {"train": FakeFrame()}})
    assert str(info.value) == (
        "expected a file, a DataFrame, a datasets.Dataset or a list of (text, label) pairs, "
        "got FakeFrame"
    )
    with pytest.raises(ConfigError) as info:
        rnnkit.train("lm", {"data": {"train": 3}})
    assert str(info.value) == (
        "data.train: expected a file path or data in memory (a list, a DataFrame, a "
        "datasets.Dataset), got 3 (int)"
    )


def test_a_validation_file_for_the_language_model(tmp_path, capsys):
    text = "".join(f"line {i}: the cat sat on the mat.\n" for i in range(40))
    (tmp_path / "train.txt").write_text(text, encoding="utf-8")
    (tmp_path / "val.txt").write_text("the mat sat on the cat.\n" * 3, encoding="utf-8")
    argv = ["--data", tmp_path / "train.txt", "--val", tmp_path / "val.txt", "--seq-len", 8]
    argv += ["--embedding", 8, "--hidden", 8, "--steps", 2, "--eval-every", 2, "--batch-size", 2]
    code, out, err = run(capsys, "train", "lm", *argv, "--out", tmp_path / "run", "--device", "cpu")
    assert code == 0, err
    # all of the training file trains; the report reads the whole validation file
    assert f"validation: 72 characters of {tmp_path / 'val.txt'}" in out
    assert f"corpus: {tmp_path / 'train.txt'}, {len(text):,} characters" in err
    code, _, err = run(capsys, "train", "lm", "--data", tmp_path / "train.txt", "--val", "nope.txt")
    assert_one_line_error(code, err, "validation file not found: nope.txt")


def test_the_language_model_inspects_its_validation_file(tmp_path):
    (tmp_path / "train.txt").write_text("abcd" * 50, encoding="utf-8")
    (tmp_path / "val.txt").write_text("dcba", encoding="utf-8")
    settings = {
        "data": {"train": Path(tmp_path / "train.txt"), "val": tmp_path / "val.txt", "seq_len": 4},
        "model": {"embedding_size": 4, "hidden_size": 4},
        "train": {"max_steps": 1, "batch_size": 2, "out_dir": None, "progress": False},
    }
    result = rnnkit.train("lm", settings, log=lambda message: None)
    assert TASKS["lm"].inspection_text(result.trained) == "dcba"
