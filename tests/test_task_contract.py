"""One behaviour for every task: each test runs for every registered task (the five of rnnkit and
the parity task of tests/parity_task.py, registered here), through the ``rnnkit`` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from cli_helpers import run
from parity_task import ParityTask

from rnnkit.cli import main
from rnnkit.cli.main import build_parser
from rnnkit.nn import CELLS
from rnnkit.tasks import TASKS, load, register
from rnnkit.training.checkpoint import load_checkpoint

NAMES = [*TASKS, "parity"]


@pytest.fixture(scope="module", autouse=True)
def parity_registered():
    register(ParityTask())
    yield
    TASKS.pop("parity", None)


def example(name: str, folder: Path):
    """The task's tiny example, its settings written to a JSON config file."""
    folder.mkdir(parents=True, exist_ok=True)
    found = TASKS[name].example(folder)
    config = folder / "example.json"
    config.write_text(json.dumps({**found.settings}), encoding="utf-8")
    return found, str(config)


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """One short training run per task, made when first asked for:
    ``runs[name] -> (example, config file, run directory)``."""

    class Runs(dict):
        def __missing__(self, name):
            folder = tmp_path_factory.mktemp(name)
            found, config = example(name, folder)
            out = folder / "run"
            argv = ["train", name, "--config", config, "--out", str(out), "--device", "cpu"]
            assert main(argv) == 0
            self[name] = (found, config, out)
            return self[name]

    return Runs()


@pytest.mark.parametrize("name", NAMES)
def test_train_writes_the_run_files_and_reports_on_stdout(name, tmp_path, capsys):
    _found, config = example(name, tmp_path)
    code, out, err = run(capsys, "train", name, "--config", config, "--out", tmp_path / "run")
    assert code == 0, err
    for file in ("last.pt", "metrics.jsonl", "config.json"):
        assert (tmp_path / "run" / file).is_file()
    assert out.startswith("trained 4 steps") and "model" in out  # the summary and a report
    assert "step 2: validation" in err and "step 2: validation" not in out  # logs on stderr
    assert f"saved in {tmp_path / 'run'}: " in out


@pytest.mark.parametrize("name", NAMES)
def test_config_json_reads_back_unchanged(name, trained_runs, capsys):
    _, _, out = trained_runs[name]
    saved = json.loads((out / "config.json").read_text())
    code, printed, err = run(
        capsys, "train", name, "--config", out / "config.json", "--print-config", "json"
    )
    assert code == 0, err
    assert json.loads(printed) == saved
    code, toml, _ = run(
        capsys, "train", name, "--config", out / "config.json", "--print-config", "toml"
    )
    (out.parent / "back.toml").write_text(toml)
    code, printed, err = run(
        capsys, "train", name, "--config", out.parent / "back.toml", "--print-config", "json"
    )
    assert code == 0, err
    assert json.loads(printed) == saved


@pytest.mark.parametrize("name", NAMES)
def test_resume_continues_with_the_saved_config(name, tmp_path, capsys):
    _found, config = example(name, tmp_path)
    out = tmp_path / "run"
    assert run(capsys, "train", name, "--config", config, "--out", out, "--steps", 2)[0] == 0
    hidden = load_checkpoint(out / "last.pt")["task_state"]["config"]["model"]["hidden_size"]
    code, _, err = run(capsys, "train", name, "--resume", out, "--hidden", hidden + 1)
    assert code == 2
    assert err == (
        f"rnnkit: error: --hidden: the checkpoint was trained with {hidden}; a resumed "
        f"run keeps it (got {hidden + 1})\n"
    )
    code, printed, err = run(capsys, "train", name, "--resume", out, "--steps", 4)
    assert code == 0, err
    last = load_checkpoint(out / "last.pt")
    assert last["train"]["step"] == 4
    assert last["task_state"]["config"]["model"]["hidden_size"] == hidden
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [s for s in steps if s in (1, 2, 3, 4)] == sorted(s for s in steps if s in (1, 2, 3, 4))
    code, printed, _ = run(capsys, "train", name, "--resume", out, "--steps", 4)
    assert code == 0 and printed.startswith("the run had already finished at step 4")


