"""Interpolated Kneser-Ney baselines on the Penn Treebank (``../shared/data/ptb/``).

Fits :class:`rnnkit.metrics.KneserNey` of orders 3, 4 and 5, with one discount per order (KN)
and with three (modified KN, MKN, the default), on ``ptb.train.txt`` (one sentence a
line, ``</s>`` predicted at every line end, PTB's own ``<unk>``) and prints the perplexity on the
validation and test files with the seconds to fit and to score both. Published reference: KN
5-gram test perplexity 141.2 (Mikolov et al., 2011).

    python benchmarks/ngram.py
    python benchmarks/ngram.py --orders 2 3 4 5 6
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rnnkit.metrics import KneserNey

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ptb"


def read(name: str) -> list[list[str]]:
    with open(DATA / name, encoding="utf-8") as handle:
        return [line.split() for line in handle]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, nargs="+", default=[3, 4, 5])
    args = parser.parse_args(argv)
    if not (DATA / "ptb.train.txt").is_file():
        print(f"skipped: no Penn Treebank at {DATA}")
        return 0
    train, valid, test = read("ptb.train.txt"), read("ptb.valid.txt"), read("ptb.test.txt")
    print(f"PTB: {sum(len(s) + 1 for s in train):,} training tokens (with </s>)")
    print(f"{'model':>6} {'valid ppl':>10} {'test ppl':>10} {'fit s':>7} {'score s':>8}  discounts")
    for order, modified in [(o, m) for m in (False, True) for o in args.orders]:
        start = time.perf_counter()
        model = KneserNey.fit(train, order=order, modified=modified)
        fitted = time.perf_counter()
        valid_ppl, test_ppl = model.perplexity(valid), model.perplexity(test)
        scored = time.perf_counter()
        discounts = " ".join("/".join(f"{d:.2f}" for d in ds) for ds in model.discounts)
        name = f"{'M' if modified else ''}KN-{order}"
        print(
            f"{name:>6} {valid_ppl:>10.2f} {test_ppl:>10.2f} {fitted - start:>7.2f} "
            f"{scored - fitted:>8.2f}  {discounts}"
        )
    print("reference: KN-5 test perplexity 141.2 (Mikolov et al., 2011)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
