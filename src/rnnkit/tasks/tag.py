"""Sequence tagging end to end: CoNLL files -> vocabularies -> SequenceTagger -> Trainer.

Python API::

    from rnnkit.tasks.tag import TagConfig, train_tagger
    from rnnkit.training import TrainConfig

    result = train_tagger(TagConfig(train="en_ewt-ud-dev.conllu"),        # 90/10 split by sentence
                          TrainConfig(max_minutes=4, max_steps=None, out_dir="runs/pos"))
    print(result.metrics["accuracy"], result.baselines["most_frequent_tag"])

The checkpoint (``task = "tag"``) holds the model config and weights and, in ``task_state``,
``asdict(TagConfig)``, the word, character and tag vocabularies, and the most-frequent-tag
baseline fitted on the training sentences (so ``rnnkit evaluate`` prints it beside the model).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, TextIO

import torch
from torch import nn

from rnnkit.data.conll import TaggedCorpus, read_tagged, read_tokens, split_sentences
from rnnkit.data.labelled import (
    BucketedBatches,
    batch_order,
    encode_labels,
    pad_sequences,
    read_text_file,
)
from rnnkit.data.vocab import PAD, UNK, Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.metrics.classification import MostFrequentTag, per_tag_f1, token_accuracy
from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig
from rnnkit.tasks.classify import write_json_lines
from rnnkit.training import (
    StepOutput,
    TrainConfig,
    Trainer,
    model_device,
    resolve_device,
    seed_everything,
)

__all__ = ["TagConfig", "TagResult", "evaluate_command", "load_tagger", "predict_command",
           "predict_sentences", "train_tagger"]

TASK = "tag"
MAX_WORD_CHARS = 20  # characters of a word the character CNN reads (prefix and suffix kept)


@dataclass
class TagConfig:
    """Data and model options of a tagger (shared by the Python API and the CLI).

    Attributes:
        train: training file (CoNLL-U, or 2-column CoNLL).
        val: validation file; ``None`` holds out the last ``val_fraction`` of the training
            sentences (in file order).
        format: ``"auto"`` (by extension: ``.conllu`` is CoNLL-U), ``"conllu"`` or ``"conll"``.
        val_fraction: share of the sentences held out when there is no ``val`` file.
        lower: lower-case words for the word vocabulary (the characters keep their case).
        min_freq: words seen fewer times in training map to ``<unk>``.
        max_vocab: keep at most this many words (specials included); ``None`` for no limit.
        chars: add the character CNN (helps with words never seen in training).
        embedding_dim, char_embedding_dim, char_filters, cell, hidden_size, num_layers,
            bidirectional, dropout, word_dropout, use_crf: the model
            (see :class:`~rnnkit.models.tagger.SequenceTaggerConfig`).
    """

    train: str = ""
    val: str | None = None
    format: str = "auto"
    val_fraction: float = 0.1
    lower: bool = True
    min_freq: int = 1
    max_vocab: int | None = 50_000
    chars: bool = True
    embedding_dim: int = 100
    char_embedding_dim: int = 32
    char_filters: int = 64
    cell: str = "lstm"
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.3
    word_dropout: float = 0.1
    use_crf: bool = False

    def __post_init__(self) -> None:
        if not 0.0 < self.val_fraction < 1.0:
            raise RnnkitError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.min_freq < 1:
            raise RnnkitError(f"min_freq must be >= 1, got {self.min_freq}")
        if self.format not in ("auto", "conllu", "conll"):
            raise RnnkitError(f"format must be auto, conllu or conll, got {self.format!r}")

    def model_config(self, vocab_size: int, num_tags: int, char_vocab_size: int) -> SequenceTaggerConfig:
        return SequenceTaggerConfig(
            vocab_size=vocab_size, num_tags=num_tags, embedding_dim=self.embedding_dim,
            padding_idx=0, unk_idx=1, word_dropout=self.word_dropout,
            char_vocab_size=char_vocab_size if self.chars else 0,
            char_embedding_dim=self.char_embedding_dim, char_filters=self.char_filters,
            cell=self.cell, hidden_size=self.hidden_size, num_layers=self.num_layers,
            bidirectional=self.bidirectional, dropout=self.dropout, use_crf=self.use_crf,
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TagConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class TagResult:
    """What :func:`train_tagger` returns: validation scores of the model and of the baseline."""

    metrics: dict[str, float]
    baselines: dict[str, float]
    per_tag: dict[str, dict[str, float]]
    train_result: Any
    out_dir: str | None


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class _Encoder:
    """Words, characters and tags of sentences -> id lists (the model's input and target)."""

    def __init__(self, words: Vocabulary, chars: Vocabulary | None, tags: Vocabulary, lower: bool):
        self.words, self.chars, self.tags, self.lower = words, chars, tags, lower

    def word_ids(self, sentence: Sequence[str]) -> list[int]:
        return self.words.encode(w.lower() if self.lower else w for w in sentence)

    def char_ids(self, sentence: Sequence[str]) -> list[list[int]]:
        assert self.chars is not None  # internal: only called when the model reads characters
        half = MAX_WORD_CHARS // 2
        clipped = (w if len(w) <= MAX_WORD_CHARS else w[:half] + w[-half:] for w in sentence)
        return [self.chars.encode(w) or [self.chars.unk_id] for w in clipped]

    def batch(self, sentences: Sequence[Sequence[str]], device: torch.device | None = None):
        """``(words (N, L), lengths (N,), chars (N, L, W) or None)``."""
        words, lengths = pad_sequences([self.word_ids(s) for s in sentences], 0, device)
        if self.chars is None:
            return words, lengths, None
        per_sentence = [self.char_ids(s) for s in sentences]
        width = max(len(w) for sentence in per_sentence for w in sentence)
        chars = torch.zeros(words.shape[0], words.shape[1], width, dtype=torch.long)
        for n, sentence in enumerate(per_sentence):
            for t, ids in enumerate(sentence):
                chars[n, t, : len(ids)] = torch.tensor(ids)
        return words, lengths, chars.to(device) if device is not None else chars

    def to_dict(self) -> dict[str, Any]:
        return {"words": self.words.to_dict(), "tags": self.tags.to_dict(), "lower": self.lower,
                "chars": None if self.chars is None else self.chars.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> _Encoder:
        chars = None if data.get("chars") is None else Vocabulary.from_dict(data["chars"])
        return cls(Vocabulary.from_dict(data["words"]), chars, Vocabulary.from_dict(data["tags"]),
                   bool(data["lower"]))


@torch.no_grad()
def _decode(model: SequenceTagger, encoder: _Encoder, sentences: Sequence[Sequence[str]],
            batch_size: int = 128) -> list[list[int]]:
    """Tag ids of every sentence, in the original order."""
    device = model_device(model)
    out: list[list[int]] = [[] for _ in sentences]
    for batch in batch_order([len(s) for s in sentences], batch_size, shuffle=False):
        words, lengths, chars = encoder.batch([sentences[i] for i in batch], device)
        for index, tags in zip(batch, model.decode(words, lengths, chars)):
            out[index] = tags
    return out


@torch.no_grad()
def _val_loss(model: SequenceTagger, encoder: _Encoder, sentences, tag_ids, batch_size=128) -> float:
    device = model_device(model)
    total, tokens = 0.0, 0
    for batch in batch_order([len(s) for s in sentences], batch_size, shuffle=False):
        words, lengths, chars = encoder.batch([sentences[i] for i in batch], device)
        tags, _ = pad_sequences([tag_ids[i] for i in batch], 0, device)
        emissions = model(words, lengths, chars)
        mask = model.mask(words, lengths)
        count = int(mask.sum())
        total += float(model.loss(emissions, tags, mask)) * count
        tokens += count
    return total / max(tokens, 1)


def _baseline_from_state(state: dict[str, Any]) -> MostFrequentTag:
    baseline = MostFrequentTag(lower=False)
    baseline.word_tag = dict(state["word_tag"])
    baseline.default = state["default"]
    return baseline


def _evaluate(model, encoder, baseline: MostFrequentTag, corpus: TaggedCorpus):
    gold_ids = [encode_labels(tags, encoder.tags, f"tags of {corpus.path}") for tags in corpus.tags]
    predicted = _decode(model, encoder, corpus.tokens)
    names = encoder.tags.itos
    predicted_tags = [[names[i] for i in row] for row in predicted]
    metrics = {"accuracy": token_accuracy(predicted, gold_ids)}
    per_tag = per_tag_f1(predicted_tags, corpus.tags, names)
    metrics["macro_f1"] = sum(s["f1"] for s in per_tag.values()) / len(per_tag)
    base = {"most_frequent_tag": token_accuracy(baseline.predict(corpus.tokens), corpus.tags)}
    return metrics, base, per_tag, gold_ids


def format_report(metrics: dict[str, float], baselines: dict[str, float],
                  per_tag: dict[str, dict[str, float]], where: str, tokens: int) -> str:
    lines = [f"evaluation on {where} ({tokens} tokens):",
             f"  {'':<28}{'token accuracy':>15}",
             f"  {'model':<28}{metrics['accuracy']:>15.4f}"]
    for name, value in baselines.items():
        lines.append(f"  {name.replace('_', '-') + ' baseline':<28}{value:>15.4f}")
    lines.append(f"  per-tag F1 (macro {metrics['macro_f1']:.4f}):")
    lines.append(f"  {'tag':<12}{'precision':>10}{'recall':>10}{'F1':>8}{'support':>9}")
    for tag, s in per_tag.items():
        lines.append(f"  {tag!s:<12}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>8.4f}"
                     f"{int(s['support']):>9}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- training
def train_tagger(
    config: TagConfig,
    train_config: TrainConfig,
    *,
    resume: dict[str, Any] | None = None,
    out: TextIO | None = None,
    log: Callable[[str], None] = _log,
) -> TagResult:
    """Read the tagged data, build the tagger, train it with the Trainer and report the scores."""
    out = out or sys.stdout
    batch_size = int(getattr(train_config, "batch_size", 32))
    corpus = read_tagged(config.train, config.format)
    if config.val is not None:
        train_corpus, val_corpus = corpus, read_tagged(config.val, config.format)
        val_where = config.val
    else:
        train_corpus, val_corpus = split_sentences(corpus, 1.0 - config.val_fraction)
        val_where = f"the last {len(val_corpus)} sentences of {config.train}"

    if resume is not None:
        encoder = _Encoder.from_dict(resume["task_state"]["vocab"])
        baseline = _baseline_from_state(resume["task_state"]["baseline"])
    else:
        # With a held-out split the tag set comes from the whole file, so a rare tag that falls
        # only into the held-out sentences is not mistaken for an unknown one.
        tags = sorted({t for sentence in corpus.tags for t in sentence})
        if len(tags) < 2:
            raise RnnkitError(
                f"training data {config.train} has a single tag ({tags[0]!r}); a tagger needs at least 2"
            )
        words = Vocabulary.build(
            (w.lower() if config.lower else w for s in train_corpus.tokens for w in s),
            min_freq=config.min_freq, max_size=config.max_vocab, specials=(PAD, UNK),
        )
        chars = (Vocabulary.build((c for s in train_corpus.tokens for w in s for c in w),
                                  specials=(PAD, UNK)) if config.chars else None)
        encoder = _Encoder(words, chars, Vocabulary(tags), config.lower)
        baseline = MostFrequentTag().fit(train_corpus.tokens, train_corpus.tags)

    train_tags = [encode_labels(t, encoder.tags, f"training data {config.train}")
                  for t in train_corpus.tags]
    val_tags = [encode_labels(t, encoder.tags, f"validation data {val_where}") for t in val_corpus.tags]
    log(f"{len(train_corpus)} training sentences ({train_corpus.num_tokens} tokens), "
        f"{len(val_corpus)} validation sentences ({val_corpus.num_tokens} tokens), "
        f"{len(encoder.tags)} tags, {len(encoder.words)} words")

    seed_everything(train_config.seed)
    char_size = len(encoder.chars) if encoder.chars is not None else 0
    model_config = (
        SequenceTaggerConfig.from_dict(resume["model_config"]) if resume is not None
        else config.model_config(len(encoder.words), len(encoder.tags), char_size)
    )
    model = SequenceTagger(model_config)
    sentences = train_corpus.tokens

    def collate(indices: list[int]):
        words, lengths, chars = encoder.batch([sentences[i] for i in indices])
        tags, _ = pad_sequences([train_tags[i] for i in indices], 0)
        return words, lengths, chars, tags

    source = BucketedBatches([len(s) for s in sentences], batch_size, collate, seed=train_config.seed)

    def loss_fn(model: nn.Module, batch):
        words, lengths, chars, tags = batch
        emissions = model(words, lengths, chars)  # (B, L, T)
        mask = model.mask(words, lengths)
        return StepOutput(model.loss(emissions, tags, mask), items=int(lengths.sum()))

    def eval_fn(model: nn.Module) -> dict[str, float]:
        predicted = _decode(model, encoder, val_corpus.tokens)
        return {"loss": _val_loss(model, encoder, val_corpus.tokens, val_tags),
                "accuracy": token_accuracy(predicted, val_tags)}

    task_state = {
        "config": asdict(config),
        "vocab": encoder.to_dict(),
        "baseline": {"word_tag": dict(baseline.word_tag), "default": baseline.default},
    }
    trainer = Trainer(model, train_config, source, loss_fn, eval_fn=eval_fn, task=TASK,
                      model_config=asdict(model_config), task_state=task_state, unit="token", log=log)
    result = trainer.fit(resume=resume)
    if result.best_path is not None:
        from rnnkit.checkpoint import load_checkpoint

        model.load_state_dict(load_checkpoint(result.best_path)["model_state"])
    model.eval()
    metrics, baselines, per_tag, _ = _evaluate(model, encoder, baseline, val_corpus)
    print(format_report(metrics, baselines, per_tag, val_where, val_corpus.num_tokens), file=out)
    if train_config.out_dir is not None:
        print(f"model saved in {train_config.out_dir}", file=out)
    return TagResult(metrics, baselines, per_tag, result, train_config.out_dir)


# --------------------------------------------------------------------------- loading, evaluation, prediction
def load_tagger(checkpoint: dict[str, Any], device: str | torch.device = "cpu"):
    """``(model, encoder, baseline, TagConfig)`` rebuilt from a checkpoint."""
    where = checkpoint.get("path", "checkpoint")
    try:
        state = checkpoint["task_state"]
        encoder = _Encoder.from_dict(state["vocab"])
        baseline = _baseline_from_state(state["baseline"])
        config = TagConfig.from_dict(state["config"])
        model = SequenceTagger.from_config_dict(checkpoint["model_config"])
        model.load_state_dict(checkpoint["model_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        message = " ".join(str(error).split())[:300]
        raise RnnkitError(f"{where} is not a usable tag checkpoint: {message}") from error
    model.to(resolve_device(device)).eval()
    return model, encoder, baseline, config


def evaluate_command(args: argparse.Namespace, checkpoint: dict[str, Any]) -> int:
    """``rnnkit evaluate DIR --data FILE`` for a tagger: token accuracy, per-tag F1, baseline."""
    data = getattr(args, "data", None)
    if not data:
        raise RnnkitError("evaluate: a tagger needs --data FILE (a CoNLL-U or 2-column CoNLL file)")
    model, encoder, baseline, config = load_tagger(checkpoint, getattr(args, "device", None) or "cpu")
    corpus = read_tagged(data, config.format)
    metrics, baselines, per_tag, _ = _evaluate(model, encoder, baseline, corpus)
    print(format_report(metrics, baselines, per_tag, data, corpus.num_tokens))
    return 0


def predict_sentences(checkpoint: dict[str, Any], sentences: Sequence[Sequence[str]], *,
                      device: str = "cpu") -> list[dict[str, Any]]:
    """One ``{"tokens", "tags"}`` dict per sentence."""
    model, encoder, _, _ = load_tagger(checkpoint, device)
    predicted = _decode(model, encoder, sentences)
    return [{"tokens": list(tokens), "tags": [encoder.tags.itos[i] for i in row]}
            for tokens, row in zip(sentences, predicted)]


def predict_command(args: argparse.Namespace, checkpoint: dict[str, Any]) -> int:
    """``rnnkit predict DIR --input FILE|-`` for a tagger: one sentence a line (or a CoNLL file) in,
    JSON lines ``{"tokens": [...], "tags": [...]}`` out."""
    source = args.input
    if source != "-" and str(source).lower().endswith((".conllu", ".conll")):
        sentences = read_tagged(source).tokens
    else:
        text = sys.stdin.read() if source == "-" else read_text_file(source, "input file")
        sentences = read_tokens(text)
    if not sentences:
        raise RnnkitError(f"no sentence to tag in {'standard input' if source == '-' else source}")
    device = getattr(args, "device", None) or "cpu"
    write_json_lines(predict_sentences(checkpoint, sentences, device=device),
                     getattr(args, "output", None))
    return 0
