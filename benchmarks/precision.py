"""Training speed of a small character language model at precision 32 against bf16, side by side.

Run from the project root::

    python benchmarks/precision.py                      # lstm, lnlstm, minlstm; 300 steps, 2 reps
    python benchmarks/precision.py --cells lstm --steps 500 --reps 3 --hidden 512

Each cell trains ``rnnkit train lm`` on tiny Shakespeare (../shared/data/tinyshakespeare.txt, else
the built-in corpus) from the same seed, once per precision and repetition, the runs of one
repetition interleaved (a slow moment of the machine slows both alike). The table gives the
training chars/s (the Trainer's own count over its training steps) of each, the ratio bf16/32 per
repetition, and the validation loss after the last step. lstm runs torch's fused kernel, lnlstm
rnnkit's reference loop, minlstm its scan.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from pathlib import Path

import torch

from rnnkit.tasks import train

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare.txt"


def run(cell: str, precision: str, args: argparse.Namespace) -> tuple[float, float]:
    """(training chars/s, final validation loss) of one run."""
    result = train(
        "lm",
        {
            "data": {
                "text": str(DATA) if DATA.is_file() else None,
                "max_builtin_chars": 1_000_000,
                "eval_chars": 20_000,
            },
            "model": {"cell": cell, "hidden_size": args.hidden},
            "train": {
                "max_steps": args.steps,
                "eval_every": args.steps,
                "warmup_steps": min(50, args.steps // 2),
                "precision": precision,
                "device": "cpu",
                "out_dir": None,
                "progress": False,
                "seed": 0,
            },
        },
        log=lambda message: None,
    )
    return result.train.items_per_second, float(result.train.best_metric or "nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", nargs="+", default=["lstm", "lnlstm", "minlstm"])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=256)
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}, "
        f"{torch.get_num_threads()} threads, load {os.getloadavg()[0]:.1f}; "
        f"hidden {args.hidden}, {args.steps} steps of the lm defaults"
    )
    print(
        f"{'cell':8s} {'32 chars/s':>11s} {'bf16 chars/s':>13s} {'bf16/32':>16s} {'val 32':>7s} "
        f"{'val bf16':>8s}"
    )
    for cell in args.cells:
        speed: dict[str, list[float]] = {"32": [], "bf16": []}
        loss: dict[str, float] = {}
        for _ in range(args.reps):
            for precision in ("32", "bf16"):
                rate, loss[precision] = run(cell, precision, args)
                speed[precision].append(rate)
        ratios = [b / a for a, b in zip(speed["32"], speed["bf16"])]
        shown = f"{statistics.median(ratios):.2f} ({min(ratios):.2f}-{max(ratios):.2f})"
        print(
            f"{cell:8s} {statistics.median(speed['32']):11,.0f} "
            f"{statistics.median(speed['bf16']):13,.0f} {shown:>16s} {loss['32']:7.3f} "
            f"{loss['bf16']:8.3f}"
        )


if __name__ == "__main__":
    main()
