"""The ``rnnkit`` command line itself: parsing, config files, error messages, where output goes.

Commands run in-process through ``main(argv)``; one test runs the real command in a subprocess
with its standard output redirected to a file. What each task's commands compute is tested in
test_task_*.py and test_task_contract.py.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from cli_helpers import assert_one_line_error, run

import rnnkit
from rnnkit.cli.main import build_parser
from rnnkit.tasks import TASKS
from rnnkit.training.settings import TrainConfig

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

COMMANDS = ["train", "sample", "evaluate", "predict", "plot", "inspect", "export", "demo"]


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def classify_run(tmp_path_factory):
    """A tiny classifier (the task's own example data): ``(folder, run directory)``."""
    folder = tmp_path_factory.mktemp("classify")
    example = TASKS["classify"].example(folder)
    settings = json.loads(json.dumps(example.settings))
    settings["train"].update(out_dir=str(folder / "run"), device="cpu", progress=False)
    rnnkit.train("classify", settings, log=lambda message: None)
    return folder, folder / "run"


def _config(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- parsing
def test_version(capsys):
    code, out, err = run(capsys, "--version")
    assert code == 0 and err == ""
    assert out == f"rnnkit {rnnkit.__version__}\n"


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["train"],
    ],
    ids=["rnnkit", "rnnkit-train"],
)
def test_no_command_prints_help_on_stderr_and_exits_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith(f"usage: {' '.join(['rnnkit', *argv])} ")


