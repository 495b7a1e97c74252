"""Language models of characters, words or subwords: train with truncated back-propagation through
time, evaluate, sample.

Python API::

    import rnnkit
    from rnnkit.tasks.lm import SampleConfig, sample

    run = rnnkit.train("lm", {"data": {"train": "notes.txt"}, "train": {"max_minutes": 5}})
    print(sample(run.trained, SampleConfig(prompt="Dear ", length=200))[0])

The first 90% of the text trains and the last 10% validates (or a validation file, ``data.val``).
``data.tokenizer`` splits the text into characters (the default), words, or bpe/unigram subwords
(:mod:`rnnkit.data.tokenizers`). Evaluations during training read the first ``eval_chars``
validation tokens (for speed, and said so); the final report reads all of them, beside baselines
fitted on the training text (:mod:`.lm_state`): for characters the unigram and the bigram character
frequencies, for other tokens the unigram frequencies and a Kneser-Ney n-gram model, each per token
and per character of the text. The checkpoint's task state holds the config, the tokenizer and the
counts; a run's learnt tokenizer is also written into its directory (``OUT/tokenizer.json``).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.config import Config, ConfigError, at_least, option
from rnnkit.data.text import (
    BUILTIN_CORPUS_CHARS,
    Corpus,
    TBPTTBatch,
    TBPTTBatches,
    load_corpus,
    read_text,
    split_text,
    stream_matrix,
)
from rnnkit.data.tokenizers import KINDS, TextTokenizer, build_tokenizer, min_vocab_size, to_json
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.export import language_model_spec
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig, detach_state
from rnnkit.tasks import base
from rnnkit.tasks import options as o
from rnnkit.tasks.base import Task, TrainedModel, merge, register
from rnnkit.tasks.inspecting import store_sample
from rnnkit.tasks.lm_defaults import TOKENIZER_DEFAULTS
from rnnkit.tasks.lm_sample import SampleConfig, sample
from rnnkit.tasks.lm_state import LN2, LMState, encode_with, per_char_rows, token_rows
from rnnkit.training.devices import model_device
from rnnkit.training.settings import StepOutput, TrainConfig

__all__ = [
    "LMConfig",
    "LMData",
    "LMModel",
    "LMState",
    "LMTask",
    "SampleConfig",
    "TBPTTLoss",
    "sample",
    "text_loss",
]

INSPECTION_CHARS = 20_000  # validation characters a run stores for rnnkit inspect


@dataclass
class LMData(Config):
    train: str | None = o.data_file(
        "UTF-8 text file to learn (none: the built-in corpus, this machine's Python "
        "standard-library sources)",
        required=False,
        aliases=("text",),
    )
    val: str | None = o.val_file(
        "UTF-8 validation text (none: the last val_fraction of the training text)"
    )
    tokenizer: str = option(
        "char",
        "the tokens: characters, words (each line its words and <eos>), or bpe/unigram "
        "subwords learnt on the training text (the text extra); it picks the defaults",
        choices=KINDS,
    )
    vocab_size: int | None = option(
        None,
        "bpe/unigram: the subword vocabulary's size (none: 1024); word: keep the N most "
        "frequent words, the others read as <unk> (none: all)",
        metavar="N",
        check=at_least(3),
    )
    tokenizer_file: str | None = option(
        None,
        "use this tokenizer instead of learning one (with --tokenizer bpe or unigram): "
        "a tokenizers tokenizer.json or a sentencepiece .model",
        metavar="FILE",
        file=True,
    )
    baseline_order: int = option(
        3,
        "order of the Kneser-Ney n-gram baseline of word and subword models",
        metavar="N",
        check=at_least(1),
    )
    seq_len: int = option(
        64,
        "tokens per chunk of back-propagation through time (characters for a character model)",
        metavar="L",
        check=at_least(1),
    )
    val_fraction: float = option(
        0.1,
        "share of the text (its end) held out for validation without a validation file",
        metavar="F",
        check=(lambda v: 0 < v < 1, "in (0, 1)"),
    )
    eval_chars: int | None = option(
        50_000,
        "evaluations during training read the first N validation tokens (characters for a "
        "character model; none: all); the final report reads all",
        metavar="N",
        check=at_least(2),
    )
    eval_streams: int = option(
        16, "parallel streams when evaluating (speed only)", metavar="S", check=at_least(1)
    )
    max_builtin_chars: int = option(
        BUILTIN_CORPUS_CHARS, "characters of the built-in corpus", metavar="N", check=at_least(1000)
    )
    embeddings: str | None = o.embeddings_file()  # word models
    embeddings_vocab: str = o.embeddings_vocab()

    def validate(self) -> None:
        kind, size = self.tokenizer, self.vocab_size
        if self.tokenizer_file is not None and kind not in ("bpe", "unigram"):
            raise ConfigError(
                "tokenizer_file",
                f"expected the tokenizer bpe or unigram with a tokenizer file, got {kind}",
            )
        if size is not None and kind == "char":
            raise ConfigError(
                "vocab_size",
                f"expected none for the char tokenizer (its vocabulary is the text's "
                f"characters), got {size}",
            )
        if size is not None and self.tokenizer_file is None and size < min_vocab_size(kind):
            alphabet = "the 256 bytes" + (" and <unk>" if kind == "unigram" else "")
            raise ConfigError(
                "vocab_size",
                f"expected at least {min_vocab_size(kind)} for the byte-level {kind} "
                f"tokenizer (its initial alphabet: {alphabet}), got {size}",
            )


@dataclass
class LMModel(o.RecurrentOptions):
    # Defaults chosen with benchmarks/shakespeare.py (docs/language-model.md): on 2 CPU cores,
    # many small updates at a high learning rate beat a larger model or batch within minutes.
    hidden_size: int = o.hidden(256)
    embedding_size: int = o.embedding(64)
    dropout: float = o.dropout(0.0, "on embeddings, between layers and before the head")
    tie_weights: bool = option(
        False,
        "share the embedding with the output layer (needs the "
        "embedding size equal to the hidden size)",
    )
    adaptive_cutoffs: list[int] | None = option(
        None,
        "an exact adaptive softmax, much faster over a large vocabulary: its clusters start at "
        "these token ids (ordered by frequency; ids past the vocabulary are dropped; none: the "
        "full softmax)",
        metavar="IDS",
    )
    freeze_embeddings: bool = o.freeze_embeddings()

    def validate(self) -> None:
        if self.tie_weights and self.embedding_size != self.hidden_size:
            raise ConfigError(
                "tie_weights",
                f"needs embedding_size equal to hidden_size, got "
                f"{self.embedding_size} and {self.hidden_size}",
            )


@dataclass
class LMConfig(Config):
    data: LMData = option(factory=LMData)
    model: LMModel = option(factory=LMModel)
    train: TrainConfig = o.training(
        "lm",
        max_steps=3000,
        batch_size=32,
        lr=8e-2,
        warmup_steps=50,
        min_lr_ratio=0.01,
        weight_decay=0.1,
    )


class TBPTTLoss:
    """The training loss of stateful TBPTT: carries the hidden state (detached) from batch to batch.

    The carried state is saved in checkpoints (``state_dict``) so resumed runs continue exactly.
    """

    def __init__(self) -> None:
        self.state: Any = None

    def __call__(self, model: nn.Module, batch: TBPTTBatch) -> StepOutput:
        inputs, targets, reset = batch  # a TBPTTBatch, or the tuple a run stores
        if reset:  # the streams wrapped around: the old context does not lead here
            self.state = None
        loss, state = model.loss(inputs, targets, self.state)  # cross-entropy, (N, L) targets
        # A non-finite step is skipped by the Trainer; do not carry a poisoned state past it.
        self.state = detach_state(state) if torch.isfinite(loss) else None
        return StepOutput(loss, items=inputs.numel())

    def state_dict(self) -> dict[str, Any]:
        return {"state": self.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = state["state"]


@torch.no_grad()
def text_loss(model: LanguageModel, ids: Tensor, *, streams: int = 16, chunk: int = 512) -> float:
    """Mean loss in nats per character over every next-character prediction of ``ids``."""
    inputs, targets = stream_matrix(ids, streams)  # (S, T) each
    device, was_training = model_device(model), model.training
    model.eval()
    total, count, state = 0.0, 0, None
    try:
        for start in range(0, inputs.shape[1], chunk):
            x = inputs[:, start : start + chunk].to(device)
            y = targets[:, start : start + chunk].to(device)
            loss, state = model.loss(x, y, state, reduction="sum")  # -100: padding
            total += float(loss)
            count += int((y != -100).sum())
    finally:
        model.train(was_training)
    return total / count


def _texts(d: LMData) -> tuple[Corpus, str, str, str]:
    """The corpus, its training and validation texts, and where the validation text comes from:
    the validation file, else the last ``val_fraction`` of the corpus."""
    corpus = load_corpus(d.train, d.max_builtin_chars)
    if d.val is not None:
        train_text, val_text = corpus.text, load_corpus(d.val, what="validation file").text
        where = f"{len(val_text):,} characters of {d.val}"
    else:
        train_text, val_text = split_text(corpus.text, d.val_fraction)
        where = f"the last {len(val_text):,} characters of {corpus.name}"
    if len(train_text) < 2:  # the bigram counts need one pair of characters
        problem = f"the training part of {corpus.name} has {len(train_text)} character(s)"
        if d.val is None:
            problem += (
                f" (val fraction {d.val_fraction:g} of {len(corpus.text):,}); "
                "use a smaller val fraction"
            )
        raise RnnkitError(problem)
    return corpus, train_text, val_text, where


def _warn(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class LMTask(Task):
    name = "lm"
    config_class = LMConfig
    model_class = LanguageModel
    model_config_class = LanguageModelConfig
    state_class = LMState
    help = "language model of characters, words or subwords on a UTF-8 text"
    description = (
        "Train a recurrent language model of characters (default), words or subwords "
        "(--tokenizer) with truncated back-propagation through time (the state is carried from "
        "chunk to chunk). The first 90% of the text trains, the last 10% validates (or a "
        "validation file). Reports give nats per character, comparable across tokenizers."
    )
    examples = """examples:
  rnnkit train lm --data shakespeare.txt --max-minutes 10
  rnnkit train lm                                   # the built-in corpus: Python sources
  rnnkit train lm --data train.txt --val valid.txt  # validate on a file of its own
  rnnkit train lm --data notes.txt --cell gru --layers 2 --hidden 256 --out runs/notes
  rnnkit train lm --data ptb.train.txt --val ptb.valid.txt --tokenizer word
  rnnkit train lm --data notes.txt --tokenizer bpe --vocab-size 2000
  rnnkit train lm --resume --out runs/notes         # continue an interrupted run
  rnnkit sample runs/notes --prompt "Dear " --length 300"""
    unit = "char"
    predict_hint = "a language model writes text: use sample (rnnkit sample RUN)"

    def defaults(self, given: Any) -> dict[str, Any]:
        """The config's defaults with those of the chosen tokenizer
        (:data:`~rnnkit.tasks.lm_defaults.TOKENIZER_DEFAULTS`) merged over them."""
        section = given.get("data")
        kind = section.get("tokenizer", "char") if isinstance(section, Mapping) else "char"
        known = isinstance(kind, str) and kind in TOKENIZER_DEFAULTS  # a bad one fails its check
        defaults = merge(super().defaults(given), TOKENIZER_DEFAULTS[kind] if known else {})
        defaults = o.vector_defaults(defaults, given, "embedding_size")
        model, chosen = defaults["model"], given.get("model")
        chosen = chosen if isinstance(chosen, Mapping) else {}
        if model.get("tie_weights") and "tie_weights" not in chosen:
            # a tied default (the word model's) follows the sizes given (or the vectors'): the
            # layers widen to the embedding, and a frozen embedding or another hidden size given
            # unties the output layer, rather than refuse or freeze it
            width = chosen.get("embedding_size", model["embedding_size"])
            if chosen.get("freeze_embeddings") or chosen.get("hidden_size", width) != width:
                defaults = merge(defaults, {"model": {"tie_weights": False}})
            else:
                defaults = merge(defaults, {"model": {"hidden_size": width}})
        return defaults

    def setup(self, config: LMConfig, saved: Any, log) -> base.Setup:
        d, settings = config.data, config.train
        corpus, train_text, val_text, where = _texts(d)
        if saved is None and d.tokenizer_file is not None:  # a bad file: nothing said before
            build_tokenizer(d.tokenizer, "", file=d.tokenizer_file)
        log(corpus.description)
        vectors = None  # pretrained word vectors (data.embeddings) of a new word model
        if saved is not None:
            state = LMState.from_dict(saved)
            train_ids = encode_with(state.tokenizer, train_text, warn=log, what="training text")
            state.train_ids = None if state.chars else train_ids
        elif d.tokenizer == "char":
            state, train_ids = LMState.for_chars(corpus.text, train_text, corpus.description)
        else:
            tokenizer = build_tokenizer(
                d.tokenizer, train_text, vocab_size=d.vocab_size, file=d.tokenizer_file
            )
            tokenizer, vectors = o.word_vectors(config, tokenizer, (train_text, val_text), log)
            state, train_ids = LMState.fit(tokenizer, train_text, corpus.description, log)
        tokenizer, unit = state.tokenizer, "characters" if state.chars else "tokens"
        val_ids = encode_with(tokenizer, val_text, warn=log, what="validation text")
        model, _ = self.restore(config, state.to_dict(), None)
        o.use_vectors(model, getattr(tokenizer, "vocab", None), vectors, config)
        batches = TBPTTBatches(
            train_ids, settings.batch_size, d.seq_len, seed=settings.seed, unit=unit
        )
        eval_ids = val_ids[: d.eval_chars] if d.eval_chars else val_ids
        log(
            f"model: {config.model.num_layers}-layer {config.model.cell.upper()}, hidden "
            f"{config.model.hidden_size}, vocabulary {tokenizer.vocab_size}, "
            f"{model.num_parameters():,} parameters; {len(train_ids):,} training {unit}"
        )
        validated = len(val_ids) >= 2  # at least one prediction to score
        if validated:
            log(
                f"validating every {settings.eval_every:,} steps on the first {len(eval_ids):,} of "
                f"{len(val_ids):,} validation {unit}; the final report reads all of them"
            )
        state.sample = store_sample(batches, text=val_text[:INSPECTION_CHARS])
        val, reported = None, []
        if validated:
            chars = tokenizer.predicted_chars(val_text)
            eval_chars = chars * (len(eval_ids) - 1) // (len(val_ids) - 1)  # a prefix's share
            val = (eval_ids, "", eval_chars)
            reported = [(val_ids, f"validation: {where}", chars)]
        progress = _progress if state.chars else _token_progress
        args = (config, model, batches, self.loss(config), state, state.to_dict(), val, reported)
        setup = self.scored_setup(
            *args, progress_fn=progress, unit=None if state.chars else "token"
        )
        _save_tokenizer(tokenizer, settings.out_dir, saved is None, log)
        return setup

    def loss(self, config: LMConfig) -> TBPTTLoss:
        return TBPTTLoss()

    def sizes(self, config, state) -> dict[str, Any]:
        return {"vocab_size": state.tokenizer.vocab_size}

    def evaluate(
        self, trained: TrainedModel, data: Any = None, *, batch_size=None
    ) -> list[base.Report]:
        if isinstance(data, (str, Path)):
            text, name = read_text(data), str(data)
        else:
            text, name = load_corpus(data).text, "the given text"  # texts or a table
        state = trained.state
        ids = encode_with(state.tokenizer, text, warn=_warn, what="text")
        unit = "characters" if state.chars else "tokens"
        if len(ids) < 2:
            raise RnnkitError(f"{name} is too short to evaluate: it needs at least 2 {unit}")
        chars = state.tokenizer.predicted_chars(text)
        title = f"{len(ids) - 1:,} {unit} of {name}"
        if not state.chars:
            title = f"{len(ids) - 1:,} tokens ({chars:,} characters) of {name}"
        return [self.score(trained, (ids, title, chars), batch_size=batch_size).report]

    def score(self, trained: TrainedModel, data, *, baselines=True, batch_size=None) -> base.Scores:
        """``data``: ``(ids, title, chars)``, encoded text and the characters it predicts;
        ``batch_size``: parallel streams."""
        ids, title, chars = data
        state, streams = trained.state, batch_size or trained.config.data.eval_streams
        loss = text_loss(trained.model, ids, streams=streams)
        tokens = len(ids) - 1
        if state.chars:  # one character a token: the first versions' figures, as they were
            metrics = {"loss": loss, "bpc": loss / LN2}
            if not baselines:
                return base.Scores(metrics)
            rows = per_char_rows({"model": loss, **state.char_baselines(ids)})
            return base.Scores(metrics, base.Report(title, rows))
        per_char = loss * tokens / chars
        metrics = {"loss": loss, "ppl": math.exp(loss), "nats_per_char": per_char}
        metrics["bpc"] = per_char / LN2
        if not baselines:
            return base.Scores(metrics)
        order = trained.config.data.baseline_order
        found = state.token_baselines(ids, order, lambda: _training_ids(trained))
        note = None
        if f"kneser-ney {order}" not in found:
            note = "(no Kneser-Ney baseline: the training text is not at hand)"
        rows = token_rows({"model": loss, **found}, tokens, chars)
        return base.Scores(metrics, base.Report(title, rows, details=[note] if note else []))

    def example(self, folder: Path) -> base.Example:
        text = "".join(f"line {i}: the cat sat on the mat.\n" for i in range(80))
        (folder / "text.txt").write_text(text, encoding="utf-8")
        (folder / "held.txt").write_text(text[:300], encoding="utf-8")
        (folder / "bad.txt").write_bytes(b"\xff\xfe not utf-8 \x80")
        return base.Example(
            {
                "data": {"text": str(folder / "text.txt"), "seq_len": 16},  # the older name
                "model": {"embedding_size": 8, "hidden_size": 16},
                "train": {"max_steps": 4, "eval_every": 2, "save_every": 2, "batch_size": 4},
            },
            str(folder / "held.txt"),
            None,
            {"data": {"text": str(folder / "bad.txt")}},
        )

    def text_tokenizer(self, trained: TrainedModel) -> TextTokenizer:
        """The tokenizer the model reads and writes with (what :func:`sample` uses)."""
        return trained.state.tokenizer

    def language_model(self, trained: TrainedModel) -> tuple[LanguageModel, Vocabulary] | None:
        """A character model and its characters (the character view of ``rnnkit inspect``, the
        loggers' samples); ``None`` for a model of other tokens."""
        return (trained.model, trained.state.vocab) if trained.state.chars else None

    def export_spec(self, trained: TrainedModel) -> base.ExportSpec:
        state = trained.state
        if state.chars:
            return language_model_spec(trained.model, state.vocab, self.name)
        tokenizer = state.tokenizer
        vocab = SimpleNamespace(
            itos=[tokenizer.token(i) for i in range(tokenizer.vocab_size)],
            special_ids=tokenizer.special_ids,
        )
        spec = language_model_spec(trained.model, vocab, self.name)
        spec.metadata["tokenizer"] = to_json(tokenizer)  # encode and decode with rnnkit's rules
        return spec

    def text_sample(self, trained: TrainedModel) -> str:
        """300 characters after a newline, seeded: the sampler's own generator leaves the training
        RNG alone, and the same weights give the same text."""
        return sample(trained, SampleConfig(length=300, seed=0), warn=lambda message: None)[0]

    def inspection_text(self, trained: TrainedModel) -> str:
        """The run's validation text: its first :data:`INSPECTION_CHARS` characters as stored in
        the run, or (a run written before runs stored it) its validation file or the end of its
        corpus, split as in training."""
        if trained.state.sample:
            return str(trained.state.sample["text"])
        return _texts(trained.config.data)[2]


def _progress(loss: float) -> dict[str, str]:
    return {"loss": f"{loss:.3f}", "bpc": f"{loss / LN2:.3f}"}


def _token_progress(loss: float) -> dict[str, str]:
    return {"loss": f"{loss:.3f}", "ppl": f"{math.exp(min(loss, 50.0)):.1f}"}


def _training_ids(trained: TrainedModel) -> Tensor | None:
    """The run's training tokens, read again from its data (``None`` when they are gone)."""
    try:
        train_text = _texts(trained.config.data)[1]
    except RnnkitError:
        return None
    return encode_with(trained.state.tokenizer, train_text, warn=None, what="training text")


def _save_tokenizer(tokenizer: TextTokenizer, out_dir: Any, new: bool, log) -> None:
    """Write a new run's tokenizer into its directory, for users to reuse."""
    if not new or out_dir is None or not Path(out_dir).is_dir():
        return
    path = tokenizer.save(Path(out_dir))
    if path is not None:
        log(f"tokenizer ({tokenizer.kind}, {tokenizer.vocab_size:,} entries) written to {path}")


register(LMTask())
