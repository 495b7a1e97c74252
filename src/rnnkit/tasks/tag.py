"""Sequence tagging: CoNLL-U or 2-column CoNLL files -> vocabularies -> SequenceTagger -> scores.

Python API::

    import rnnkit

    run = rnnkit.train("tag", {"data": {"train": "en_ewt-ud-train.conllu"}})
    print(run.reports[0].rows["token accuracy"])    # {"model": 0.90, "most-frequent-tag": 0.82}
    model = rnnkit.load("runs/tag")
    rnnkit.predict(model, ["The cat sat on the mat."])

Without a validation file the last ``val_fraction`` of the training sentences (in file order) is
held out. The checkpoint's task state holds the config, the word, character and tag vocabularies
and the most-frequent-tag baseline fitted on the training sentences (printed beside every score).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from rnnkit.config import Config, at_least, fraction, option
from rnnkit.data.conll import FORMATS, TaggedCorpus, column_cell, split_sentences
from rnnkit.data.inputs import read_source
from rnnkit.data.labelled import (
    BucketedBatches,
    Tokenizer,
    batch_order,
    encode_labels,
    pad_sequences,
)
from rnnkit.data.tables import tagged_sentences
from rnnkit.data.vocab import PAD, UNK, Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.export import tagger_spec, tokenizer_metadata
from rnnkit.formatting import count
from rnnkit.metrics.classification import MostFrequentTag, per_tag_f1, token_accuracy
from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig
from rnnkit.models.tagger_features import CASING_CLASSES, CHAR_ENCODERS, shape_ids
from rnnkit.tasks import base
from rnnkit.tasks import options as o
from rnnkit.tasks.base import Task, TrainedModel, register
from rnnkit.tasks.inspecting import VIEW_ROWS, store_sample
from rnnkit.tasks.tag_inputs import read_data, tag_in_windows
from rnnkit.training.devices import model_device
from rnnkit.training.settings import StepOutput, TrainConfig

__all__ = ["TagConfig", "TagData", "TagModel", "TagTask", "tag_scores"]

MAX_WORD_CHARS = 20  # characters of a word the character CNN reads (prefix and suffix kept)
BASELINE = "most-frequent-tag"


@dataclass
class TagData(Config):
    train: str | None = o.data_file(
        "training file: CoNLL-U (FORM and UPOS columns), a column file (token and tag), "
        ".jsonl or .parquet (list columns of tokens and tags)"
    )
    val: str | None = o.val_file(
        "validation file in the same format (none: hold out the last "
        "val_fraction of the training sentences, in file order)"
    )
    format: str = option(
        "auto",
        "file format; auto: .conllu files are CoNLL-U, others column files (conll)",
        choices=FORMATS,
    )
    token_col: int = option(
        1, "token column of a column file, from 1", metavar="N", check=at_least(1)
    )
    tag_col: int | None = option(
        None, "tag column of a column file, from 1 (none: the last)", metavar="N", check=at_least(1)
    )
    val_fraction: float = o.val_fraction("training sentences")
    tokens_col: str = option(
        "tokens", "tokens column of a table (.jsonl, DataFrame...)", metavar="C"
    )
    tags_col: str | None = option(
        None, "tags column of a table (none: tags, else ner_tags, pos_tags or upos)", metavar="C"
    )
    lower: bool = option(True, "lower-case the words for the word vocabulary (not the characters)")
    min_freq: int = o.min_freq()
    max_vocab: int | None = o.max_vocab()
    embeddings: str | None = o.embeddings_file()
    embeddings_vocab: str = o.embeddings_vocab()


@dataclass
class TagModel(o.RecurrentOptions):
    bidirectional: bool = option(True, "read each sentence in both directions")
    dropout: float = o.dropout(0.3, "on the inputs, between layers and before the output")
    embedding_dim: int = o.embedding(100)
    chars: bool = option(
        True,
        "add a character encoder (--char-encoder): unseen words are tagged from their spelling",
    )
    char_embedding_dim: int = option(
        32, "character embedding size", flag="char-embedding", metavar="E", check=at_least(1)
    )
    char_filters: int = option(
        64,
        "character features: CNN filters, or twice the character BiLSTM's hidden size",
        metavar="K",
        check=at_least(1),
    )
    char_encoder: str = option(
        "cnn",
        "character encoder: cnn (max over a convolution) or lstm (a character BiLSTM's final "
        "states, Lample et al. 2016)",
        choices=CHAR_ENCODERS,
    )
    casing: bool = option(
        False, "add an embedding of each word's shape (all caps, capitalised, digits...)"
    )
    word_dropout: float = option(
        0.1, "replace training words by <unk> with probability P", metavar="P", check=fraction()
    )
    use_crf: bool = option(False, "score whole tag sequences with a linear-chain CRF", flag="crf")
    select_on: str = o.select_on()
    freeze_embeddings: bool = o.freeze_embeddings()


@dataclass
class TagConfig(Config):
    data: TagData = option(factory=TagData)
    model: TagModel = option(factory=TagModel)
    train: TrainConfig = o.training("tag", max_steps=2000, batch_size=32, lr=2e-3, warmup_steps=50)


@dataclass
class TaggerState:
    """Words, characters and tags -> ids (the model's input and target), and the baseline: each
    word's most frequent training tag (``word_tag``), else the most frequent tag (``default``)."""

    words: Vocabulary
    chars: Vocabulary | None
    tags: Vocabulary
    lower: bool
    word_tag: dict[str, str]
    default: str
    sample: dict[str, Any] | None = None  # what plot and inspect read (see store_sample)

    def batch(self, sentences: Sequence[Sequence[str]], device: torch.device | None = None):
        """The model's inputs ``(words (N, L), lengths (N,), chars (N, L, W) or None,
        shapes (N, L))``: shapes and characters from the tokens as written (see
        :mod:`rnnkit.models.tagger_features`), words lower-cased with ``lower``."""
        words, lengths = pad_sequences(
            [self.words.encode(w.lower() if self.lower else w for w in s) for s in sentences],
            0,
            device,
        )
        shapes = shape_ids(sentences, words.shape[1]).to(words.device)
        if self.chars is None:
            return words, lengths, None, shapes
        half = MAX_WORD_CHARS // 2  # a long word: its first and last characters
        ids = [
            [
                self.chars.encode(w if len(w) <= MAX_WORD_CHARS else w[:half] + w[-half:])
                or [self.chars.unk_id]
                for w in s
            ]
            for s in sentences
        ]
        chars = torch.zeros(*words.shape, max(len(w) for s in ids for w in s), dtype=torch.long)
        for n, sentence in enumerate(ids):
            for t, word in enumerate(sentence):
                chars[n, t, : len(word)] = torch.tensor(word)
        return words, lengths, chars.to(device) if device is not None else chars, shapes

    def to_dict(self) -> dict[str, Any]:
        return {
            "words": self.words.to_dict(),
            "tags": self.tags.to_dict(),
            "lower": self.lower,
            "chars": None if self.chars is None else self.chars.to_dict(),
            "word_tag": dict(self.word_tag),
            "default": self.default,
            **({"sample": self.sample} if self.sample else {}),
        }

    @classmethod
    def fit(cls, corpus: TaggedCorpus, train: TaggedCorpus, d: TagData, chars: bool) -> TaggerState:
        """Vocabularies and baseline of the training sentences ``train`` (of the file ``corpus``)."""
        # The tag set comes from the whole training file, so that a rare tag that falls only into
        # the held-out sentences is not mistaken for an unknown one.
        tags = sorted({t for sentence in corpus.tags for t in sentence})
        if len(tags) < 2:
            raise RnnkitError(
                f"training data {d.train} has a single tag ({tags[0]!r}); a tagger needs at least 2"
            )
        words = Vocabulary.build(
            (w.lower() if d.lower else w for s in train.tokens for w in s),
            min_freq=d.min_freq,
            max_size=d.max_vocab,
            specials=(PAD, UNK),
        )
        letters = (c for s in train.tokens for w in s for c in w)
        char_vocab = Vocabulary.build(letters, specials=(PAD, UNK)) if chars else None
        baseline = MostFrequentTag().fit(train.tokens, train.tags)
        return cls(
            words, char_vocab, Vocabulary(tags), d.lower, baseline.word_tag, baseline.default
        )

    @classmethod
    def from_dict(cls, data: Any) -> TaggerState:
        chars = None if data["chars"] is None else Vocabulary.from_dict(data["chars"])
        return cls(
            Vocabulary.from_dict(data["words"]),
            chars,
            Vocabulary.from_dict(data["tags"]),
            bool(data["lower"]),
            dict(data["word_tag"]),
            str(data["default"]),
            data.get("sample"),
        )


@torch.no_grad()
def _tagged(
    model: SequenceTagger,
    state: TaggerState,
    sentences: Sequence[Sequence[str]],
    tag_ids: Sequence[Sequence[int]] | None = None,
    batch_size: int = 128,
) -> tuple[list[list[int]], float]:
    """Tag ids of every sentence (in their order) and, given the gold ``tag_ids``, the mean loss
    per token (cross-entropy, or the CRF's; in the model's mode: the Trainer's eval mode)."""
    out: list[list[int]] = [[] for _ in sentences]
    total = 0.0
    for batch in batch_order([len(s) for s in sentences], batch_size, shuffle=False):
        inputs = state.batch([sentences[i] for i in batch], model_device(model))
        words, lengths = inputs[:2]
        if tag_ids is not None:
            mask = model.mask(words, lengths)
            tags = pad_sequences([tag_ids[i] for i in batch], 0, words.device)[0]
            total += float(model.loss(model(*inputs), tags, mask)) * int(mask.sum())
        for index, tags in zip(batch, model.decode(*inputs)):
            out[index] = tags
    return out, total / max(sum(map(len, sentences)), 1)


def tag_scores(
    predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], tags: Sequence[str]
) -> tuple[dict[str, dict[str, float]], float]:
    """Per-tag precision/recall/F1/support and their macro-F1, over the tags (in ``tags`` order)
    that occur in ``gold`` or ``predicted``: a tag absent from both does not count."""
    seen = {t for sentence in [*predicted, *gold] for t in sentence}
    scores = per_tag_f1(predicted, gold, [t for t in tags if t in seen])
    return scores, sum(s["f1"] for s in scores.values()) / max(len(scores), 1)


