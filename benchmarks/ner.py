"""Named-entity recognition benchmark: ``rnnkit train tag`` defaults on the shared NER sets.

Run from the project root::

    python benchmarks/ner.py                         # both sets, default budgets
    python benchmarks/ner.py --only wikiann --minutes 20
    python benchmarks/ner.py --only wnut17 --minutes 10 --json ner.json

Each set trains the tag task's defaults (for entity tags: see docs/ner.md) on
``../shared/data/ner/<set>/train.txt`` with ``--val dev.txt`` (best.pt selected on dev entity F1)
and a time budget, then scores ``test.txt``: exact-match entity F1 (conlleval's rules) overall and
per type, beside the most-frequent-tag baseline (repaired) and the memorisation baseline (each
training entity string tagged wherever it appears, longest match first), with the steps and the
wall-clock time.

- WikiANN English (PER/ORG/LOC, IOB2; 20,000 training sentences): target at least 83 test entity
  F1 within 20 minutes (the default budget here).
- WNUT-17 (six types of emerging entities in tweets; 3,394 training sentences): published
  BiLSTM-CRF systems *with* pretrained vectors reach about 40-50; ours without them. Default
  budget 10 minutes (a sixth of WikiANN's training tokens).
- Published reference rows (CoNLL-2003 English test, not a shared set here): BiLSTM-CRF with
  characters and pretrained vectors 90.94 (Lample et al., 2016); without pretrained vectors
  the same paper's ablation implies about 83.6; Stanford's CMM (non-neural) 85.5.

``--threads`` (default 1): on the shared 2-core machine one thread trains much faster than two
(see benchmarks/tasks_text.py). A set whose folder is absent is skipped with a message. Nothing
is written into the repository: checkpoints go to a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import rnnkit
from rnnkit.tasks.tag_defaults import ENTITY_DEFAULTS

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ner"
SETS = {"wikiann": ("wikiann-en", 20.0, 0.83), "wnut17": ("wnut17", 10.0, None)}
PUBLISHED = [
    ("CoNLL-2003 BiLSTM-CRF + chars + vectors (Lample et al. 2016)", 0.9094),
    ("CoNLL-2003 the same without pretrained vectors (ablation)", 0.836),
    ("CoNLL-2003 Stanford CMM (non-neural)", 0.855),
    ("WNUT-17 BiLSTM-CRF with pretrained vectors (published range)", "0.40-0.50"),
]
COLUMNS = ("model", "most-frequent-tag", "memoriser")


def _quiet(message: str) -> None:
    if message.startswith("step") or "sentences" in message:
        print("   ", message, file=sys.stderr, flush=True)


def bench(name: str, folder: Path, minutes: float, threads: int) -> dict | None:
    """Train the defaults on ``folder``'s train.txt (validation dev.txt) for ``minutes`` and
    score test.txt: entity F1 overall and per type beside the two baselines."""
    files = {split: folder / f"{split}.txt" for split in ("train", "dev", "test")}
    if not all(path.is_file() for path in files.values()):
        print(f"{name}: skipped, data not found in {folder}")
        return None
    with tempfile.TemporaryDirectory() as out_dir:
        settings = {
            "data": {"train": str(files["train"]), "val": str(files["dev"])},
            "train": {"max_minutes": minutes, "out_dir": out_dir, "threads": threads},
        }
        start = time.perf_counter()
        run = rnnkit.train("tag", settings, log=_quiet)
        wall = time.perf_counter() - start
        report = rnnkit.evaluate(rnnkit.load(out_dir), str(files["test"]))[0]
    f1 = report.rows["entity F1"]
    return {
        "set": name,
        "f1": {column: f1.get(column) for column in COLUMNS},
        "precision": report.rows["entity precision"]["model"],
        "recall": report.rows["entity recall"]["model"],
        "types": [line for line in report.details if line and not line.startswith("entities")],
        "dev_f1": run.reports[0].rows["entity F1"]["model"],
        "steps": run.train.step,
        "wall_s": wall,
        "weights": run.weights,
        "minutes": minutes,
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=tuple(SETS), help="run one set")
    parser.add_argument(
        "--minutes",
        type=float,
        default=None,
        help="training budget (default: wikiann 20, wnut17 10)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--json", metavar="F", default=None, help="also write the results to F")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    print(
        f"{args.threads} thread(s), {os.cpu_count()} CPUs visible, load average "
        f"{os.getloadavg()[0]:.2f}; entity defaults: {json.dumps(ENTITY_DEFAULTS)}"
    )
    results = []
    for key, (folder, minutes, target) in SETS.items():
        if args.only not in (None, key):
            continue
        r = bench(key, DATA / folder, args.minutes or minutes, args.threads)
        if r is None:
            continue
        r["target"] = target
        results.append(r)
        print(f"\n{key} test ({r['weights']}; dev entity F1 {r['dev_f1']:.4f}):")
        print(f"  precision {r['precision']:.4f}  recall {r['recall']:.4f}")
        print("\n".join(f"  {line}" for line in r["types"]))
    if results:
        print(f"\n{'set':<10}" + "".join(f"{c:>19}" for c in COLUMNS) + f"{'target':>8}"
              f"{'steps':>8}{'wall s':>8}")  # fmt: skip
        for r in results:
            target = "" if r["target"] is None else f"{r['target']:.2f}"
            print(
                f"{r['set']:<10}" + "".join(f"{r['f1'][c]:>19.4f}" for c in COLUMNS)
                + f"{target:>8}{r['steps']:>8,}{r['wall_s']:>8.0f}"
            )  # fmt: skip
    print("\npublished entity F1 (reference, not measured here):")
    for name, figure in PUBLISHED:
        print(f"  {name:<66}{figure}")
    print(f"load average at the end {os.getloadavg()[0]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
