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
from collections.abc import Callable, Mapping, Sequence
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
    pad_sequences,
)
from rnnkit.data.tables import tagged_sentences
from rnnkit.errors import RnnkitError
from rnnkit.export import tagger_spec, tokenizer_metadata
from rnnkit.formatting import count
from rnnkit.metrics.classification import per_tag_f1, token_accuracy
from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig
from rnnkit.models.tagger_features import CASING_CLASSES, CHAR_ENCODERS
from rnnkit.tasks import base
from rnnkit.tasks import options as o
from rnnkit.tasks import tag_entities as ne
from rnnkit.tasks import tag_reports as tr
from rnnkit.tasks.base import Task, TrainedModel, register
from rnnkit.tasks.inspecting import VIEW_ROWS, store_sample
from rnnkit.tasks.tag_defaults import ENTITY_DEFAULTS
from rnnkit.tasks.tag_inputs import read_data, tag_in_windows
from rnnkit.tasks.tag_reports import BASELINE, tag_scores
from rnnkit.tasks.tag_state import MAX_WORD_CHARS, TaggerState
from rnnkit.training.devices import model_device
from rnnkit.training.settings import StepOutput, TrainConfig

__all__ = ["TagConfig", "TagData", "TagModel", "TagTask", "tag_scores"]


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
    scheme: str = option(
        "auto",
        "tagging scheme of entity tags (O, B-PER...); auto: detected from the training tags",
        choices=ne.scheme_option(),
    )
    internal_scheme: str = option(
        ne.INTERNAL,
        "scheme the model trains and decodes entity tags in; predictions are written back in "
        "the input's scheme",
        choices=ne.SCHEMES,
    )


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
    select_on: str = option(
        "auto",
        "validation score that picks best.pt and drives early stopping: f1 (entity F1 for entity "
        "tags, else macro-F1), token accuracy, or the loss; auto: f1 for entity tags, else accuracy",
        choices=("auto", "f1", "accuracy", "loss"),
    )
    freeze_embeddings: bool = o.freeze_embeddings()


@dataclass
class TagConfig(Config):
    data: TagData = option(factory=TagData)
    model: TagModel = option(factory=TagModel)
    train: TrainConfig = o.training("tag", max_steps=2000, batch_size=32, lr=2e-3, warmup_steps=50)


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


def _names_entity_tags(given: Mapping[str, Any]) -> bool:
    """Whether the training data that the settings ``given`` name holds entity tags (``False``
    when it cannot be read: setting up the run then says why)."""
    data = given.get("data")
    if not isinstance(data, Mapping) or data.get("train") is None:
        return False
    try:
        d = TagData.from_dict(TagData.current_names(dict(data)))
        tags = read_data(d, d.train).tags
        return ne.EntityTags.detect(tags, d.scheme, d.internal_scheme, str(d.train)) is not None
    except (RnnkitError, TypeError, ValueError, OSError):
        return False


def _read_splits(d: TagData) -> tuple[TaggedCorpus, TaggedCorpus, TaggedCorpus, str]:
    """The training file's corpus, the training and validation sentences, and where validation
    came from: the validation file, or the last ``val_fraction`` of the training sentences."""
    corpus = read_data(d, d.train)
    if d.val is not None:
        val = read_data(d, d.val)
        return corpus, corpus, val, f"{count(len(val), 'sentence')} of {d.val}"
    train, val = split_sentences(corpus, 1.0 - d.val_fraction)
    return corpus, train, val, f"the last {count(len(val), 'sentence')} of {d.train}"


def _sentences(
    inputs: Any, column: str = "tokens", token_col: int = 1
) -> list[tuple[int, list[str], str | None]]:
    """``(line, tokens, text)`` of every input, blank ones with no tokens (see
    :meth:`TagTask.predict`); ``text``: the line a sentence was split from (``None`` for token
    lists and tagged files); a sentence of a CoNLL(-U) file is numbered by its first token's line
    (its tags are unread)."""
    suffix = tagged_suffix(inputs)
    if suffix is None:
        return [
            (n, Tokenizer.split(line, "word", lower=False), line)
            if isinstance(line, str)
            else (n, line, None)
            for n, line in _token_lists(o.numbered_lines(inputs, column))
        ]
    text, name = read_source(inputs)
    sentences: list[tuple[int, list[str], str | None]] = []
    start, tokens = 0, []
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        columns = line.split("\t") if "\t" in line else line.split()
        if not line.strip() and tokens:
            sentences.append((start, tokens, None))
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


def tagged_suffix(inputs: Any) -> str | None:
    """The suffix of a tagged file given as predict's input (``.conllu``, ``.conll``), else None."""
    suffix = Path(inputs).suffix.lower() if isinstance(inputs, (str, Path)) else ""
    return suffix if suffix in (".conllu", ".conll") else None


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
    ids = trained.state.tag_ids(tags, f"evaluation data {title}", "the training data")
    return tokens, ids, title