def _read_splits(d: TagData) -> tuple[TaggedCorpus, TaggedCorpus, TaggedCorpus, str]:
    """The training file's corpus, the training and validation sentences, and where validation
    came from: the validation file, or the last ``val_fraction`` of the training sentences."""
    corpus = read_data(d, d.train)
    if d.val is not None:
        val = read_data(d, d.val)
        return corpus, corpus, val, f"{count(len(val), 'sentence')} of {d.val}"
    train, val = split_sentences(corpus, 1.0 - d.val_fraction)
    return corpus, train, val, f"the last {count(len(val), 'sentence')} of {d.train}"


def _names(state: TaggerState, rows: Sequence[Sequence[int]]) -> list[list[str]]:
    return [[state.tags.itos[i] for i in row] for row in rows]


def _baseline_tags(state: TaggerState, tokens: Sequence[Sequence[str]]) -> list[list[str]]:
    """The most-frequent-tag baseline's tags of every sentence."""
    return [[state.word_tag.get(w, state.default) for w in s] for s in tokens]


def _report(
    predicted, metrics: dict[str, float], state: TaggerState, data, title: str
) -> base.Report:
    """The model's tags (ids) and ``metrics`` beside the most-frequent-tag baseline on ``data``,
    ``(sentences, gold tag ids)``, and the model's per-tag scores."""
    names, (tokens, gold_ids) = state.tags.itos, data
    model_tags, gold = _names(state, predicted), _names(state, gold_ids)
    base_tags = _baseline_tags(state, tokens)
    per_tag, model_f1 = tag_scores(model_tags, gold, names)
    rows = {
        "token accuracy": {
            "model": metrics["accuracy"],
            BASELINE: token_accuracy(base_tags, gold),
        },
        "macro-F1": {"model": model_f1, BASELINE: tag_scores(base_tags, gold, names)[1]},
    }
    width = max(12, *(len(str(tag)) + 2 for tag in per_tag))
    details = [
        "per-tag F1 of the model:",
        f"{'tag':<{width}}{'precision':>10}{'recall':>10}{'F1':>8}{'support':>9}",
    ]
    details += [
        f"{tag!s:<{width}}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>8.4f}"
        f"{int(s['support']):>9}"
        for tag, s in per_tag.items()
    ]
    return base.Report(title, rows, details=details)


