"""Word-level language model on the Penn Treebank with a fixed wall-clock budget.

Trains what a user runs, ``rnnkit train lm --tokenizer word`` with its defaults (only the data and
the time budget are given), evaluates the best weights on ``ptb.test.txt``, and prints the test
perplexity beside the baselines rnnkit computes on the same split (a unigram model and
interpolated modified Kneser-Ney of orders 3, 4 and 5, fitted on ``ptb.train.txt``) and the published
figures. The data is Mikolov's PTB (``../shared/data/ptb/``: one sentence a line, 10,000 words with
``<unk>``; each line is its words and ``<eos>``).

    python benchmarks/word_lm.py                  # 10 minutes of training
    python benchmarks/word_lm.py --minutes 30
    python benchmarks/word_lm.py --threads 1      # on a machine other jobs share

Targets on a 2-core CPU (issue 17): test perplexity below rnnkit's Kneser-Ney baseline within
10 minutes, and at most 115 (Zaremba et al.'s small LSTM) within 30 minutes. Other processes on
the machine slow the run down, so the load average and the steps reached are printed too.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import torch

import rnnkit
from rnnkit.metrics import KneserNey

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ptb"

# test perplexities on this split of PTB, as published
PUBLISHED = [
    ("Kneser-Ney 5-gram (Mikolov et al., 2011)", 141.2),
    ("LSTM small, 2x200, 13 epochs (Zaremba et al., 2014)", 114.5),
    ("LSTM medium, 2x650, 39 epochs (Zaremba et al., 2014)", 82.7),
    ("LSTM large, 2x1500, 55 epochs (Zaremba et al., 2014)", 78.4),
    ("AWD-LSTM, 3 layers, 24M parameters (Merity et al., 2017)", 57.3),
]


def load_average() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def sentences(name: str) -> list[list[str]]:
    with open(DATA / name, encoding="utf-8") as handle:
        return [line.split() for line in handle]


def baselines(orders: list[int]) -> list[tuple[str, float, float]]:
    """``(name, test perplexity, seconds)`` of the unigram and Kneser-Ney models of ``orders``,
    fitted on the training split; every line ends with a predicted end of sentence."""
    train, test = sentences("ptb.train.txt"), sentences("ptb.test.txt")
    start = time.perf_counter()
    counts = Counter(w for s in train for w in [*s, "</s>"])
    total, size = sum(counts.values()), len(counts)
    nll = -sum(math.log((counts[w] + 1) / (total + size)) for s in test for w in [*s, "</s>"])
    rows = [("unigram (add-one)", math.exp(nll / sum(len(s) + 1 for s in test)), 0.0)]
    rows[0] = (rows[0][0], rows[0][1], time.perf_counter() - start)
    for order in orders:
        start = time.perf_counter()
        ppl = KneserNey.fit(train, order=order).perplexity(test)
        rows.append(
            (f"modified Kneser-Ney {order}-gram (rnnkit)", ppl, time.perf_counter() - start)
        )
    return rows


def train(minutes: float, out: str | None) -> tuple[rnnkit.RunResult, float]:
    """The word model of ``rnnkit train lm --tokenizer word`` with a time budget, and its test
    perplexity (of the weights the run reports: best.pt)."""
    run = rnnkit.train(
        "lm",
        {
            "data": {
                "train": str(DATA / "ptb.train.txt"),
                "val": str(DATA / "ptb.valid.txt"),
                "tokenizer": "word",
            },
            "train": {"max_minutes": minutes, "max_steps": None, "out_dir": out},
        },
        log=lambda message: print(message, flush=True),
    )
    report = rnnkit.evaluate(run.trained, str(DATA / "ptb.test.txt"))[0]
    print(report)
    return run, report.rows["perplexity"]["model"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget (10)")
    parser.add_argument("--orders", type=int, nargs="+", default=[3, 4, 5])
    parser.add_argument("--out", default=None, help="keep the run here (default: none)")
    parser.add_argument("--json", default=None, help="also write the results to this JSON file")
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch threads (0: torch's default); 1 on a machine other jobs share: two threads "
        "waiting on each other at every small operation of the recurrence train many times slower "
        "when a core is taken",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (DATA / "ptb.train.txt").is_file():
        print(f"skipped: no Penn Treebank at {DATA}")
        return 0
    rows = baselines(args.orders)
    load_before = load_average()
    start = time.perf_counter()
    run, test_ppl = train(args.minutes, args.out)
    wall = time.perf_counter() - start
    outcome, config = run.train, run.config
    model = run.trained.model
    ours = (
        f"rnnkit {config.model.num_layers}x{config.model.hidden_size} "
        f"{config.model.cell.upper()}, {args.minutes:g} min"
    )
    result = {
        "test_perplexity": test_ppl,
        "baselines": {name: ppl for name, ppl, _ in rows},
        "published": dict(PUBLISHED),
        "steps": outcome.step,
        "train_seconds": outcome.train_seconds,
        "elapsed_incl_evaluations": outcome.elapsed,
        "wall_seconds_incl_reports": wall,
        "tokens_per_second": outcome.items_per_second,
        "weights": run.weights,
        "parameters": model.num_parameters(),
        "load_before": load_before,
        "load_after": load_average(),
        "torch_threads": torch.get_num_threads(),
        "model": config.model.to_dict(),
        "train": {k: config.train.to_dict()[k] for k in ("batch_size", "lr", "weight_decay")},
        "seq_len": config.data.seq_len,
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}",
    }
    print(
        f"\nPenn Treebank test perplexity ({result['machine']}, {torch.get_num_threads()} threads)"
    )
    print("| model | test perplexity | wall-clock | steps |")
    print("|---|---|---|---|")
    print(
        f"| **{ours}** ({result['parameters']:,} parameters, {run.weights}) | **{test_ppl:.1f}** "
        f"| {outcome.elapsed / 60:.1f} min | {outcome.step:,} "
        f"({outcome.items_per_second:,.0f} tokens/s) |"
    )
    for name, ppl, seconds in rows:
        print(f"| {name} | {ppl:.1f} | {seconds:.1f} s | |")
    for name, ppl in PUBLISHED:
        print(f"| {name} (published) | {ppl:.1f} | | |")
    print(f"load average before / after: {load_before} | {result['load_after']}")
    best_kn = min(ppl for name, ppl, _ in rows if "Kneser" in name)
    print(
        f"below rnnkit's best Kneser-Ney ({best_kn:.1f}): {test_ppl < best_kn}; "
        f"at most 115 (Zaremba small): {test_ppl <= 115}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