def _gold_tags(trained: TrainedModel, inputs: Any, sentences: int) -> list[list[str]] | None:
    """The tags of a tagged input file (read with the run's settings) when it has one sentence
    for each sentence predicted, else ``None``."""
    if tagged_suffix(inputs) is None:
        return None
    try:
        corpus = read_data(trained.config.data, inputs)
    except RnnkitError:
        return None
    return corpus.tags if len(corpus.tags) == sentences else None


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
        "most-frequent-tag baseline; for entity tags (O, B-PER... in IOB1, IOB2, IOBES or BILOU) "
        "entity precision, recall and F1 beside it and a memorisation baseline (docs/ner.md)."
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
        "outputs a tag per token, and for entity tags the entities (--output-format conll, "
        "--top-k N with a CRF)"
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
        train_tags = state.tag_ids(train.tags, f"training data {d.train}", known)
        val_tags = state.tag_ids(val.tags, f"validation data {where}", known)
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
        picked = tr.selection(config.model.select_on, state)
        return self.scored_setup(
            config, model, source, self.loss(config), state, state.to_dict(), val, [val], **picked
        )

    def defaults(self, given: Any) -> dict[str, Any]:
        """The config's defaults; for entity tags (in the training data ``given`` names) with
        :data:`~rnnkit.tasks.tag_defaults.ENTITY_DEFAULTS` merged over them."""
        defaults = super().defaults(given)
        if _names_entity_tags(given):
            defaults = base.merge(defaults, ENTITY_DEFAULTS)
        return o.vector_defaults(defaults, given, "embedding_dim")

    def restore(self, config, saved, model_config) -> tuple[nn.Module, TaggerState]:
        """The model and state (see :meth:`Task.restore`); an entity tagger's CRF constrained to
        its internal scheme's allowed transitions."""
        model, state = super().restore(config, saved, model_config)
        if state.entities is not None:
            state.entities.constrain(model, state.tags.itos)
        return model, state

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
        if state.entities is not None:
            return tr.entity_task_scores(state, tokens, predicted, gold, loss, title, baselines)
        metrics = {"loss": loss, "accuracy": token_accuracy(predicted, gold)}
        if trained.config.model.select_on == "f1":
            names = state.tags.itos
            metrics["f1"] = tag_scores(tr.names(state, predicted), tr.names(state, gold), names)[1]
        if not baselines:
            return base.Scores(metrics)
        return base.Scores(metrics, tr.tag_report(predicted, metrics, state, (tokens, gold), title))

    def views(self, trained: TrainedModel, data: Any = None, *, evals=()) -> list[base.View]:
        """The F1 of each tag, the model's beside the most-frequent-tag baseline's, on ``data``
        (as for :meth:`evaluate`), or else on the run's validation data."""
        state, (tokens, gold_ids, title) = trained.state, _sentences_of(trained, data)
        model_tags = tr.names(state, _tagged(trained.model, state, tokens)[0])
        gold = tr.names(state, gold_ids)
        per_tag, macro = tag_scores(model_tags, gold, state.tags.itos)
        base_tags = tr.baseline_tags(state, tokens)
        if state.entities is not None:  # the baseline's tags (input scheme) beside the model's
            base_tags = [state.entities.to_internal(s) for s in base_tags]
        baseline = per_tag_f1(base_tags, gold, list(per_tag))
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

    def predict(
        self, trained: TrainedModel, inputs: Any, *, top_k: int | None = None, gold: bool = False
    ) -> list[dict[str, Any]]:
        """``inputs``: a file (``"-"``: standard input) of one sentence a line, a .conllu/.conll
        file, a list of sentences (strings) or a list of token lists (used as given).

        Each record holds the ``tokens`` and their ``tags``; an entity tagger's also the
        ``entities`` (see :mod:`~rnnkit.tasks.tag_entities`). ``top_k``: also the N best tag
        sequences with their log-probabilities (``"top_k"``; a run trained with a CRF).
        ``gold``: also the tags of a tagged input file (``"gold"``), as ``--output-format conll``
        writes them."""
        state, model = trained.state, trained.model
        top_k = ne.check_top_k(top_k, getattr(model, "crf", None) is not None)
        d = trained.config.data
        numbered = _sentences(inputs, d.tokens_col, d.token_col)
        kept = [(n, tokens, line) for n, tokens, line in numbered if tokens]
        empty: dict[str, Any] = {"tokens": [], "tags": []}
        if state.entities is None and top_k is None:  # a plain tagger: tags only
            predicted = tag_in_windows(  # a long input in windows (a book on one line)
                lambda pieces: _tagged(model, state, pieces)[0], [t for _, t, _ in kept]
            )
            outputs = {
                n: {"tokens": tokens, "tags": state.output_tags(row)}
                for (n, tokens, _), row in zip(kept, predicted)
            }
        else:
            outputs = ne.tag_sentences(model, state, kept, top_k)
            empty = {**empty, "entities": []} if state.entities is not None else empty
        if gold:
            ne.add_gold(outputs, kept, _gold_tags(trained, inputs, len(kept)))
        return o.records_for([(n, t) for n, t, _ in numbered], outputs, empty)

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
