"""Helpers of the tests that run the ``rnnkit`` command in-process."""

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