@pytest.mark.parametrize(
    "argv",
    [
        ["--no-such-option"],
        ["train", "lm", "--no-such-option"],
        ["evaluate", "run", "--no-such-option"],
    ],
)
def test_unknown_option_exits_2(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == "rnnkit: error: unrecognized arguments: --no-such-option"


@pytest.mark.parametrize(
    "argv",
    [[c] for c in COMMANDS] + [["train", name] for name in TASKS],
    ids=lambda argv: " ".join(argv),
)
def test_every_command_has_help(capsys, argv):
    code, out, err = run(capsys, *argv, "--help")
    assert code == 0 and err == ""
    assert out.startswith(f"usage: rnnkit {' '.join(argv)} ")


def _option_helps(parser, command=("rnnkit",)):
    """``(command, option, help as shown)`` of every option of ``parser`` and its subcommands."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _option_helps(sub, (*command, name))
        elif action.help not in (None, argparse.SUPPRESS):
            shown = parser._get_formatter()._expand_help(action)
            yield " ".join(command), "/".join(action.option_strings) or action.dest, shown


def test_no_option_says_required_or_its_default_twice():
    helps = list(_option_helps(build_parser()[0]))
    commands = {command for command, _, _ in helps}
    assert {f"rnnkit {c}" for c in COMMANDS} | {f"rnnkit train {t}" for t in TASKS} <= commands
    twice = [
        (command, option, text)
        for command, option, text in helps
        if text.count("(required") + text.count("(default:") > 1
    ]
    assert twice == []
    shown = {(command, option): text for command, option, text in helps}
    target = shown["rnnkit train forecast", "--target"]
    assert target == "the column to forecast (required)"
    progress = shown["rnnkit train lm", "--progress/--no-progress"]
    assert progress == "show a progress bar on stderr (default: when stderr is a terminal)"


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "classify", "--text", "x"],  # must not become --text-col
        ["train", "lm", "--hid", "8"],  # must not become --hidden
        ["sample", "run", "--temp", "0.5"],  # must not become --temperature
        ["predict", "run", "--input", "x", "--out", "y"],  # must not become --output
    ],
)
def test_abbreviated_options_are_refused(capsys, argv):
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert err.splitlines()[-1] == f"rnnkit: error: unrecognized arguments: {' '.join(argv[-2:])}"


def test_an_unknown_task_exits_2(capsys):
    code, out, err = run(capsys, "train", "nosuch")
    assert code == 2 and out == ""
    assert err.splitlines()[-1].startswith(
        "rnnkit train: error: argument TASK: invalid choice: 'nosuch' (choose from 'lm', "
    )


# --------------------------------------------------------------------------- config files
def test_a_config_file_that_does_not_parse_gives_line_and_column(tmp_path, capsys):
    toml = _config(tmp_path, "bad.toml", "[train]\nlr = 0.1\nmax_steps = = 3\n")
    code, out, err = run(capsys, "train", "lm", "--config", toml)
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(f"rnnkit: error: config file {toml} does not parse: ")
    assert "line 3, column 13" in err
    js = _config(tmp_path, "bad.json", '{"train": {"lr": 0.1,\n "max_steps": }}\n')
    code, out, err = run(capsys, "train", "lm", "--config", js)
    assert_one_line_error(
        code, err, f"config file {js} does not parse: Expecting value at line 2, column 15"
    )


def test_a_config_file_of_another_kind_or_missing(tmp_path, capsys):
    yaml = _config(tmp_path, "settings.yaml", "train: {}\n")
    code, _, err = run(capsys, "train", "lm", "--config", yaml)
    assert_one_line_error(code, err, f"config file {yaml}: expected a .toml or .json file")
    code, _, err = run(capsys, "train", "lm", "--config", tmp_path / "none.toml")
    assert_one_line_error(code, err, f"config file not found: {tmp_path / 'none.toml'}")
    top = _config(tmp_path, "list.json", "[1, 2]")
    code, _, err = run(capsys, "train", "lm", "--config", top)
    assert_one_line_error(
        code, err, f"config file {top}: expected a table of settings, got [1, 2] (list)"
    )


def test_a_wrong_type_or_unknown_key_names_the_key(tmp_path, capsys):
    wrong = _config(tmp_path, "wrong.toml", '[train]\nlr = "fast"\n')
    code, _, err = run(capsys, "train", "lm", "--config", wrong)
    assert_one_line_error(code, err, "train.lr: expected a float, got 'fast' (str)")
    wrong = _config(tmp_path, "wrong.json", '{"model": {"hidden_size": 1.5}}')
    code, _, err = run(capsys, "train", "lm", "--config", wrong)
    assert_one_line_error(code, err, "model.hidden_size: expected an int, got 1.5 (float)")
    unknown = _config(tmp_path, "unknown.toml", "[train]\nlrate = 0.1\n")
    accepted = ", ".join(f.name for f in dataclasses.fields(TrainConfig))
    code, _, err = run(capsys, "train", "lm", "--config", unknown)
    assert_one_line_error(code, err, f"train.lrate: unknown key; accepted: {accepted}")
    section = _config(tmp_path, "section.toml", "[trian]\nlr = 0.1\n")
    code, _, err = run(capsys, "train", "lm", "--config", section)
    assert_one_line_error(code, err, "trian: unknown key; accepted: data, model, train")


def test_values_no_check_can_compare_are_refused_in_one_line(tmp_path, capsys):
    """Found by fuzzing: ``--val-size inf`` raised OverflowError inside its range check (a
    traceback), a JSON integer beyond the floats (``1e400`` written out) OverflowError in the
    conversion, and a key holding a line break broke the message across lines."""
    code, _, err = run(capsys, "train", "forecast", "--val-size", "inf", "--print-config")
    assert_one_line_error(
        code,
        err,
        "--val-size: expected a value a fraction in [0, 1) or a whole number of steps, got inf",
    )
    huge = _config(tmp_path, "huge.json", '{"train": {"lr": 1' + "0" * 400 + "}}")
    code, _, err = run(capsys, "train", "lm", "--config", huge, "--print-config")
    assert_one_line_error(code, err, "train.lr: expected a number, got an integer of 401 digits")
    key = _config(tmp_path, "key.json", '{"train": {"l\\nr": 1}}')
    code, _, err = run(capsys, "train", "lm", "--config", key, "--print-config")
    assert code == 2 and err.startswith("rnnkit: error: train.'l\\nr': unknown key; accepted:")


def test_a_section_that_is_not_a_table_is_named(tmp_path, capsys):
    """Found by fuzzing: ``train = 5`` in a config file raised TypeError (argument of type 'int'
    is not iterable) while looking for a time budget in it."""
    flat = _config(tmp_path, "flat.toml", "train = 5\n")
    code, _, err = run(capsys, "train", "tag", "--config", flat, "--print-config")
    assert_one_line_error(code, err, "train: expected a table of settings, got 5 (int)")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["synthetic", "--seed", str(2**40)], "--seed: expected a value between -2**32 and"),
        (["synthetic", "--data-seed", str(-(2**40))], "--data-seed: expected a value between"),
        (["classify", "--delimiter", "ab"], "--delimiter: expected a value of one character"),
        (["synthetic", "--n-symbols", "1" + "0" * 19], "--n-symbols: expected an integer of 64"),
        (["forecast", "--horizon", "9" * 30], "--horizon: expected an integer of 64 bits at most"),
    ],
)
def test_seeds_torch_cannot_take_and_long_delimiters_are_refused(argv, expected, capsys):
    """Found by fuzzing: a seed of 10**30 failed deep in training with "Overflow when unpacking
    long long", and so did a size beyond 64 bits (with a page of C++ context); ``--delimiter
    ab`` failed with the csv module's TypeError, naming no option."""
    code, _, err = run(capsys, "train", *argv, "--print-config")
    assert code == 2 and err.startswith(f"rnnkit: error: {expected}"), err
    assert len(err.splitlines()) == 1


def test_print_config_toml_by_default_json_on_request_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    code, toml, err = run(capsys, "train", "lm", "--out", out, "--hidden", 12, "--print-config")
    assert code == 0 and err == ""
    code, js, err = run(
        capsys, "train", "lm", "--out", out, "--hidden", 12, "--print-config", "json"
    )
    assert code == 0 and err == ""
    assert not out.exists()
    settings = json.loads(js)
    assert settings["model"]["hidden_size"] == 12 and settings["train"]["out_dir"] == str(out)
    # TOML has no null: an unset value is written "none"
    unset = {
        section: {k: "none" if v is None else v for k, v in values.items()}
        for section, values in settings.items()
    }
    assert toml.startswith("[data]\n") and tomllib.loads(toml) == unset
    # both read back as config files; with a .json config the default format is JSON
    back = _config(tmp_path, "back.toml", toml)
    assert run(capsys, "train", "lm", "--config", back, "--print-config", "json")[1] == js
    back = _config(tmp_path, "back.json", js)
    assert run(capsys, "train", "lm", "--config", back, "--print-config")[1] == js
    assert not out.exists()


def test_command_line_options_override_the_config_file(tmp_path, capsys):
    config = _config(
        tmp_path,
        "c.toml",
        '[model]\nhidden_size = 12\n[train]\nlr = 0.5\nmax_steps = 7\nout_dir = "somewhere"\n',
    )
    code, printed, err = run(
        capsys,
        "train",
        "lm",
        "--config",
        config,
        "--lr",
        0.25,
        "--out",
        tmp_path / "run",
        "--print-config",
        "json",
    )
    assert code == 0, err
    settings = json.loads(printed)
    assert settings["train"]["lr"] == 0.25 and settings["train"]["out_dir"] == str(tmp_path / "run")
    assert settings["train"]["max_steps"] == 7 and settings["model"]["hidden_size"] == 12
    assert settings["train"]["batch_size"] == 32  # the task's default where neither says


def test_a_value_typed_on_the_command_line_is_named_by_its_option(tmp_path, capsys):
    code, _, err = run(capsys, "train", "lm", "--lr", -1)
    assert_one_line_error(code, err, "--lr: expected a value > 0, got -1.0")
    code, _, err = run(capsys, "train", "classify", "--data", "x.tsv", "--dropout", 1)
    assert_one_line_error(code, err, "--dropout: expected a value in [0, 1), got 1.0")
    # the same value from a config file is named by its key
    config = _config(tmp_path, "c.toml", "[train]\nlr = -1\n")
    code, _, err = run(capsys, "train", "lm", "--config", config)
    assert_one_line_error(code, err, "train.lr: expected a value > 0, got -1.0")
    # a malformed number is argparse's usage error
    code, _, err = run(capsys, "train", "lm", "--lr", "fast")
    assert code == 2
    assert err.splitlines()[-1] == (
        "rnnkit train lm: error: argument --lr: expected a number, got 'fast'"
    )


def test_a_missing_required_setting_names_the_option(tmp_path, capsys):
    code, _, err = run(capsys, "train", "classify")
    assert_one_line_error(code, err, "--data: required, but not set")
    code, _, err = run(capsys, "train", "classify", "--val", tmp_path / "dev.tsv")
    assert_one_line_error(code, err, "--data: required, but not set")


def test_max_minutes_alone_removes_the_step_limit(tmp_path, capsys):
    def train_settings(*argv):
        code, printed, err = run(capsys, "train", "lm", *argv, "--print-config", "json")
        assert code == 0, err
        return json.loads(printed)["train"]

    assert train_settings()["max_steps"] == 3000
    assert train_settings("--max-minutes", 2) == {
        **train_settings(),
        "max_steps": None,
        "max_minutes": 2.0,
    }
    assert train_settings("--max-minutes", 2, "--steps", 50)["max_steps"] == 50
    config = _config(tmp_path, "budget.toml", "[train]\nmax_minutes = 2\n")
    assert train_settings("--config", config)["max_steps"] is None


# --------------------------------------------------------------------------- checkpoints
def test_a_checkpoint_of_another_task_is_refused_in_one_line(classify_run, capsys):
    _, out = classify_run
    code, _, err = run(capsys, "train", "lm", "--resume", out)
    assert_one_line_error(
        code, err, f"checkpoint {out / 'last.pt'} is for task 'classify', not 'lm'"
    )
    code, printed, err = run(capsys, "sample", out)
    assert_one_line_error(
        code,
        err,
        f"sampling needs a character language model; {out / 'best.pt'} is a 'classify' model",
    )
    assert printed == ""


# --------------------------------------------------------------------------- where output goes
def test_predict_output_file_is_written_whole_and_stdout_stays_empty(
    classify_run, tmp_path, capsys, monkeypatch
):
    folder, out = classify_run
    target = tmp_path / "pred.jsonl"
    renames = []
    real_replace = os.replace

    def replace(source, destination):  # see each rename: a complete file beside the target
        renames.append((Path(source), Path(destination), Path(source).read_text(encoding="utf-8")))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", replace)
    code, printed, err = run(
        capsys,
        "predict",
        out,
        "--input",
        folder / "inputs.txt",
        "--output",
        target,
        "--device",
        "cpu",
    )
    assert code == 0 and printed == "" and err == ""
    text = target.read_text(encoding="utf-8")
    assert [json.loads(line)["line"] for line in text.splitlines()] == [1, 2, 3]
    ((source, destination, written),) = renames
    assert destination == target and source.parent == target.parent and written == text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pred.jsonl"]  # no temporary file left
    # a failed prediction leaves the old file as it was
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    code, printed, err = run(capsys, "predict", out, "--input", empty, "--output", target)
    assert_one_line_error(code, err, f"no input text in {empty}")
    assert printed == "" and target.read_text(encoding="utf-8") == text
    # without --output, the same lines go to standard output
    code, printed, _ = run(capsys, "predict", out, "--input", folder / "inputs.txt")
    assert code == 0 and printed == text


def test_train_writes_logs_on_stderr_and_results_on_stdout(tmp_path):
    """``rnnkit train classify ... > out``: the file holds the results, no log line."""
    settings = TASKS["classify"].example(tmp_path).settings
    config = _config(tmp_path, "example.json", json.dumps(settings))
    stdout, stderr = tmp_path / "stdout.txt", tmp_path / "stderr.txt"
    command = [
        sys.executable,
        "-c",
        "from rnnkit.cli.main import console_main; console_main()",
        "train",
        "classify",
        "--config",
        str(config),
        "--out",
        str(tmp_path / "run"),
        "--device",
        "cpu",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with stdout.open("w") as out_file, stderr.open("w") as err_file:
        code = subprocess.run(
            command, check=False, stdout=out_file, stderr=err_file, env=env, timeout=300
        ).returncode
    out, err = stdout.read_text(encoding="utf-8"), stderr.read_text(encoding="utf-8")
    assert code == 0, err
    assert out.startswith("trained 4 steps") and "accuracy" in out
    assert out.rstrip("\n").endswith(
        f"saved in {tmp_path / 'run'}: best.pt, last.pt, metrics.jsonl, config.json"
    )
    assert "validation" in err and "step 2: validation" in err
    assert "step 2: validation" not in out
    assert not re.search(r"^step \d+:", out, re.MULTILINE)
    assert "writing checkpoints" not in out


def test_an_unknown_cell_is_one_line_that_lists_the_known_cells(capsys):
    code, out, err = run(capsys, "train", "synthetic", "--cell", "foo")
    assert code == 2 and out == ""
    assert err == (
        "rnnkit train synthetic: error: argument --cell: invalid choice: 'foo' (choose from "
        "'rnn', 'lstm', 'gru', 'lnlstm', 'lngru', 'indrnn', 'mingru', 'minlstm')\n"
    )
