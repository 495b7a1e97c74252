"""The ``rnnkit`` command line: one small module per command, all parsed into library configs."""

from rnnkit.cli.main import main

__all__ = ["main"]
