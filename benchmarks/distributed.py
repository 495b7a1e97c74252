"""Training throughput of the language model: 2 processes x 1 thread (torchrun, DDP with gloo)
against 1 process x 2 threads, with the same global batch and the same model.

Run from the project root::

    python benchmarks/distributed.py                       # 300 steps, 3 repetitions each
    python benchmarks/distributed.py --steps 100 --reps 1 --hidden 256

Each run is ``rnnkit train lm`` on the built-in corpus (the first ``--chars`` characters), in a
fresh process (or two, under ``python -m torch.distributed.run --standalone``), without output
files and without evaluation; the figure is the run's own training throughput (characters of all
ranks per second of training steps), its median over the repetitions. The two set-ups alternate,
so a change in the machine's load hits both alike; on a shared machine the figures are noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
SUMMARY = re.compile(r"trained [\d,]+ steps in [\d,.]+ s \(([\d,]+) chars/s\)")


def settings(args: argparse.Namespace) -> dict:
    return {
        "data": {"max_builtin_chars": args.chars, "seq_len": args.seq_len},
        "model": {"hidden_size": args.hidden, "embedding_size": 32},
        "train": {
            "max_steps": args.steps,
            "batch_size": args.batch,
            "eval_every": args.steps + 1,  # no evaluation until the end, outside the steps' time
            "out_dir": None,
            "progress": False,
        },
    }


def run_once(config: Path, processes: int, threads: int) -> float:
    """Characters per second of one training run."""
    env = {
        **os.environ,
        "OMP_NUM_THREADS": str(threads),
        "OMP_WAIT_POLICY": "PASSIVE",
        "PYTHONPATH": str(SRC),
    }
    command = [sys.executable, "-m", "rnnkit", "train", "lm", "--config", str(config)]
    if processes > 1:
        launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        command = [sys.executable, *launcher, *command[1:]]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    found = SUMMARY.search(done.stdout)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return float(found.group(1).replace(",", ""))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--steps", type=int, default=300, help="training steps of each run")
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each set-up")
    parser.add_argument("--batch", type=int, default=32, help="global batch (streams)")
    parser.add_argument("--seq-len", type=int, default=64, help="characters per chunk")
    parser.add_argument("--hidden", type=int, default=128, help="LSTM hidden size")
    parser.add_argument("--chars", type=int, default=400_000, help="built-in corpus characters")
    args = parser.parse_args(argv)
    setups = {"1 process x 2 threads": (1, 2), "2 processes x 1 thread": (2, 1)}
    rates: dict[str, list[float]] = {name: [] for name in setups}
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "lm.json"
        config.write_text(json.dumps(settings(args)))
        for rep in range(args.reps):
            for name, (processes, threads) in setups.items():
                rates[name].append(run_once(config, processes, threads))
                print(f"rep {rep + 1}: {name}: {rates[name][-1]:,.0f} chars/s", file=sys.stderr)
    base = statistics.median(rates["1 process x 2 threads"])
    print(
        f"lm: LSTM hidden {args.hidden}, global batch {args.batch} x {args.seq_len} chars, "
        f"{args.steps} steps, median of {args.reps}"
    )
    print("| set-up | chars/s (median) | runs | ratio |\n|---|---:|---|---:|")
    for name, values in rates.items():
        shown = ", ".join(f"{v:,.0f}" for v in values)
        median = statistics.median(values)
        print(f"| {name} | {median:,.0f} | {shown} | {median / base:.2f}x |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
