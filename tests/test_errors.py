"""How the ``rnnkit`` command ends on an error (rnnkit.cli.main.report): a user's mistake is one
line and exit code 2, running out of memory one line and exit code 1, anything else a bug with its
traceback and a line asking to report it (exit code 1); ``RNNKIT_DEBUG=1`` shows every traceback."""

from __future__ import annotations

import argparse
import errno

import pytest
import torch
from cli_helpers import run

import rnnkit
import rnnkit.cli.evaluate
from rnnkit.cli.main import report
from rnnkit.config import ConfigError
from rnnkit.errors import RnnkitError

REPORT = (
    f"(a bug in rnnkit {rnnkit.__version__}: please report it to the rnnkit maintainers with the "
    "traceback above)"
)
TRAIN = argparse.Namespace(setting_flags={"train.batch_size": "--batch-size", "train.lr": "--lr"})


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv("RNNKIT_DEBUG", raising=False)
    monkeypatch.delenv("WORLD_SIZE", raising=False)


def _report(capsys, error, args=TRAIN):
    capsys.readouterr()
    try:  # raised, so that it has a traceback as in the command
        raise error
    except BaseException as raised:  # noqa: BLE001
        code = report(raised, args)
    return code, capsys.readouterr().err


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (RnnkitError("text file not found: x.txt"), "text file not found: x.txt"),
        (ConfigError("train.lr", "expected a value > 0, got -1.0"), "train.lr: expected"),
        (FileNotFoundError(errno.ENOENT, "No such file or directory", "x.txt"), "[Errno 2]"),
        (PermissionError(errno.EACCES, "Permission denied", "/out"), "[Errno 13] Permission"),
        (OSError(errno.ENOSPC, "No space left on device"), "[Errno 28] No space left"),
    ],
)
def test_a_users_mistake_is_one_line_and_exit_2(capsys, error, line):
    code, err = _report(capsys, error)
    assert code == 2
    assert err.startswith(f"rnnkit: error: {line}") and err.count("\n") == 1


@pytest.mark.parametrize(
    "error",
    [
        ZeroDivisionError("division by zero"),
        TypeError("forward() got an unexpected keyword argument 'x'"),
        ValueError("not enough values to unpack (expected 2, got 1)"),
        RuntimeError("mat1 and mat2 shapes cannot be multiplied (4x3 and 5x6)"),
        KeyError("model_state"),
        OSError(errno.EBADF, "Bad file descriptor"),  # no file of the user's: ours
    ],
    ids=lambda error: type(error).__name__,
)
def test_anything_else_is_a_bug_with_its_traceback_and_exit_1(capsys, error):
    code, err = _report(capsys, error)
    assert code == 1
    assert err.startswith("Traceback (most recent call last):\n")
    last = err.splitlines()[-1]
    assert last.startswith(f"rnnkit: internal error: {type(error).__name__}: ")
    assert last.endswith(REPORT)


CUDA = (
    "CUDA out of memory. Tried to allocate 20.00 GiB. GPU 0 has a total capacity of 79.19 GiB "
    "of which 1.2 GiB is free. Of the allocated memory 70.1 GiB is allocated by PyTorch..."
)
LOWER = "lower the batch size (--batch-size) or use a smaller model"
CPU = (
    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 1125899906842624 bytes. Error code 12 (Cannot allocate memory)"
)


@pytest.mark.parametrize(
    ("error", "args", "line"),
    [
        (
            torch.cuda.OutOfMemoryError(CUDA),
            TRAIN,
            "out of GPU memory (tried to allocate 20.00 GiB): " + LOWER,
        ),
        (
            RuntimeError(CPU),
            argparse.Namespace(batch_size=None),  # evaluate's --batch-size
            "out of memory (tried to allocate 1125899906842624 bytes): " + LOWER,
        ),
        (
            MemoryError(),
            argparse.Namespace(),  # a command without a batch size
            "out of memory: use a device with more memory (--device) or a smaller model",
        ),
    ],
    ids=["cuda", "cpu", "python"],
)
def test_out_of_memory_says_so_and_names_the_batch_size(capsys, error, args, line):
    code, err = _report(capsys, error, args)
    assert code == 1
    assert err == f"rnnkit: error: {line}\n"


def test_rnnkit_debug_shows_the_traceback_of_every_error(capsys, monkeypatch):
    monkeypatch.setenv("RNNKIT_DEBUG", "1")
    code, err = _report(capsys, RnnkitError("text file not found: x.txt"))
    assert code == 2
    assert err.startswith("Traceback (most recent call last):\n")
    assert err.endswith("\nrnnkit: error: text file not found: x.txt\n")
    code, err = _report(capsys, MemoryError())
    assert code == 1 and err.startswith("Traceback") and "rnnkit: error: out of memory" in err
    monkeypatch.setenv("RNNKIT_DEBUG", "0")  # 0 is off
    code, err = _report(capsys, RnnkitError("bad"))
    assert code == 2 and err == "rnnkit: error: bad\n"


def test_every_rank_says_which_it_is(capsys, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert _report(capsys, RnnkitError("bad")) == (2, "rnnkit: error (rank 1): bad\n")
    code, err = _report(capsys, ZeroDivisionError("division by zero"))
    assert code == 1 and "rnnkit: internal error (rank 1): ZeroDivisionError" in err


def test_a_bug_inside_a_command_ends_in_its_traceback(capsys, monkeypatch, tmp_path):
    def broken(*args, **kwargs):
        raise TypeError("load() got an unexpected keyword argument 'device'")

    monkeypatch.setattr(rnnkit.cli.evaluate, "load", broken)
    code, out, err = run(capsys, "evaluate", tmp_path, "--data", tmp_path / "x.txt")
    assert code == 1 and out == ""
    assert "Traceback (most recent call last):" in err and "in broken\n    raise TypeError" in err
    assert err.splitlines()[-1] == (
        "rnnkit: internal error: TypeError: load() got an unexpected keyword argument 'device' "
        + REPORT
    )


def test_a_model_too_large_for_memory_is_one_line(capsys, tmp_path):
    # 4 * H * H weights of H = 10^8: the allocator refuses at once, nothing is written
    argv = ["train", "synthetic", "--task", "adding", "--hidden", "100000000", "--steps", "1"]
    code, out, err = run(capsys, *argv, "--out", tmp_path / "run")
    assert (code, out) == (1, "")
    assert err.startswith("rnnkit: error: out of memory (tried to allocate ")
    assert err.endswith(f": {LOWER}\n")
    assert err.count("\n") == 1 and not (tmp_path / "run").exists()


def test_evaluate_without_data_names_the_option(capsys, tmp_path):
    args = argparse.Namespace(argument_flags={"data": "--data"})
    error = ConfigError("data", "evaluating a 'lm' model needs data to evaluate on")
    code, err = _report(capsys, error, args)
    assert (code, err) == (
        2,
        "rnnkit: error: --data: evaluating a 'lm' model needs data to evaluate on\n",
    )