def _sentences(
    inputs: Any, column: str = "tokens", token_col: int = 1
) -> list[tuple[int, list[str]]]:
    """``(line, tokens)`` of every input, blank ones with no tokens (see :meth:`TagTask.predict`);
    a sentence of a CoNLL(-U) file is numbered by its first token's line (its tags are unread)."""
    suffix = Path(inputs).suffix.lower() if isinstance(inputs, (str, Path)) else ""
    if suffix not in (".conllu", ".conll"):
        return [
            (n, Tokenizer.split(line, "word", lower=False) if isinstance(line, str) else line)
            for n, line in _token_lists(o.numbered_lines(inputs, column))
        ]
    text, name = read_source(inputs)
    sentences: list[tuple[int, list[str]]] = []
    start, tokens = 0, []
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        columns = line.split("\t") if "\t" in line else line.split()
        if not line.strip() and tokens:
            sentences.append((start, tokens))
            start, tokens = 0, []
        if not line.strip() or line.startswith("#") or columns[0] == "-DOCSTART-":
            continue
        if suffix == ".conllu" and ("-" in columns[0] or "." in columns[0]):
            continue  # a multi-word token or an empty node
        start = start or number
        where = f"{name}, line {number}"
        tokens.append(
            columns[1]
            if suffix == ".conllu" and len(columns) > 1
            else column_cell(columns, "data.token_col", token_col, where)
        )
    if not sentences:
        raise RnnkitError(f"no sentence to tag in {name}")
    return sentences


