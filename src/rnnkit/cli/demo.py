"""``rnnkit demo``: the main job. Train a small LSTM on the built-in corpus, then write samples.

About two minutes on a 2-core CPU: the model reads this machine's Python standard-library sources,
learns to write Python-looking code, and leaves a checkpoint that ``rnnkit sample`` can use.
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from rnnkit.cli._common import HelpFormatter, add_device_option, add_seed_option
from rnnkit.cli.train_lm import print_summary
from rnnkit.tasks.lm import (
    DEFAULT_MODEL,
    DEFAULT_TRAIN,
    LMDataConfig,
    SampleConfig,
    sample_lm,
    train_lm,
)

__all__ = ["DEMO_PROMPTS", "add_parser", "demo_command"]

DEMO_PROMPTS = ("def ", "class ", "import ", "    if ")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "demo", help="train a small character LSTM for ~2 minutes and print samples",
        description="The main job, end to end: train a character-level LSTM on the built-in corpus "
        "(this machine's Python standard-library sources, or --text FILE) for a fixed wall-clock "
        "budget with a progress display, then print samples. The checkpoint is left in OUT for "
        "rnnkit sample / evaluate.\n\nexample:\n  rnnkit demo && rnnkit sample runs/demo --prompt "
        "'def main('",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=2.0, metavar="M",
                        help="training budget in minutes of wall-clock time (default: 2)")
    parser.add_argument("--text", metavar="FILE", default=None,
                        help="learn this UTF-8 text instead of the built-in corpus")
    parser.add_argument("--out", metavar="DIR", default="runs/demo",
                        help="output directory for the checkpoints and metrics (default: runs/demo)")
    parser.add_argument("--samples", type=int, default=len(DEMO_PROMPTS), metavar="N",
                        help=f"samples to print at the end (default: {len(DEMO_PROMPTS)})")
    parser.add_argument("--length", type=int, default=300, metavar="N",
                        help="characters per sample (default: 300)")
    parser.add_argument("--temperature", type=float, default=0.7, metavar="T",
                        help="sampling temperature (default: 0.7)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress bar (default: only when stderr is a terminal)")
    add_seed_option(parser, DEFAULT_TRAIN.seed)
    add_device_option(parser, default="auto")
    parser.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    sample = SampleConfig(length=args.length, temperature=args.temperature, seed=args.seed)  # checks
    if args.samples < 0:
        raise ValueError(f"--samples must be >= 0, got {args.samples}")
    train = replace(
        DEFAULT_TRAIN, max_steps=None, max_minutes=args.minutes, out_dir=args.out, seed=args.seed,
        device=args.device, progress=args.progress, eval_every=100, save_every=100,
    )
    # Validation on the first 50,000 characters of the held-out 10% keeps the demo near its budget.
    data = LMDataConfig(text=args.text, eval_chars=50_000, full_final_eval=False)
    outcome = train_lm(train, data, dict(DEFAULT_MODEL))
    print_summary(outcome)
    checkpoint = outcome.result.best_path or outcome.result.last_path
    if checkpoint is None or args.samples == 0:
        return 0
    print(f"\nsamples at temperature {args.temperature} (prompt first):")
    for index in range(args.samples):
        prompt = DEMO_PROMPTS[index % len(DEMO_PROMPTS)] if args.text is None else ""
        config = replace(sample, prompt=prompt, seed=args.seed + index)
        text = sample_lm(checkpoint, config)[0]
        print(f"\n--- sample {index + 1} ---\n{text}")
    print(f"\nmore: rnnkit sample {args.out} --prompt 'def ' --length 500")
    return 0
