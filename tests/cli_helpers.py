"""Helpers of the task and command-line tests: the ``rnnkit`` command in-process, small settings."""

from __future__ import annotations

from rnnkit.cli import main


def run(capsys, *argv) -> tuple[int, str, str]:
    """``(exit code, stdout, stderr)`` of ``rnnkit ARGV`` (arguments turned into strings)."""
    capsys.readouterr()  # drop what came before (a fixture's training run)
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, expected: str) -> None:
    assert code == 2, err
    assert err == f"rnnkit: error: {expected}\n"


def quiet(_message: str) -> None:
    """A ``log`` that drops the progress lines."""


def small_settings(small: dict, data: dict, steps: int, out_dir=None, **train) -> dict:
    """Settings of a short run: ``small``'s model and training settings, ``steps`` steps."""
    return {
        "data": data,
        "model": dict(small["model"]),
        "train": {
            **small["train"],
            "max_steps": steps,
            "out_dir": out_dir and str(out_dir),
            **train,
        },
    }