def _token_lists(numbered: list[tuple[int, Any]]) -> list[tuple[int, Any]]:
    """The inputs given as Python objects checked: each a string or a list of token strings."""
    checked = []
    for n, item in numbered:
        if isinstance(item, (list, tuple)) and all(isinstance(token, str) for token in item):
            item = list(item)
        elif not isinstance(item, str):
            raise TypeError(
                f"input {n}: expected a sentence (a string) or a list of token strings, got "
                f"{type(item).__name__}"
            )
        checked.append((n, item))
    return checked


def _validation(trained: TrainedModel) -> tuple[list, list, str]:
    """The run's validation sentences, tags and title: the sample stored in the run (the first
    :data:`~rnnkit.tasks.inspecting.VIEW_ROWS`), or, for a run written before runs stored one, the
    validation data read again as in training."""
    sample = trained.state.sample
    if not sample:
        *_, val, where = _read_splits(trained.config.data)
        return val.tokens, val.tags, f"validation: {where}"
    tokens, where, total = sample["tokens"], sample["where"], sample["total"]
    shown = (
        where if len(tokens) == total else f"the first {count(len(tokens), 'sentence')} of {where}"
    )
    return [list(s) for s in tokens], [list(s) for s in sample["tags"]], f"validation: {shown}"


def _sentences_of(trained: TrainedModel, data: Any) -> tuple[list, list, str]:
    """Tokens, gold tag ids and a title of ``data``: a CoNLL(-U) file (read in the training
    format), a list of ``(tokens, tags)`` pairs, or ``None`` for the run's validation data."""
    d = trained.config.data
    if isinstance(data, (str, Path)):
        corpus = read_data(d, data)
        tokens, tags = corpus.tokens, corpus.tags
        title = f"{count(len(tokens), 'sentence')} of {data} ({count(corpus.num_tokens, 'token')})"
    elif data is None:
        tokens, tags, title = _validation(trained)
    else:
        tokens, tags, _ = tagged_sentences(data, d.tokens_col, d.tags_col, "evaluation sentence")
        title = f"{count(len(tokens), 'sentence')} ({count(sum(map(len, tokens)), 'token')})"
    ids = iter(
        encode_labels([t for s in tags for t in s], trained.state.tags, f"evaluation data {title}")
    )
    return tokens, [[next(ids) for _ in s] for s in tags], title


