"""``rnnkit train lm``: a character language model on a text file (or the built-in corpus)."""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli._common import (
    HelpFormatter,
    add_trainer_options,
    load_resume_checkpoint,
    train_config_from_args,
)
from rnnkit.tasks.lm import (
    DEFAULT_MODEL,
    DEFAULT_TRAIN,
    LN2,
    LMDataConfig,
    LMTrainOutcome,
    train_lm,
)

__all__ = ["add_parser", "lm_command", "print_summary"]

EXAMPLES = """examples:
  rnnkit train lm --text shakespeare.txt --max-minutes 10
  rnnkit train lm                                   # the built-in corpus: Python sources
  rnnkit train lm --text notes.txt --cell gru --layers 2 --hidden 256 --out runs/notes
  rnnkit train lm --resume --out runs/notes         # continue an interrupted run
  rnnkit sample runs/notes --prompt "Dear " --length 300
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "lm", help="train a character language model on a text file",
        description="Train a character-level recurrent language model with truncated "
        "back-propagation through time (the hidden state is carried from chunk to chunk). The "
        "first 90% of the text trains, the last 10% validates. Writes OUT/best.pt, OUT/last.pt "
        "and OUT/metrics.jsonl.\n\n" + EXAMPLES,
        formatter_class=HelpFormatter,
    )
    m = DEFAULT_MODEL
    data = parser.add_argument_group("data")
    data.add_argument("--text", metavar="FILE", default=None,
                      help="UTF-8 text file to learn (default: the built-in corpus, this machine's "
                      "Python standard-library sources)")
    data.add_argument("--seq-len", type=int, default=None, metavar="L",
                      help=f"characters per chunk of back-propagation through time "
                      f"(default: {LMDataConfig.seq_len})")
    model = parser.add_argument_group("model")
    model.add_argument("--cell", choices=("rnn", "lstm", "gru"), default=m["cell"],
                       help=f"recurrent cell (default: {m['cell']})")
    model.add_argument("--layers", type=int, default=m["num_layers"], metavar="N",
                       help=f"stacked recurrent layers (default: {m['num_layers']})")
    model.add_argument("--hidden", type=int, default=m["hidden_size"], metavar="H",
                       help=f"hidden size (default: {m['hidden_size']})")
    model.add_argument("--embedding", type=int, default=m["embedding_size"], metavar="E",
                       help=f"character embedding size (default: {m['embedding_size']})")
    model.add_argument("--dropout", type=float, default=m["dropout"], metavar="P",
                       help=f"dropout on embeddings, between layers and before the head "
                       f"(default: {m['dropout']})")
    model.add_argument("--tie-weights", action=argparse.BooleanOptionalAction, default=m["tie_weights"],
                       help="share the embedding with the output layer; needs --embedding equal to "
                       f"--hidden (default: {'yes' if m['tie_weights'] else 'no'})")
    add_trainer_options(parser, DEFAULT_TRAIN, item="stream")
    parser.set_defaults(func=lm_command)


def print_summary(outcome: LMTrainOutcome) -> None:
    """The final lines of a training run, on standard output."""
    result = outcome.result
    line = f"trained {result.step} steps in {result.elapsed:.0f} s ({result.items_per_second:,.0f} chars/s)"
    if outcome.val_loss is not None:
        line += (f"; validation loss {outcome.val_loss:.4f} nats/char, "
                 f"{outcome.val_loss / LN2:.4f} bits/char over "
                 f"{outcome.val_loss_chars:,} characters")
    print(line)
    for label, path in (("best checkpoint", result.best_path), ("last checkpoint", result.last_path)):
        if path:
            print(f"{label}: {path}")
    sys.stdout.flush()


def lm_command(args: argparse.Namespace) -> int:
    checkpoint = load_resume_checkpoint(args, DEFAULT_TRAIN, task="lm")
    train = train_config_from_args(args, DEFAULT_TRAIN, checkpoint)
    data = LMDataConfig(text=args.text, seq_len=args.seq_len or LMDataConfig.seq_len)
    model = {
        "cell": args.cell, "num_layers": args.layers, "hidden_size": args.hidden,
        "embedding_size": args.embedding, "dropout": args.dropout, "tie_weights": args.tie_weights,
    }
    outcome = train_lm(train, data, model, resume=checkpoint)
    print_summary(outcome)
    return 0