@pytest.mark.parametrize("name", NAMES)
def test_evaluate_and_predict_on_the_task_formats(name, trained_runs, capsys):
    found, _, out = trained_runs[name]
    data = [] if found.evaluate is None else ["--data", found.evaluate]
    code, first, err = run(capsys, "evaluate", out, *data, "--device", "cpu")
    assert code == 0, err
    assert "model" in first.splitlines()[1]
    code, second, err = run(capsys, "evaluate", out, *data, "--batch-size", 1)
    assert code == 0, err
    # the same table (a language model's streams start from a zero state: its figures may move)
    assert [line.split()[0] for line in second.splitlines()] == [
        line.split()[0] for line in first.splitlines()
    ]
    assert run(capsys, "evaluate", out, *data, "--batch-size", 0)[0] == 2
    if found.evaluate is None:  # evaluated on its own fresh data: a file is refused
        assert run(capsys, "evaluate", out, "--data", out / "config.json")[0] == 2
    if found.predict is None:
        code, _, err = run(capsys, "predict", out, "--input", out / "config.json")
        assert code == 2 and err.startswith("rnnkit: error: predict does not support")
        return
    code, printed, err = run(capsys, "predict", out, "--input", found.predict)
    assert code == 0, err
    records = [json.loads(line) for line in printed.splitlines()]
    assert [r["line"] for r in records] == sorted(r["line"] for r in records)
    assert all(isinstance(r["line"], int) for r in records)


@pytest.mark.parametrize("name", NAMES)
def test_device_and_batch_size_are_honoured(name, trained_runs, tmp_path, capsys):
    _found, config, out = trained_runs[name]
    model = load(out, "cpu")
    assert all(p.device == torch.device("cpu") for p in model.model.parameters())
    if not torch.cuda.is_available():
        code, _, err = run(capsys, "evaluate", out, "--device", "cuda")
        assert code == 2 and "no CUDA GPU" in err
    code, printed, _ = run(
        capsys, "train", name, "--config", config, "--batch-size", 3, "--print-config", "json"
    )
    assert json.loads(printed)["train"]["batch_size"] == 3


@pytest.mark.parametrize("name", NAMES)
def test_a_bad_data_file_is_one_line_and_writes_nothing(name, tmp_path, capsys):
    found, _ = example(name, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(found.bad))
    code, _out, err = run(capsys, "train", name, "--config", bad, "--out", tmp_path / "run")
    assert code == 2
    assert err.startswith("rnnkit: error: ") and err.count("\n") == 1
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("name", NAMES)
def test_every_setting_has_an_option_with_help(name):
    _, flags = build_parser()
    config = TASKS[name].config_class()
    keys = [f"{section}.{key}" for section, values in config.to_dict().items() for key in values]
    assert sorted(flags[name]) == sorted(keys)


EXTENDED_CELLS = [cell for cell in CELLS if cell not in ("rnn", "lstm", "gru")]


@pytest.mark.parametrize("cell", EXTENDED_CELLS)
@pytest.mark.parametrize("name", NAMES)
def test_every_cell_trains_and_resumes_in_every_task(name, cell, tmp_path, capsys):
    _found, config = example(name, tmp_path)
    out = tmp_path / "run"
    argv = ["train", name, "--config", config, "--out", out, "--steps", 2, "--cell", cell]
    code, _, err = run(capsys, *argv)
    assert code == 0, err
    code, _, err = run(capsys, "train", name, "--resume", out, "--steps", 3)
    assert code == 0, err
    last = load_checkpoint(out / "last.pt")
    assert last["train"]["step"] == 3
    assert last["task_state"]["config"]["model"]["cell"] == cell
    assert all(torch.isfinite(p).all() for p in last["model_state"].values())
    if name == "lm":  # the one task with a generator
        code, printed, err = run(capsys, "sample", out, "--length", 12, "--seed", 1)
        assert code == 0, err
        assert len(printed.rstrip("\n")) >= 12  # the prompt, then 12 streamed characters
