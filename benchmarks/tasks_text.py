"""Benchmarks of the text tasks on real data: SST-2 sentiment and UD English EWT part-of-speech tags.

Run from the project root::

    python benchmarks/tasks_text.py                 # both, default budgets
    python benchmarks/tasks_text.py --only sst2 --minutes 9
    python benchmarks/tasks_text.py --only ud --minutes 4

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

from rnnkit.checkpoint import load_checkpoint
from rnnkit.tasks.classify import ClassifyConfig, evaluate_texts, train_classifier
from rnnkit.training import TrainConfig

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _quiet(message: str) -> None:
    if message.startswith("step") or "examples" in message or "sentences" in message:
        print("   ", message, file=sys.stderr, flush=True)


def bench_sst2(minutes: float, seed: int, args: argparse.Namespace) -> dict | None:
    folder = DATA / "sst2"
    if not (folder / "train.tsv").is_file() or not (folder / "dev.tsv").is_file():
        print(f"SST-2: skipped, data not found in {folder}")
        return None
    config = ClassifyConfig(
        train=str(folder / "train.tsv"), val=str(folder / "dev.tsv"),
        embedding_dim=args.embedding, hidden_size=args.hidden, cell=args.cell,
        bidirectional=True, dropout=args.dropout, pooling=args.pooling, min_freq=1,
    )
    with tempfile.TemporaryDirectory() as out_dir:
        train_config = TrainConfig(
            max_steps=args.steps or None, max_minutes=minutes, batch_size=args.batch_size, lr=args.lr,
            warmup_steps=100, eval_every=args.eval_every, save_every=100_000, out_dir=out_dir,
            seed=seed, device="cpu", progress=False, weight_decay=args.weight_decay,
        )
        start = time.perf_counter()
        result = train_classifier(config, train_config, log=_quiet, out=sys.stderr)
        wall = time.perf_counter() - start
        # the unselected model of the last step, beside best.pt (chosen on the dev accuracy)
        last = evaluate_texts(load_checkpoint(Path(out_dir) / "last.pt"), config.val)[0]
    return {"accuracy": result.metrics["accuracy"], "macro_f1": result.metrics["macro_f1"],
            "last": last["accuracy"],
            "majority": result.baselines["majority"]["accuracy"],
            "steps": result.train_result.step, "wall_s": wall}


def bench_ud(minutes: float, seed: int, args: argparse.Namespace) -> dict | None:
    path = DATA / "ud_en_ewt" / "en_ewt-ud-dev.conllu"
    if not path.is_file():
        print(f"UD EWT: skipped, data not found at {path}")
        return None
    from rnnkit.tasks.tag import TagConfig, train_tagger

    config = TagConfig(train=str(path), val=None, val_fraction=0.1, use_crf=args.crf)
    with tempfile.TemporaryDirectory() as out_dir:
        train_config = TrainConfig(
            max_steps=None, max_minutes=minutes, batch_size=32, lr=2e-3, warmup_steps=50,
            eval_every=200, save_every=100_000, out_dir=out_dir, seed=seed, device="cpu",
            progress=False,
        )
        start = time.perf_counter()
        result = train_tagger(config, train_config, log=_quiet, out=sys.stderr)
        wall = time.perf_counter() - start
    return {"accuracy": result.metrics["accuracy"], "baseline": result.baselines["most_frequent_tag"],
            "steps": result.train_result.step, "wall_s": wall}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("sst2", "ud"), help="run one benchmark")
    parser.add_argument("--minutes", type=float, default=None,
                        help="training budget (default: 9 for SST-2, 4 for UD)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--embedding", type=int, default=128)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--cell", default="lstm")
    parser.add_argument("--dropout", type=float, default=0.5)
    parser.add_argument("--pooling", default="max")
    parser.add_argument("--steps", type=int, default=0,
                        help="SST-2 step budget; the cosine schedule anneals over it, so the result "
                        "does not depend on the machine's speed (0: time budget only)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--eval-every", type=int, default=500)
    parser.add_argument("--crf", action="store_true", help="UD: tag with a CRF")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, {os.cpu_count()} CPUs visible, "
          f"load average {os.getloadavg()[0]:.2f}")
    rows = []
    if args.only in (None, "sst2"):
        r = bench_sst2(args.minutes or 9.0, args.seed, args)
        if r is not None:
            rows.append(("SST-2 dev acc. (best.pt)", r["accuracy"], 0.83,
                         f"majority {r['majority']:.4f}", r["steps"], r["wall_s"]))
            rows.append(("SST-2 dev acc. (last.pt)", r["last"], 0.83,
                         f"majority {r['majority']:.4f}", r["steps"], r["wall_s"]))
    if args.only in (None, "ud"):
        r = bench_ud(args.minutes or 4.0, args.seed, args)
        if r is not None:
            rows.append(("UD EWT UPOS token acc.", r["accuracy"], 0.88,
                         f"most-frequent-tag {r['baseline']:.4f}", r["steps"], r["wall_s"]))
    if rows:
        print(f"\n{'task':<24}{'model':>8}{'target':>8}  {'baseline':<24}{'steps':>7}{'wall s':>8}  ok")
        for name, score, target, baseline, steps, wall in rows:
            ok = "yes" if score >= target else "NO"
            print(f"{name:<24}{score:>8.4f}{target:>8.2f}  {baseline:<24}{steps:>7}{wall:>8.0f}  {ok}")
        print(f"load average at the end {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
