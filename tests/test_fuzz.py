"""Fuzzing: every reader, each task's predict input and the command line's options, fed nasty
inputs by hypothesis (see tests/fuzzing.py for the strategies and the property). A few hundred
cases in all, derandomised (the same cases every run); benchmarks/fuzz.py runs thousands.
The defects these found have regression tests of their own in the modules' test files."""

from __future__ import annotations

import os

import pytest
from fuzzing import READERS, argv_lists, check_cli, cli_paths, target_predict, train_tiny
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.usefixtures("one_thread")


def fuzz(examples: int):
    """Deterministic settings: the same ``examples`` cases every run, no time limit per case."""
    return settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
    )


CASES = {"text": 25, "labelled": 50, "conll": 50, "series": 50, "inputs": 40, "config": 50}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return train_tiny(tmp_path_factory.mktemp("runs"))


@pytest.fixture(scope="module")
def in_workdir(workdir):
    """Command lines write their outputs (relative paths too) under the work directory."""
    before = os.getcwd()
    os.chdir(workdir)
    yield workdir
    os.chdir(before)


@pytest.mark.parametrize("name", list(READERS))
def test_reader_returns_or_raises_one_line_rnnkit_error(name, workdir):
    @fuzz(CASES[name])
    @given(st.data())
    def property_(data):
        READERS[name](data, workdir)

    property_()


def test_predict_and_evaluate_inputs_of_every_task(runs, workdir):
    target = target_predict(runs)

    @fuzz(60)
    @given(st.data())
    def property_(data):
        target(data, workdir)

    property_()


@pytest.mark.parametrize(
    ("command", "examples"),
    [("train", 60), ("evaluate", 25), ("predict", 25), ("sample", 25), ("plot", 8), ("inspect", 8)],
)
def test_command_line_exits_0_or_2_with_one_error_line(command, examples, runs, in_workdir):
    run_dirs, paths, _ = cli_paths(in_workdir / "cli", runs)

    @fuzz(examples)
    @given(argv_lists(command, run_dirs, paths), st.text(max_size=40))
    def property_(argv, stdin):
        check_cli(argv, stdin)

    property_()


def test_a_real_one_step_training_run_exits_0_or_2(runs, in_workdir):
    run_dirs, paths, configs = cli_paths(in_workdir / "cli", runs)

    @fuzz(12)
    @given(argv_lists("train", run_dirs, paths, real_train=True, configs=configs))
    def property_(argv):
        check_cli(argv)

    property_()
