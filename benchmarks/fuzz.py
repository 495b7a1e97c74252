"""Fuzzing at length: the properties of tests/test_fuzz.py with thousands of cases, counted.

Run from the project root::

    python benchmarks/fuzz.py                        # 1,000 cases a target, about 15 minutes
    python benchmarks/fuzz.py --cases 200 --only series,config
    python benchmarks/fuzz.py --seed 7               # other cases than the default seed's

Every target (a reader, the predict and evaluate inputs of the tasks' tiny trained models, each
command of the command line) runs ``--cases`` generated inputs; a failing case is counted and its
first message kept, and fuzzing goes on (no shrinking). The table gives, per target, the cases,
the failures and the seconds; the distinct failures follow, one line each.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see benchmarks/tasks.py

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import torch
from fuzzing import (
    READERS,
    Defect,
    argv_lists,
    check_cli,
    cli_paths,
    target_checkpoint,
    target_predict,
    train_tiny,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COMMANDS = ("train", "evaluate", "predict", "sample", "plot", "inspect", "train-1-step")


def fuzz(property_, cases: int, seed: int) -> tuple[int, list[str]]:
    """Run ``property_(draw)`` on ``cases`` inputs; ``(cases run, failure messages)``."""
    count, failures = 0, []

    @settings(
        max_examples=cases,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=["generate"],  # no shrinking: count every failure
    )
    @given(st.data())
    def run(data):
        nonlocal count
        count += 1
        try:
            property_(data)
        except Defect as defect:
            failures.append(" ".join(str(defect).split())[:240])

    run = seed_of(run, seed)
    run()
    return count, failures


def seed_of(test, seed: int):
    from hypothesis import seed as seed_

    return seed_(seed)(test)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1000, help="cases per target (default 1000)")
    parser.add_argument("--seed", type=int, default=0, help="hypothesis seed (default 0)")
    parser.add_argument("--only", default="", help="comma-separated targets (default: all)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    only = {name for name in args.only.split(",") if name}
    root = Path(tempfile.mkdtemp(prefix="rnnkit-fuzz-"))
    work = root / "work"
    work.mkdir()
    targets = {f"reader {name}": (lambda d, f=f: f(d, work)) for name, f in READERS.items()}
    needs_runs = not only or only - set(READERS)
    if needs_runs:
        start = time.perf_counter()
        runs = train_tiny(root / "runs")
        print(f"trained {len(runs)} tiny models in {time.perf_counter() - start:.0f} s")
        predict = target_predict(runs)
        targets["predict+evaluate"] = lambda d: predict(d, work)
        checkpoint = target_checkpoint(runs)
        targets["checkpoint"] = lambda d: checkpoint(d, work)
        run_dirs, paths, configs = cli_paths(work / "cli", runs)
        for command in COMMANDS:
            name, real = command.removesuffix("-1-step"), command.endswith("-1-step")
            strategy = argv_lists(name, run_dirs, paths, real_train=real, configs=configs)
            targets[f"cli {command}"] = lambda d, s=strategy: check_cli(
                d.draw(s, "argv"), d.draw(st.text(max_size=40), "stdin")
            )
    os.chdir(work)  # relative output paths of the command lines land here
    rows, seen = [], Counter()
    for name, target in targets.items():
        if only and name.split(" ", 1)[-1] not in only and name not in only:
            continue
        start = time.perf_counter()
        count, failures = fuzz(target, args.cases, args.seed)
        rows.append((name, count, len(failures), time.perf_counter() - start))
        seen.update(f"{name}: {failure}" for failure in failures)
        print(f"  {name}: {count} cases, {len(failures)} failures", file=sys.stderr, flush=True)
    print(f"\n{'target':<22}{'cases':>8}{'failures':>10}{'seconds':>9}")
    for name, count, failed, seconds in rows:
        print(f"{name:<22}{count:>8,}{failed:>10,}{seconds:>9.0f}")
    total = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"{'total':<22}{total[0]:>8,}{total[1]:>10,}")
    if seen:
        print("\ndistinct failures (count: target: message):")
        for message, count in seen.most_common():
            print(f"{count:>5}: {message}")


if __name__ == "__main__":
    main()
