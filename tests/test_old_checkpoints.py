"""Runs written by rnnkit 0.1.0, before the package was reshaped (tests/fixtures/v0_1, made by
tests/fixtures/make_v0_1.py with that version): they load, evaluate to the very figures that
version printed, predict the same records, and resume."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import run

from rnnkit.training.checkpoint import load_checkpoint

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "v0_1"
RUNS = sorted(p.name for p in FIXTURES.iterdir() if p.is_dir())


@pytest.fixture
def old_run(request, tmp_path, monkeypatch):
    """A copy of one old run's folder, as the working directory (its paths are relative)."""
    folder = tmp_path / request.param
    shutil.copytree(FIXTURES / request.param, folder)
    monkeypatch.chdir(folder)
    return folder, json.loads((folder / "expected.json").read_text(encoding="utf-8"))


def test_every_task_has_an_old_run():
    assert {"lm", "classify", "tag", "forecast", "synthetic", "adding-indrnn"} <= set(RUNS)


@pytest.mark.parametrize("old_run", RUNS, indirect=True)
def test_old_run_evaluates_to_the_figures_it_printed(old_run, capsys):
    folder, expected = old_run
    data = ["--data", expected["evaluate"]] if expected["evaluate"] else []
    code, out, err = run(capsys, "evaluate", "run", *data, "--device", "cpu")
    assert code == 0, err
    assert out == (folder / "evaluate.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("old_run", RUNS, indirect=True)
def test_old_run_predicts_the_records_it_gave(old_run, capsys):
    folder, expected = old_run
    if not expected["predict"]:
        pytest.skip("this old run's task has no predict input")
    code, out, err = run(capsys, "predict", "run", "--input", expected["predict"])
    assert code == 0, err
    assert out == (folder / "predict.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize("old_run", RUNS, indirect=True)
def test_old_run_resumes(old_run, capsys):
    _, expected = old_run
    code, _, err = run(capsys, "train", expected["task"], "--resume", "run", "--steps", 6)
    assert code == 0, err
    assert load_checkpoint(Path("run") / "last.pt")["train"]["step"] == 6
