"""``rnnkit train classify``: a text classifier on your own labelled TSV/CSV files."""

from __future__ import annotations

import argparse
from dataclasses import replace

from rnnkit.cli._common import (
    HelpFormatter,
    add_trainer_options,
    load_resume_checkpoint,
    train_config_from_args,
)
from rnnkit.tasks.classify import ClassifyConfig, train_classifier
from rnnkit.training import TrainConfig

DEFAULTS = TrainConfig(max_steps=2000, batch_size=64, lr=2e-3, warmup_steps=100, eval_every=250,
                       save_every=250, out_dir="runs/classify")
_D = ClassifyConfig()

EXAMPLES = """examples:
  rnnkit train classify --train train.tsv --val dev.tsv
  rnnkit train classify --train reviews.csv --text-col review --label-col stars --steps 3000
  rnnkit evaluate runs/classify --data test.tsv
  echo "a gripping , funny film" | rnnkit predict runs/classify --input -
"""


def add_bool(parser, name: str, default: bool, text: str) -> None:
    parser.add_argument(name, action=argparse.BooleanOptionalAction, default=default,
                        help=f"{text} (default: {'yes' if default else 'no'})")


def add_model_options(group, d, *, bidirectional_default: bool) -> None:
    """Options of the recurrent model shared by classify and tag."""
    group.add_argument("--embedding", type=int, default=d.embedding_dim, metavar="E",
                       help=f"embedding size (default: {d.embedding_dim})")
    group.add_argument("--cell", choices=("rnn", "lstm", "gru"), default=d.cell,
                       help=f"recurrent cell (default: {d.cell})")
    group.add_argument("--hidden", type=int, default=d.hidden_size, metavar="H",
                       help=f"hidden size of each direction (default: {d.hidden_size})")
    group.add_argument("--layers", type=int, default=d.num_layers, metavar="N",
                       help=f"stacked recurrent layers (default: {d.num_layers})")
    add_bool(group, "--bidirectional", bidirectional_default,
             "read each sequence in both directions")
    group.add_argument("--dropout", type=float, default=d.dropout, metavar="P",
                       help=f"dropout on embeddings, between layers and before the output "
                       f"(default: {d.dropout})")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "classify", help="train a text classifier on labelled TSV/CSV files",
        description="Train a recurrent text classifier (many-to-one) on a TSV/CSV file with a "
        "header. Prints accuracy, macro-F1 and the confusion matrix on the validation data with the "
        "majority-class baseline beside them, and saves OUT/best.pt and OUT/last.pt.\n\n" + EXAMPLES,
        formatter_class=HelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--train", required=True, metavar="FILE",
                      help="training file: TSV (.tsv) or CSV (.csv) with a header line (required)")
    data.add_argument("--val", metavar="FILE",
                      help="validation file in the same format (default: hold out --val-fraction "
                      "of the training rows)")
    data.add_argument("--text-col", default=_D.text_col, metavar="C",
                      help=f"name of the text column (default: {_D.text_col})")
    data.add_argument("--label-col", default=_D.label_col, metavar="C",
                      help=f"name of the label column; labels may be strings or integers "
                      f"(default: {_D.label_col})")
    data.add_argument("--delimiter", default=None, metavar="D",
                      help="field separator (default: tab for .tsv, comma for .csv, else guessed "
                      "from the header)")
    data.add_argument("--val-fraction", type=float, default=_D.val_fraction, metavar="F",
                      help=f"share of training rows held out without --val (default: {_D.val_fraction})")
    data.add_argument("--tokenizer", choices=("word", "char"), default=_D.tokenizer,
                      help=f"split text into words or characters (default: {_D.tokenizer})")
    add_bool(data, "--lower", _D.lower, "lower-case the text")
    data.add_argument("--min-freq", type=int, default=_D.min_freq, metavar="N",
                      help=f"tokens seen fewer than N times map to <unk> (default: {_D.min_freq})")
    data.add_argument("--max-vocab", type=int, default=_D.max_vocab, metavar="N",
                      help=f"keep the N most frequent tokens, specials included (default: {_D.max_vocab})")
    data.add_argument("--max-length", type=int, default=_D.max_length, metavar="N",
                      help=f"keep the first N tokens of each text (default: {_D.max_length})")
    model = parser.add_argument_group("model")
    add_model_options(model, _D, bidirectional_default=_D.bidirectional)
    model.add_argument("--pooling", choices=("last", "mean", "max"), default=_D.pooling,
                       help="read out the final hidden state at each text's true end (last), or "
                       f"pool the outputs over its valid steps (mean, max) (default: {_D.pooling})")
    model.add_argument("--select-on", choices=("accuracy", "loss"), default=_D.select_on,
                       help="validation score that picks best.pt and drives early stopping: "
                       f"accuracy, or the cross-entropy loss (default: {_D.select_on})")
    add_trainer_options(parser, DEFAULTS)
    parser.set_defaults(func=classify_command)


def config_from_args(args: argparse.Namespace) -> ClassifyConfig:
    return ClassifyConfig(
        train=args.train, val=args.val, text_col=args.text_col, label_col=args.label_col,
        delimiter=args.delimiter, val_fraction=args.val_fraction, tokenizer=args.tokenizer,
        lower=args.lower, min_freq=args.min_freq, max_vocab=args.max_vocab,
        max_length=args.max_length, embedding_dim=args.embedding, cell=args.cell,
        hidden_size=args.hidden, num_layers=args.layers, bidirectional=args.bidirectional,
        dropout=args.dropout, pooling=args.pooling, select_on=args.select_on,
    )


def classify_command(args: argparse.Namespace) -> int:
    checkpoint = load_resume_checkpoint(args, DEFAULTS, task="classify")
    train_config = train_config_from_args(args, DEFAULTS, checkpoint)
    config = config_from_args(args)
    if checkpoint is not None:  # the saved data and model settings, with the files given now
        saved = ClassifyConfig.from_dict(checkpoint["task_state"]["config"])
        config = replace(saved, train=config.train, val=config.val)
    train_classifier(config, train_config, resume=checkpoint)
    return 0


__all__ = ["add_parser", "classify_command", "config_from_args"]
