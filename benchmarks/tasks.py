"""Every task benchmark in one run: the text tasks, then the forecasting and synthetic tasks.

Run from the project root::

    python benchmarks/tasks.py                        # both parts, about half an hour on 2 cores
    python benchmarks/tasks.py --only text --minutes 4
    python benchmarks/tasks.py --only series --adding-steps 500 --workers 1
    python benchmarks/tasks.py --text="--only ud" --series="--only synthetic"

This runs the ``main`` of ``tasks_text.py`` (SST-2 sentiment, UD English EWT part-of-speech tags)
and of ``tasks_series.py`` (Melbourne temperatures, airline passengers, sine wave, mean sign,
adding problem) in one process and prints their tables one after the other. Both scripts still
run on their own, with every option they have; here the common ones are given once and any other
option reaches a part through ``--text`` or ``--series`` (a quoted string of that script's own
options, written with ``=`` because it starts with a dash).

The real data sets are read from ``../shared/data``; without it their sections print a message
and are skipped, while the synthetic sections (which draw their own data) still run.
"""

from __future__ import annotations

import os

# Threads that spin while waiting (OpenMP's default) make PyTorch many times slower when other
# processes share the cores (on an idle machine passive waiting costs some speed instead; the
# published figures were measured with it). Must precede the first `import torch`.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import tasks_series
import tasks_text

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def build_argvs(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """The command lines of the text part and of the series part."""
    text = []
    if args.minutes is not None:
        text += ["--minutes", str(args.minutes)]
    series = []
    if args.adding_steps is not None:
        series += ["--adding-steps", str(args.adding_steps)]
    if args.workers is not None:
        series += ["--workers", str(args.workers)]
    # Given last, so an option repeated in --text/--series wins over the common one.
    return text + shlex.split(args.text), series + shlex.split(args.series)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("text", "series"), help="run one part")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="text part: training budget of each task (default: 9 for SST-2, 4 for UD)",
    )
    parser.add_argument(
        "--adding-steps",
        type=int,
        default=None,
        help="series part: step budget of each adding run (default: 1000)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="series part: adding runs trained side by side (default: 2)",
    )
    parser.add_argument(
        "--text",
        default="",
        metavar="OPTIONS",
        help="other options of tasks_text.py, as one quoted string (see above)",
    )
    parser.add_argument(
        "--series",
        default="",
        metavar="OPTIONS",
        help="other options of tasks_series.py, as one quoted string (see above)",
    )
    args = parser.parse_args(argv)
    text_argv, series_argv = build_argvs(args)
    # Check both command lines now rather than after the first part's quarter of an hour.
    for part, script, part_argv in (
        ("text", tasks_text, text_argv),
        ("series", tasks_series, series_argv),
    ):
        if args.only in (None, part):
            part_parser = script.build_parser()
            part_parser.prog = f"{parser.prog} --{part}"
            part_parser.parse_args(part_argv)
    if not DATA.is_dir():
        print(
            f"real data sets not found at {DATA}: SST-2, UD EWT, Melbourne and airline are "
            "skipped; the synthetic tasks still run"
        )
    start = time.perf_counter()
    if args.only in (None, "text"):
        print(f"==== text tasks: tasks_text.py {shlex.join(text_argv)}", flush=True)
        tasks_text.main(text_argv)
    if args.only in (None, "series"):
        print(
            f"\n==== forecasting and synthetic tasks: tasks_series.py {shlex.join(series_argv)}",
            flush=True,
        )
        tasks_series.main(series_argv)
    print(f"\nall task benchmarks: {time.perf_counter() - start:.0f} s wall")
    return 0


if __name__ == "__main__":
    sys.exit(main())
