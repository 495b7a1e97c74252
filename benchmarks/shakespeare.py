"""Character language model on tiny Shakespeare with a fixed wall-clock budget.

Reports the validation loss in nats/char over the whole last 10% of the text (the nanoGPT split),
the training throughput, and the generation speed with the streaming state beside the speed of
re-feeding the whole prefix at every step (as the tutorials' ``predict()`` does).

    python benchmarks/shakespeare.py                      # 100-second budget, the defaults of train lm
    python benchmarks/shakespeare.py --seconds 1200       # the 20-minute budget
    python benchmarks/shakespeare.py --hidden 384 --batch-size 32 --seq-len 100 --lr 3e-3

Targets on a 2-core CPU: <= 1.55 nats/char in 100 s, <= 1.50 in 20 minutes, >= 3,000 chars/s
generating one stream of 2,000 characters. The load average is printed beside every result because
other processes on the machine slow the run down.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import torch

from rnnkit.tasks.lm import DEFAULT_MODEL, DEFAULT_SEQ_LEN, DEFAULT_TRAIN, LMDataConfig, train_lm
from rnnkit.training import TrainConfig

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "tinyshakespeare.txt"


def load_average() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


@torch.no_grad()
def refeed_speed(model, prompt: list[int], chars: int, max_seconds: float) -> tuple[int, float]:
    """Greedy generation that re-runs the whole prefix for every new character (no carried state)."""
    ids = list(prompt)
    start = time.perf_counter()
    done = 0
    while done < chars and time.perf_counter() - start < max_seconds:
        logits, _ = model(torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
        done += 1
    return done, time.perf_counter() - start


def main() -> int:
    m = DEFAULT_MODEL
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=100.0, help="training budget (default: 100)")
    parser.add_argument("--steps", type=int, default=None,
                        help="train for this many steps instead of a time budget (load-independent tuning)")
    parser.add_argument("--text", default=str(DATA), help=f"corpus (default: {DATA})")
    parser.add_argument("--cell", default=m["cell"], choices=("rnn", "lstm", "gru"))
    parser.add_argument("--layers", type=int, default=m["num_layers"])
    parser.add_argument("--hidden", type=int, default=m["hidden_size"])
    parser.add_argument("--embedding", type=int, default=m["embedding_size"])
    parser.add_argument("--dropout", type=float, default=m["dropout"])
    parser.add_argument("--batch-size", type=int, default=DEFAULT_TRAIN.batch_size)
    parser.add_argument("--seq-len", type=int, default=DEFAULT_SEQ_LEN)
    parser.add_argument("--lr", type=float, default=DEFAULT_TRAIN.lr)
    parser.add_argument("--min-lr-ratio", type=float, default=DEFAULT_TRAIN.min_lr_ratio)
    parser.add_argument("--warmup", type=int, default=DEFAULT_TRAIN.warmup_steps)
    parser.add_argument("--weight-decay", type=float, default=DEFAULT_TRAIN.weight_decay)
    parser.add_argument("--clip-value", type=float, default=DEFAULT_TRAIN.clip_value)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=DEFAULT_TRAIN.seed)
    parser.add_argument("--gen-chars", type=int, default=2000)
    parser.add_argument("--refeed-seconds", type=float, default=30.0,
                        help="time cap of the re-feeding measurement (it is quadratic in the length)")
    parser.add_argument("--out", default=None, help="keep checkpoints and metrics here (default: none)")
    parser.add_argument("--json", default=None, help="also write the results as JSON to this file")
    args = parser.parse_args()

    if not Path(args.text).is_file():
        print(f"skipped: {args.text} not found (the benchmark needs the shared tiny Shakespeare file)")
        return 0
    if args.threads:
        torch.set_num_threads(args.threads)
    load_before = load_average()
    train = TrainConfig(
        max_steps=args.steps, max_minutes=None if args.steps else args.seconds / 60, batch_size=args.batch_size, lr=args.lr,
        min_lr_ratio=args.min_lr_ratio, warmup_steps=args.warmup, weight_decay=args.weight_decay,
        clip_value=args.clip_value, eval_every=10**9, save_every=10**9, out_dir=args.out,
        seed=args.seed, device="cpu", progress=False,
    )
    data = LMDataConfig(text=args.text, seq_len=args.seq_len, eval_chars=None)
    model_options = {"cell": args.cell, "num_layers": args.layers, "hidden_size": args.hidden,
                     "embedding_size": args.embedding, "dropout": args.dropout}
    start = time.perf_counter()
    outcome = train_lm(train, data, model_options, log=lambda message: print(message, flush=True))
    wall = time.perf_counter() - start
    load_after_train = load_average()
    model, vocab = outcome.model.eval(), outcome.vocab
    prompt = vocab.encode("ROMEO:\n")

    model.generate(prompt, 50, seed=0)  # warm-up
    t0 = time.perf_counter()
    sample = model.generate(prompt, args.gen_chars, seed=0, temperature=0.8, banned_ids=vocab.special_ids)[0]
    stream_seconds = time.perf_counter() - t0
    stream_speed = args.gen_chars / stream_seconds
    refeed_chars, refeed_seconds = refeed_speed(model, prompt, args.gen_chars, args.refeed_seconds)
    refeed_rate = refeed_chars / refeed_seconds

    result = {
        "val_loss_nats_per_char": outcome.val_loss,
        "val_bits_per_char": outcome.val_loss / 0.6931471805599453,
        "val_chars": outcome.val_chars,
        "train_seconds": outcome.result.train_seconds,
        "elapsed_incl_final_eval": outcome.result.elapsed,
        "steps": outcome.result.step,
        "train_chars_per_s": outcome.result.items_per_second,
        "train_chars_seen": outcome.result.step * args.batch_size * args.seq_len,
        "wall_seconds_incl_final_eval": wall,
        "gen_stream_chars_per_s": stream_speed,
        "gen_refeed_chars_per_s": refeed_rate,
        "gen_refeed_chars": refeed_chars,
        "load_before": load_before,
        "load_after_train": load_after_train,
        "load_after": load_average(),
        "torch_threads": torch.get_num_threads(),
        "config": {**model_options, "batch_size": args.batch_size, "seq_len": args.seq_len, "lr": args.lr,
                   "warmup": args.warmup, "min_lr_ratio": args.min_lr_ratio, "seconds": args.seconds,
                   "parameters": model.num_parameters()},
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
                   f"python {platform.python_version()}",
    }
    c = result["config"]
    print()
    print(f"tiny Shakespeare, {c['num_layers']}-layer {c['cell'].upper()} {c['hidden_size']} "
          f"({c['parameters']:,} parameters), batch {c['batch_size']} x {c['seq_len']}, lr {c['lr']:g}, "
          f"budget {f'{args.steps} steps' if args.steps else f'{args.seconds:g} s'}; {result['machine']}")
    rows = [
        ("validation loss, whole last 10% (nats/char)", f"{outcome.val_loss:.4f}"),
        ("validation bits/char", f"{result['val_bits_per_char']:.4f}"),
        ("training steps / time in steps / budget used incl. final evaluation",
         f"{outcome.result.step} / {outcome.result.train_seconds:.1f} s / {outcome.result.elapsed:.1f} s"),
        ("training throughput (chars/s)", f"{outcome.result.items_per_second:,.0f}"),
        (f"generation, streaming state, 1 x {args.gen_chars:,} chars (chars/s)", f"{stream_speed:,.0f}"),
        (f"generation, re-feeding the prefix, first {refeed_chars:,} chars (chars/s)", f"{refeed_rate:,.1f}"),
        ("streaming / re-feeding", f"{stream_speed / refeed_rate:,.0f}x"),
        ("load average before / after training / at the end",
         f"{load_before} | {load_after_train} | {result['load_after']}"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"| {'measure'.ljust(width)} | value |")
    print(f"|{'-' * (width + 2)}|-------|")
    for name, value in rows:
        print(f"| {name.ljust(width)} | {value} |")
    print("\nsample (temperature 0.8):\nROMEO:\n" + "".join(vocab.decode(sample[:400])))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
