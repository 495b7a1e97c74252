"""A BPE language model against the character model on tiny Shakespeare, at the same wall-clock.

Each model trains with the defaults of ``rnnkit train lm`` (the BPE one with ``--tokenizer bpe``
and its vocabulary size) for the same time budget, one after the other, and is scored on the same
validation text (the last 10%, the nanoGPT split) in nats per character: the total negative
log-likelihood over the characters it predicts, the measure that compares tokenizations (see
docs/text.md). The BPE model's report also gives its unigram and Kneser-Ney baselines.

    python benchmarks/shakespeare_bpe.py                        # 100 seconds each
    python benchmarks/shakespeare_bpe.py --seconds 600 --vocab-size 1024

Target (issue 17): the BPE model's validation nats/char at least as good as the char model's at
the same wall-clock. The load average is printed beside the results because other processes on
the machine slow the runs down (timings on a shared machine are noisy).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from shakespeare import DATA, load_average  # the script's own folder is on sys.path

import rnnkit


def train(text: str, seconds: float, data: dict[str, Any], out: str | None) -> dict[str, Any]:
    """One run with the defaults and a time budget; its validation figures."""
    start = time.perf_counter()
    result = rnnkit.train(
        "lm",
        {
            "data": {"train": text, **data},
            "train": {"max_minutes": seconds / 60, "progress": False, "out_dir": out},
        },
        log=lambda message: None,
    )
    wall = time.perf_counter() - start
    (report,) = result.reports
    rows = report.rows
    per_char = rows.get("nats/char", rows.get("loss (nats/char)"))
    per_token = rows.get("loss (nats/token)", rows.get("loss (nats/char)"))
    return {
        "tokenizer": data.get("tokenizer", "char"),
        "vocab": result.trained.state.tokenizer.vocab_size,
        "steps": result.train.step,
        "train_s": result.train.train_seconds,
        "wall_s": wall,
        "tokens_per_s": result.train.items_per_second,
        "nats_per_token": per_token["model"],
        "nats_per_char": per_char["model"],
        "baselines_nats_per_char": {k: v for k, v in per_char.items() if k != "model"},
        "report": report.format(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=100.0, help="budget of each model")
    parser.add_argument("--vocab-size", type=int, default=1024, help="BPE vocabulary size")
    parser.add_argument(
        "--bpe-seq-len", type=int, default=None, help="BPE tokens per chunk (default: lm's)"
    )
    parser.add_argument("--text", default=str(DATA), help=f"corpus (default: {DATA})")
    parser.add_argument("--out", default=None, help="keep the runs in OUT/char and OUT/bpe")
    parser.add_argument("--json", default=None, help="also write the results as JSON to this file")
    args = parser.parse_args()
    if not Path(args.text).is_file():
        print(f"skipped: {args.text} not found (the benchmark needs the shared tiny Shakespeare)")
        return 0
    bpe: dict[str, Any] = {"tokenizer": "bpe", "vocab_size": args.vocab_size}
    if args.bpe_seq_len:
        bpe["seq_len"] = args.bpe_seq_len
    load_before = load_average()
    results = []
    for name, data in (("char", {}), ("bpe", bpe)):
        out = None if args.out is None else str(Path(args.out) / name)
        results.append(train(args.text, args.seconds, data, out))
        done = results[-1]
        print(f"{name}: {done['steps']:,} steps, {done['nats_per_char']:.4f} nats/char", flush=True)
    print(f"tiny Shakespeare, validation = the last 10%, {args.seconds:g} s of training each")
    print(f"load average before {load_before}, after {load_average()} (2-core CPU shared)\n")
    head = f"{'tokenizer':<10}{'vocab':>7}{'steps':>8}{'tok/s':>9}{'nats/tok':>10}{'nats/char':>11}"
    print(head)
    for r in results:
        print(
            f"{r['tokenizer']:<10}{r['vocab']:>7,}{r['steps']:>8,}{r['tokens_per_s']:>9,.0f}"
            f"{r['nats_per_token']:>10.4f}{r['nats_per_char']:>11.4f}"
        )
    char, sub = results
    verdict = "meets" if sub["nats_per_char"] <= char["nats_per_char"] else "misses"
    print(
        f"\nBPE / char nats per character: {sub['nats_per_char'] / char['nats_per_char']:.3f} "
        f"({verdict} the target: BPE at least as good as char at the same wall-clock)"
    )
    print("\n" + sub["report"])
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
