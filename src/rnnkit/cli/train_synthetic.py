"""``rnnkit train synthetic``: the tutorials' synthetic tasks (sine, mean-sign, sentence, adding, copy)."""

from __future__ import annotations

import argparse

from rnnkit.cli._common import (
    HelpFormatter,
    add_trainer_options,
    load_resume_checkpoint,
    train_config_from_args,
)
from rnnkit.tasks.synthetic import SYNTHETIC_TASKS, SyntheticTaskConfig, train_synthetic
from rnnkit.training import TrainConfig

__all__ = ["DEFAULTS", "add_parser", "synthetic_command"]

DEFAULTS = TrainConfig(max_steps=2000, batch_size=32, lr=1e-2, warmup_steps=50, eval_every=250,
                       save_every=500, out_dir="runs/synthetic")
_D = SyntheticTaskConfig()

EXAMPLES = """examples:
  rnnkit train synthetic --task sine                       # the Elman tutorial: 6 tanh units
  rnnkit train synthetic --task mean-sign --steps 1500
  rnnkit train synthetic --task adding --seq-len 200 --cell lstm
  rnnkit train synthetic --task copy --seq-len 50 --cell gru
  echo "[0.0, 0.39, 0.72]" | rnnkit predict runs/synthetic --input -
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "synthetic", help="train on a built-in synthetic task of the tutorials",
        description="Train a recurrent model on a built-in synthetic task and score it on a fresh "
        "test draw beside a baseline: sine (next value of a sine wave, tested on unseen phases), "
        "mean-sign (sign of the mean of a Gaussian sequence), sentence (complete the tutorial's "
        "three sentences), adding (sum of two marked numbers; long-range memory) and copy "
        "(recall symbols after a delay). Options left out take the task's defaults.\n\n" + EXAMPLES,
        formatter_class=HelpFormatter,
    )
    group = parser.add_argument_group("task")
    group.add_argument("--task", required=True, choices=SYNTHETIC_TASKS, help="which task (required)")
    group.add_argument("--seq-len", type=int, default=None, metavar="L",
                       help="sequence length; for copy the delay before recall (default: the task's: "
                       "sine 20, mean-sign 20, adding 50, copy 20)")
    group.add_argument("--cell", choices=("rnn", "lstm", "gru"), default=None,
                       help="recurrent cell (default: the task's: rnn for sine and mean-sign, else lstm)")
    group.add_argument("--hidden", type=int, default=None, metavar="H",
                       help="hidden size (default: the task's: 6 for sine, else 64)")
    group.add_argument("--layers", type=int, default=None, metavar="N",
                       help="stacked recurrent layers (default: the task's: 2 for mean-sign, else 1)")
    group.add_argument("--n-copy", type=int, default=_D.n_copy, metavar="S",
                       help=f"copy task: symbols to remember (default: {_D.n_copy})")
    group.add_argument("--n-symbols", type=int, default=_D.n_symbols, metavar="K",
                       help=f"copy task: alphabet size (default: {_D.n_symbols})")
    group.add_argument("--n-test", type=int, default=_D.n_test, metavar="N",
                       help=f"test sequences (default: {_D.n_test})")
    group.add_argument("--data-seed", type=int, default=_D.data_seed, metavar="S",
                       help=f"seed of the generated data (default: {_D.data_seed})")
    add_trainer_options(parser, DEFAULTS, item="sequence")
    parser.set_defaults(func=synthetic_command)


def synthetic_command(args: argparse.Namespace) -> int:
    """Build the configs from ``args``, train, and print the test metric beside the baseline."""
    checkpoint = load_resume_checkpoint(args, DEFAULTS, task="synthetic")
    train_config = train_config_from_args(args, DEFAULTS, checkpoint)
    task = SyntheticTaskConfig(task=args.task, seq_len=args.seq_len, cell=args.cell,
                               hidden_size=args.hidden, num_layers=args.layers, n_copy=args.n_copy,
                               n_symbols=args.n_symbols, n_test=args.n_test, data_seed=args.data_seed)
    run = train_synthetic(task, train_config, resume=checkpoint)
    print(run.test.format())
    if train_config.out_dir:
        print(f"saved {train_config.out_dir}/best.pt and last.pt")
    return 0
