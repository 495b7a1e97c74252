"""Benchmarks of the text tasks on real data: SST-2 sentiment and UD English EWT part-of-speech tags.

Run from the project root::

    python benchmarks/tasks_text.py                 # both, default budgets
    python benchmarks/tasks_text.py --only sst2 --minutes 9
    python benchmarks/tasks_text.py --only ud --minutes 4

Each runs the defaults of its ``rnnkit train`` command; only the data files and the time budget
are given (a time budget alone removes the default step limit, and the learning-rate schedule
follows the budget).

- SST-2: train on ``../shared/data/sst2/train.tsv`` (67,349 sentences), accuracy on ``dev.tsv``
  (872). Target >= 83% within 10 minutes on 2 CPU cores, no pretrained vectors.
- UD EWT: ``../shared/data/ud_en_ewt/en_ewt-ud-dev.conllu`` split 90/10 by sentence (file order);
  UPOS token accuracy on the last 10%, target >= 88%, with the most-frequent-tag baseline beside it.

Each part prints a message and is skipped when its data folder is absent. Nothing is written into
the repository: checkpoints go to a temporary directory.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch

import rnnkit

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _quiet(message: str) -> None:
    if message.startswith("step") or "examples" in message or "sentences" in message:
        print("   ", message, file=sys.stderr, flush=True)


def bench_sst2(minutes: float) -> dict | None:
    folder = DATA / "sst2"
    if not (folder / "train.tsv").is_file() or not (folder / "dev.tsv").is_file():
        print(f"SST-2: skipped, data not found in {folder}")
        return None
    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        run = rnnkit.train(
            "classify",
            {
                "data": {"train": str(folder / "train.tsv"), "val": str(folder / "dev.tsv")},
                "train": {"max_minutes": minutes, "out_dir": out_dir},
            },
            log=_quiet,
        )
        wall = time.perf_counter() - start
        # the unselected model of the last step, beside best.pt (chosen on the dev accuracy)
        last = rnnkit.evaluate(rnnkit.load(Path(out_dir) / "last.pt"), folder / "dev.tsv")[0]
    rows = run.reports[0].rows
    return {
        "accuracy": rows["accuracy"]["model"],
        "last": last.rows["accuracy"]["model"],
        "majority": rows["accuracy"]["majority"],
        "steps": run.train.step,
        "wall_s": wall,
        "weights": run.weights,
    }


def bench_ud(minutes: float) -> dict | None:
    path = DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu"
    if not path.is_file():
        print(f"UD EWT: skipped, data not found at {path}")
        return None
    with tempfile.TemporaryDirectory() as out_dir:
        start = time.perf_counter()
        run = rnnkit.train(
            "tag",
            {"data": {"train": str(path)}, "train": {"max_minutes": minutes, "out_dir": out_dir}},
            log=_quiet,
        )
        wall = time.perf_counter() - start
    rows = run.reports[0].rows["token accuracy"]
    return {
        "accuracy": rows["model"],
        "baseline": rows["most-frequent-tag"],
        "steps": run.train.step,
        "wall_s": wall,
        "weights": run.weights,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=("sst2", "ud"), help="run one benchmark")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="training budget (default: 9 for SST-2, 4 for UD)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs "
        f"visible, load average {os.getloadavg()[0]:.2f}"
    )
    rows = []
    if args.only in (None, "sst2"):
        r = bench_sst2(args.minutes or 9.0)
        if r is not None:
            rows.append(
                (
                    f"SST-2 dev acc. ({r['weights']})",
                    r["accuracy"],
                    0.83,
                    f"majority {r['majority']:.4f}",
                    r["steps"],
                    r["wall_s"],
                )
            )
            rows.append(
                (
                    "SST-2 dev acc. (last.pt)",
                    r["last"],
                    0.83,
                    f"majority {r['majority']:.4f}",
                    r["steps"],
                    r["wall_s"],
                )
            )
    if args.only in (None, "ud"):
        r = bench_ud(args.minutes or 4.0)
        if r is not None:
            rows.append(
                (
                    f"UD EWT UPOS token acc. ({r['weights']})",
                    r["accuracy"],
                    0.88,
                    f"most-frequent-tag {r['baseline']:.4f}",
                    r["steps"],
                    r["wall_s"],
                )
            )
    if rows:
        width = max(len(row[0]) for row in rows) + 2
        print(
            f"\n{'task':<{width}}{'model':>8}{'target':>8}  {'baseline':<26}{'steps':>7}"
            f"{'wall s':>8}  ok"
        )
        for name, score, target, baseline, steps, wall in rows:
            ok = "yes" if score >= target else "NO"
            print(
                f"{name:<{width}}{score:>8.4f}{target:>8.2f}  {baseline:<26}{steps:>7,}"
                f"{wall:>8.0f}  {ok}"
            )
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
