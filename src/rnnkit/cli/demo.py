"""``rnnkit demo``: the main job. Train a small LSTM on the built-in corpus, then write samples.

About two minutes on a 2-core CPU: the model reads this machine's Python standard-library sources,
learns to write Python-looking code, and leaves a checkpoint that ``rnnkit sample`` can use. It is
``rnnkit train lm`` with a time budget, then ``rnnkit sample``.
"""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.cli._options import add_device_option, new_parser
from rnnkit.cli.train import print_run
from rnnkit.errors import RnnkitError
from rnnkit.tasks import SampleConfig, sample, train

__all__ = ["DEMO_PROMPTS", "add_parser", "demo_command"]

DEMO_PROMPTS = ("def ", "class ", "import ", "    if ")


def add_parser(subparsers: Any) -> None:
    parser = new_parser(
        subparsers,
        "demo",
        "train a small character LSTM for ~2 minutes and print samples",
        "The main job, end to end: train a character-level LSTM on the built-in corpus (this "
        "machine's Python standard-library sources, or --data FILE) for a fixed wall-clock "
        "budget, then print samples. The run is left in OUT for rnnkit sample and evaluate; "
        "rnnkit train lm has every other option.\n\nexample:\n  rnnkit demo && rnnkit sample "
        "runs/demo --prompt 'def main('",
    )
    add = parser.add_argument
    add(
        "--minutes",
        type=float,
        default=2.0,
        metavar="M",
        help="training budget in minutes of wall-clock time (default: 2)",
    )
    add(
        "--data",
        "--text",
        dest="data",
        metavar="FILE",
        default=None,
        help="learn this UTF-8 text instead of the built-in corpus",
    )
    add("--out", metavar="DIR", default="runs/demo", help="output directory (default: runs/demo)")
    add(
        "--samples",
        type=int,
        default=len(DEMO_PROMPTS),
        metavar="N",
        help=f"samples to print at the end (default: {len(DEMO_PROMPTS)})",
    )
    add("--length", type=int, default=300, metavar="N", help="characters per sample (default: 300)")
    add(
        "--temperature",
        type=float,
        default=0.7,
        metavar="T",
        help="sampling temperature (default: 0.7)",
    )
    add("--seed", type=int, default=1337, help="seed of training and sampling (default: 1337)")
    add_device_option(parser)
    add(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    parser.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    if args.samples < 0:
        raise RnnkitError(f"--samples: expected a value >= 0, got {args.samples}")
    base = SampleConfig(length=args.length, temperature=args.temperature, seed=args.seed)
    run = train(
        "lm",
        {
            "data": {"text": args.data},
            "train": {
                "max_steps": None,
                "max_minutes": args.minutes,
                "out_dir": args.out,
                "seed": args.seed,
                "device": args.device,
                "progress": args.progress,
                "eval_every": 100,
                "save_every": 100,
            },
        },
    )
    print_run(run)
    if args.samples == 0:
        return 0
    prompts = DEMO_PROMPTS if args.data is None else ("",)
    print(f"\nsamples at temperature {args.temperature} (prompt first):")
    for index in range(args.samples):
        config = SampleConfig.from_dict(
            {**base.to_dict(), "prompt": prompts[index % len(prompts)], "seed": args.seed + index}
        )
        print(f"\n--- sample {index + 1} ---\n{sample(run.trained, config)[0]}")
    prompt = " --prompt 'def '" if args.data is None else ""
    print(f"\nmore: rnnkit sample {args.out}{prompt} --length 500")
    return 0
