"""Character language model on tiny Shakespeare with a fixed wall-clock budget.

Trains with the defaults of ``rnnkit train lm`` (only the text and the time budget are given) and
reports the validation loss in nats/char over the whole last 10% of the text (the nanoGPT split),
the training throughput and steps, and the generation speed with the streaming state beside the
speed of re-feeding the whole prefix at every step (as the tutorials' ``predict()`` does).

    python benchmarks/shakespeare.py                      # 100-second budget
    python benchmarks/shakespeare.py --seconds 1200       # the 20-minute budget

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

import rnnkit

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
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=100.0, help="training budget (default: 100)"
    )
    parser.add_argument("--text", default=str(DATA), help=f"corpus (default: {DATA})")
    parser.add_argument("--gen-chars", type=int, default=2000)
    parser.add_argument(
        "--refeed-seconds",
        type=float,
        default=30.0,
        help="time cap of the re-feeding measurement (it is quadratic in the length)",
    )
    parser.add_argument(
        "--out", default=None, help="keep checkpoints and metrics here (default: none)"
    )
    parser.add_argument("--json", default=None, help="also write the results as JSON to this file")
    args = parser.parse_args()

    if not Path(args.text).is_file():
        print(
            f"skipped: {args.text} not found (the benchmark needs the shared tiny Shakespeare file)"
        )
        return 0
    load_before = load_average()
    start = time.perf_counter()
    run = rnnkit.train(
        "lm",
        {
            "data": {"text": args.text},
            "train": {"max_minutes": args.seconds / 60, "out_dir": args.out},
        },
        log=lambda message: print(message, flush=True),
    )
    wall = time.perf_counter() - start
    load_after_train = load_average()
    model, vocab = run.trained.model, run.trained.state.vocab
    config, outcome = run.config, run.train
    val_loss = run.reports[0].rows["loss (nats/char)"]["model"]
    prompt = vocab.encode("ROMEO:\n")

    model.generate(prompt, 50, seed=0)  # warm-up
    t0 = time.perf_counter()
    sample = model.generate(
        prompt, args.gen_chars, seed=0, temperature=0.8, banned_ids=vocab.special_ids
    )[0]
    stream_seconds = time.perf_counter() - t0
    stream_speed = args.gen_chars / stream_seconds
    refeed_chars, refeed_seconds = refeed_speed(model, prompt, args.gen_chars, args.refeed_seconds)
    refeed_rate = refeed_chars / refeed_seconds

    result = {
        "val_loss_nats_per_char": val_loss,
        "val_bits_per_char": val_loss / 0.6931471805599453,
        "baselines_nats_per_char": {
            k: v for k, v in run.reports[0].rows["loss (nats/char)"].items() if k != "model"
        },
        "train_seconds": outcome.train_seconds,
        "elapsed_incl_evaluations": outcome.elapsed,
        "steps": outcome.step,
        "weights": run.weights,
        "train_chars_per_s": outcome.items_per_second,
        "wall_seconds_incl_final_report": wall,
        "gen_stream_chars_per_s": stream_speed,
        "gen_refeed_chars_per_s": refeed_rate,
        "gen_refeed_chars": refeed_chars,
        "load_before": load_before,
        "load_after_train": load_after_train,
        "load_after": load_average(),
        "torch_threads": torch.get_num_threads(),
        "config": {
            **config.model.to_dict(),
            "batch_size": config.train.batch_size,
            "seq_len": config.data.seq_len,
            "lr": config.train.lr,
            "seconds": args.seconds,
            "parameters": model.num_parameters(),
        },
        "machine": f"{platform.machine()} {os.cpu_count()} cores, torch {torch.__version__}, "
        f"python {platform.python_version()}",
    }
    c = result["config"]
    print()
    print(
        f"tiny Shakespeare, {c['num_layers']}-layer {c['cell'].upper()} {c['hidden_size']} "
        f"({c['parameters']:,} parameters), batch {c['batch_size']} x {c['seq_len']}, lr {c['lr']:g}, "
        f"budget {args.seconds:g} s; {result['machine']}"
    )
    rows = [
        ("validation loss, whole last 10% (nats/char)", f"{val_loss:.4f}"),
        (
            "unigram / bigram baselines (nats/char)",
            " / ".join(f"{v:.4f}" for v in result["baselines_nats_per_char"].values()),
        ),
        ("validation bits/char", f"{result['val_bits_per_char']:.4f}"),
        (
            "training steps / time in steps / budget used incl. evaluations",
            f"{outcome.step:,} / {outcome.train_seconds:.1f} s / {outcome.elapsed:.1f} s",
        ),
        ("weights reported", run.weights),
        ("training throughput (chars/s)", f"{outcome.items_per_second:,.0f}"),
        (
            f"generation, streaming state, 1 x {args.gen_chars:,} chars (chars/s)",
            f"{stream_speed:,.0f}",
        ),
        (
            f"generation, re-feeding the prefix, first {refeed_chars:,} chars (chars/s)",
            f"{refeed_rate:,.1f}",
        ),
        ("streaming / re-feeding", f"{stream_speed / refeed_rate:,.0f}x"),
        (
            "load average before / after training / at the end",
            f"{load_before} | {load_after_train} | {result['load_after']}",
        ),
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
