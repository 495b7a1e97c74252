"""``rnnkit train tag``: a sequence tagger (part of speech, named entities...) on CoNLL files."""

from __future__ import annotations

import argparse
from dataclasses import replace

from rnnkit.cli._common import (
    HelpFormatter,
    add_trainer_options,
    load_resume_checkpoint,
    train_config_from_args,
)
from rnnkit.cli.train_classify import add_bool, add_model_options
from rnnkit.tasks.tag import TagConfig, train_tagger
from rnnkit.training import TrainConfig

__all__ = ["add_parser", "config_from_args", "tag_command"]

DEFAULTS = TrainConfig(max_steps=2000, batch_size=32, lr=2e-3, warmup_steps=50, eval_every=200,
                       save_every=200, out_dir="runs/tag")
_D = TagConfig()

EXAMPLES = """examples:
  rnnkit train tag --train en_ewt-ud-train.conllu --val en_ewt-ud-dev.conllu
  rnnkit train tag --train ner.txt --format conll --crf --max-minutes 5
  rnnkit evaluate runs/tag --data en_ewt-ud-test.conllu
  echo "the cat sat on the mat ." | rnnkit predict runs/tag --input -
"""


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "tag", help="train a sequence tagger on CoNLL-U or 2-column CoNLL files",
        description="Train a recurrent tagger (one tag per token; bidirectional by default, optional "
        "CRF) on CoNLL-U (FORM and UPOS columns) or 2-column CoNLL (token and tag) files. Prints "
        "token accuracy and per-tag F1 on the validation data with the most-frequent-tag baseline "
        "beside them, and saves OUT/best.pt and OUT/last.pt.\n\n" + EXAMPLES,
        formatter_class=HelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--train", required=True, metavar="FILE",
                      help="training file, CoNLL-U or 2-column CoNLL (required)")
    data.add_argument("--val", metavar="FILE",
                      help="validation file (default: the last --val-fraction of the training "
                      "sentences)")
    data.add_argument("--format", choices=("auto", "conllu", "conll"), default=_D.format,
                      help="file format; auto: .conllu files are CoNLL-U, others 2-column CoNLL "
                      f"(default: {_D.format})")
    data.add_argument("--val-fraction", type=float, default=_D.val_fraction, metavar="F",
                      help=f"share of sentences held out without --val (default: {_D.val_fraction})")
    add_bool(data, "--lower", _D.lower, "lower-case words for the word vocabulary")
    data.add_argument("--min-freq", type=int, default=_D.min_freq, metavar="N",
                      help=f"words seen fewer than N times map to <unk> (default: {_D.min_freq})")
    data.add_argument("--max-vocab", type=int, default=_D.max_vocab, metavar="N",
                      help=f"keep the N most frequent words, specials included (default: {_D.max_vocab})")
    model = parser.add_argument_group("model")
    add_model_options(model, _D, bidirectional_default=_D.bidirectional)
    add_bool(model, "--chars", _D.chars,
             "add a character CNN so that unseen words are tagged from their spelling")
    model.add_argument("--char-embedding", type=int, default=_D.char_embedding_dim, metavar="E",
                       help=f"character embedding size (default: {_D.char_embedding_dim})")
    model.add_argument("--char-filters", type=int, default=_D.char_filters, metavar="K",
                       help=f"character CNN filters (default: {_D.char_filters})")
    model.add_argument("--word-dropout", type=float, default=_D.word_dropout, metavar="P",
                       help=f"replace training words by <unk> with probability P (default: {_D.word_dropout})")
    add_bool(model, "--crf", _D.use_crf, "score whole tag sequences with a linear-chain CRF")
    add_trainer_options(parser, DEFAULTS, item="sentence")
    parser.set_defaults(func=tag_command)


def config_from_args(args: argparse.Namespace) -> TagConfig:
    return TagConfig(
        train=args.train, val=args.val, format=args.format, val_fraction=args.val_fraction,
        lower=args.lower, min_freq=args.min_freq, max_vocab=args.max_vocab, chars=args.chars,
        embedding_dim=args.embedding, char_embedding_dim=args.char_embedding,
        char_filters=args.char_filters, cell=args.cell, hidden_size=args.hidden,
        num_layers=args.layers, bidirectional=args.bidirectional, dropout=args.dropout,
        word_dropout=args.word_dropout, use_crf=args.crf,
    )


def tag_command(args: argparse.Namespace) -> int:
    checkpoint = load_resume_checkpoint(args, DEFAULTS, task="tag")
    train_config = train_config_from_args(args, DEFAULTS, checkpoint)
    config = config_from_args(args)
    if checkpoint is not None:
        saved = TagConfig.from_dict(checkpoint["task_state"]["config"])
        config = replace(saved, train=config.train, val=config.val)
    train_tagger(config, train_config, resume=checkpoint)
    return 0