class TagTask(Task):
    name = "tag"
    config_class = TagConfig
    model_class = SequenceTagger
    model_config_class = SequenceTaggerConfig
    state_class = TaggerState
    view_data = True
    help = "sequence tagger on CoNLL-U or 2-column CoNLL files"
    description = (
        "Train a recurrent tagger (one tag per token; bidirectional by default, optional CRF) on "
        "CoNLL-U (FORM and UPOS columns) or 2-column CoNLL (token and tag) files. Reports token "
        "accuracy, macro-F1 and per-tag scores on the validation data beside the "
        "most-frequent-tag baseline."
    )
    examples = """examples:
  rnnkit train tag --data en_ewt-ud-train.conllu --val en_ewt-ud-dev.conllu
  rnnkit train tag --data ner.txt --format conll --crf --max-minutes 5
  rnnkit evaluate runs/tag --data en_ewt-ud-test.conllu
  echo "The cat sat on the mat." | rnnkit predict runs/tag --input -"""
    unit = "token"
    predict_hint = (
        "one sentence a line, split into words and punctuation by the classifier's "
        "word tokenizer (case kept), or a .conllu/.conll file read as its tokens; "
        "outputs a tag per token"
    )

    def setup(self, config: TagConfig, saved: Any, log) -> base.Setup:
        d, settings = config.data, config.train
        corpus, train, val, where = _read_splits(d)
        state = (
            TaggerState.from_dict(saved)
            if saved is not None
            else TaggerState.fit(corpus, train, d, config.model.chars)
        )
        state.words, vectors = o.pretrained_vectors(  # with the pretrained vectors' words
            config, saved, state.words, (train.tokens, val.tokens), log
        )
        known = "the checkpoint's labels" if saved is not None else "the training data"
        train_tags = [
            encode_labels(t, state.tags, f"training data {d.train}", known) for t in train.tags
        ]
        val_tags = [
            encode_labels(t, state.tags, f"validation data {where}", known) for t in val.tags
        ]
        log(
            f"{len(train):,} training and {count(len(val), 'validation sentence')} "
            f"({train.num_tokens:,} and {count(val.num_tokens, 'token')}), "
            f"{count(len(state.tags), 'tag')}, {count(len(state.words), 'word')}"
        )
        model, _ = self.restore(config, state.to_dict(), None)
        o.use_vectors(model, state.words, vectors, config)

        def collate(indices: list[int]):
            inputs = state.batch([train.tokens[i] for i in indices])
            return *inputs, pad_sequences([train_tags[i] for i in indices], 0)[0]

        source = BucketedBatches(
            [len(s) for s in train.tokens], settings.batch_size, collate, seed=settings.seed
        )
        rows = slice(0, VIEW_ROWS)
        state.sample = store_sample(
            source, tokens=val.tokens[rows], tags=val.tags[rows], where=where, total=len(val)
        )
        val = (val.tokens, val_tags, f"validation: {where} ({val.num_tokens:,} tokens)")
        picked = o.selection(config.model.select_on)
        return self.scored_setup(
            config, model, source, self.loss(config), state, state.to_dict(), val, [val], **picked
        )

    def defaults(self, given: Any) -> dict[str, Any]:
        return o.vector_defaults(super().defaults(given), given, "embedding_dim")

    def loss(self, config: TagConfig) -> Callable[[nn.Module, Any], StepOutput]:
        """The tagger's loss (per-token cross-entropy, or the CRF's negative log-likelihood) of a
        batch ``(words (N, L), lengths (N,), chars (N, L, W) or None[, shapes (N, L)], tags (N, L))``
        (the inputs of :meth:`TaggerState.batch`, then the tags; runs before shapes stored 4)."""

        def loss_fn(model: nn.Module, batch) -> StepOutput:
            *inputs, tags = batch
            words, lengths = inputs[:2]
            loss = model.loss(model(*inputs), tags, model.mask(words, lengths))
            return StepOutput(loss, items=int(lengths.sum()))

        return loss_fn

    def sizes(self, config, state) -> dict[str, Any]:
        return {
            "vocab_size": len(state.words),
            "num_tags": len(state.tags),
            "padding_idx": 0,
            "unk_idx": 1,
            "char_vocab_size": len(state.chars or ()),
        }

    def evaluate(
        self, trained: TrainedModel, data: Any = None, *, batch_size=None
    ) -> list[base.Report]:
        """``data``: a CoNLL-U or 2-column CoNLL file (read in the training format), or a list of
        ``(tokens, tags)`` pairs, one per sentence."""
        return [self.score(trained, _sentences_of(trained, data), batch_size=batch_size).report]

    def score(self, trained: TrainedModel, data, *, baselines=True, batch_size=None) -> base.Scores:
        """``data``: ``(sentences, gold tag ids, title)``; ``batch_size``: sentences a batch."""
        tokens, gold, title = data
        state = trained.state
        predicted, loss = _tagged(trained.model, state, tokens, gold, batch_size or 128)
        metrics = {"loss": loss, "accuracy": token_accuracy(predicted, gold)}
        if not baselines:
            return base.Scores(metrics)
        return base.Scores(metrics, _report(predicted, metrics, state, (tokens, gold), title))

    def views(self, trained: TrainedModel, data: Any = None, *, evals=()) -> list[base.View]:
        """The F1 of each tag, the model's beside the most-frequent-tag baseline's, on ``data``
        (as for :meth:`evaluate`), or else on the run's validation data."""
        state, (tokens, gold_ids, title) = trained.state, _sentences_of(trained, data)
        model_tags = _names(state, _tagged(trained.model, state, tokens)[0])
        gold = _names(state, gold_ids)
        per_tag, macro = tag_scores(model_tags, gold, state.tags.itos)
        baseline = per_tag_f1(_baseline_tags(state, tokens), gold, list(per_tag))
        return [
            base.View(
                "bars",
                f"per-tag F1: {title}",
                [str(tag) for tag in per_tag],
                {
                    "model": [s["f1"] for s in per_tag.values()],
                    BASELINE: [s["f1"] for s in baseline.values()],
                },
                xlabel="tag",
                ylabel="F1",
                levels={"model macro-F1": macro},
            )
        ]

    def predict(self, trained: TrainedModel, inputs: Any) -> list[dict[str, Any]]:
        """``inputs``: a file (``"-"``: standard input) of one sentence a line, a .conllu/.conll
        file, a list of sentences (strings) or a list of token lists (used as given)."""
        numbered = _sentences(inputs, trained.config.data.tokens_col, trained.config.data.token_col)
        kept = [(n, tokens) for n, tokens in numbered if tokens]
        predicted = tag_in_windows(  # a long input in windows (a book on one line)
            lambda pieces: _tagged(trained.model, trained.state, pieces)[0], [t for _, t in kept]
        )
        names = trained.state.tags.itos
        outputs = {
            n: {"tokens": tokens, "tags": [names[i] for i in row]}
            for (n, tokens), row in zip(kept, predicted)
        }
        return o.records_for(numbered, outputs, {"tokens": [], "tags": []})

    def export_spec(self, trained: TrainedModel) -> base.ExportSpec:
        state = trained.state
        # a sentence is split with the case kept; each word is lower-cased (lower) to look it up
        metadata = {
            **tokenizer_metadata("word", state.lower, state.words.itos, 0, 1),
            "tags": json.dumps(list(state.tags.itos), ensure_ascii=False),
            "words": json.dumps(list(state.words.itos), ensure_ascii=False),
            "chars": json.dumps(None if state.chars is None else list(state.chars.itos)),
            "max_word_chars": json.dumps(MAX_WORD_CHARS),  # longer: first and last half kept
            # the shape class names, by id, of the input "shapes" (a model with casing)
            "casing": json.dumps(list(CASING_CLASSES) if trained.model.config.casing else None),
        }
        return tagger_spec(trained.model, self.name, metadata)

    def example(self, folder: Path) -> base.Example:
        words = [("the", "DET"), ("cat", "NOUN"), ("sat", "VERB"), ("a", "DET"), ("dog", "NOUN")]
        lines = [f"{w}\t{t}" for i in range(30) for w, t in (words[i % 2 :] + [("", "")])]
        (folder / "train.conll").write_text("\n".join(lines).replace("\t\n", "\n"), "utf-8")
        (folder / "inputs.txt").write_text("The cat sat.\n\na dog\n", encoding="utf-8")
        (folder / "bad.conllu").write_text("1\tthe\n", encoding="utf-8")
        return base.Example(
            {
                "data": {"train": str(folder / "train.conll")},
                "model": {"embedding_dim": 8, "hidden_size": 8, "char_filters": 4},
                "train": {"max_steps": 4, "eval_every": 2, "save_every": 2, "batch_size": 8},
            },
            str(folder / "train.conll"),
            str(folder / "inputs.txt"),
            {"data": {"train": str(folder / "bad.conllu")}},
        )


register(TagTask())
