"""Text classification: labelled TSV/CSV files -> tokenizer -> SequenceClassifier -> scores.

Python API::

    import rnnkit

    run = rnnkit.train("classify", {"data": {"train": "train.tsv", "val": "dev.tsv"}})
    print(run.reports[0].rows["accuracy"])          # {"model": 0.84, "majority": 0.51}
    model = rnnkit.load("runs/classify")
    rnnkit.predict(model, ["a gripping , funny film"])

The checkpoint's task state holds the config, the tokenizer (its vocabulary), the label map and
the training label counts (for the majority-class baseline printed beside every score).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rnnkit.config import Config, at_least, option
from rnnkit.data import labelled
from rnnkit.data.labelled import BucketedBatches, Tokenizer, encode_labels, pad_sequences
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.export import classifier_spec, tokenizer_metadata
from rnnkit.formatting import count
from rnnkit.inspection import token_contributions
from rnnkit.metrics.classification import accuracy, confusion_matrix, macro_f1
from rnnkit.models.bag import BagClassifier, BagClassifierConfig
from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.tasks import base
from rnnkit.tasks import classify_text as ct
from rnnkit.tasks import options as o
from rnnkit.tasks.base import Task, TrainedModel, register
from rnnkit.tasks.classify_text import class_probabilities
from rnnkit.tasks.inspecting import VIEW_ROWS, store_sample
from rnnkit.training.settings import StepOutput, TrainConfig

__all__ = ["ClassifyConfig", "ClassifyData", "ClassifyModel", "ClassifyTask"]

INSPECTED = 20  # examples whose token contributions rnnkit inspect shows


@dataclass
class ClassifyData(Config):
    train: str | None = o.data_file(
        "training file: TSV (.tsv) or CSV (.csv) with a header line, .jsonl or .parquet"
    )
    val: str | None = o.val_file(
        "validation file in the same format (none: hold out "
        "val_fraction of the training rows, chosen by the seed)"
    )
    text_col: str = option("text", "name of the text column", metavar="C")
    label_col: str = option(
        "label", "name of the label column (labels: strings or integers)", metavar="C"
    )
    delimiter: str | None = option(
        None,
        "field separator (none: tab for .tsv, comma for .csv, else guessed from the header)",
        metavar="D",
        check=(lambda v: len(v) == 1 and v not in '"\r\n', "of one character, not a quote"),
    )
    val_fraction: float = o.val_fraction("training rows")
    tokenizer: str = option(
        "word",
        "split texts into words (and punctuation), characters, or bpe/unigram subwords "
        "learnt on the training texts (the text extra)",
        choices=("word", "char", "bpe", "unigram"),
    )
    vocab_size: int | None = option(
        None, "bpe/unigram: the subword vocabulary's size (none: 1024)", metavar="N"
    )
    tokenizer_file: str | None = option(
        None,
        "bpe/unigram: a tokenizer.json or sentencepiece .model to use",
        metavar="FILE",
        file=True,
    )
    lower: bool = option(True, "lower-case the text")
    min_freq: int = o.min_freq()
    max_vocab: int | None = o.max_vocab()
    max_length: int | None = option(
        None,
        "keep the first N tokens of each text (none: all; the log reports the share a cap cuts)",
        metavar="N",
        check=at_least(1),
    )
    embeddings: str | None = o.embeddings_file()
    embeddings_vocab: str = o.embeddings_vocab()


@dataclass
class ClassifyModel(o.RecurrentOptions):
    embedding_dim: int = o.embedding(128)
    bidirectional: bool = option(True, "read each text in both directions")
    dropout: float = o.dropout(0.5, "on embeddings, between layers and before the output")
    pooling: str = option(
        "max",
        "read out the final state at each text's end (last), or pool "
        "the outputs over its tokens (mean, max)",
        choices=("last", "mean", "max"),
    )
    select_on: str = o.select_on()
    freeze_embeddings: bool = o.freeze_embeddings()
    hybrid: bool | None = option(
        None,
        "add the logits of the bag-of-n-grams baseline (fitted on the training split, then "
        "fixed) to the recurrent model's: the network learns what the n-grams miss (none: for "
        f"long texts, a median of at least {ct.HYBRID_LENGTH} training tokens)",
    )
    kind: str = option(
        "rnn",
        "the model: the recurrent classifier (rnn), or the bag-of-n-grams baseline alone (bag)",
        flag="model",
        choices=("rnn", "bag"),
    )


@dataclass
class ClassifyConfig(Config):
    data: ClassifyData = option(factory=ClassifyData)
    model: ClassifyModel = option(factory=ClassifyModel)
    train: TrainConfig = o.training(
        "classify", max_steps=2000, batch_size=64, lr=4e-3, warmup_steps=100
    )


@dataclass
class ClassifierState:
    tokenizer: Tokenizer
    labels: Vocabulary
    counts: list[int]  # training examples per label: the majority baseline
    sample: dict[str, Any] | None = None  # what plot and inspect read (see store_sample)
    bag: dict[str, Any] | None = None  # the bag-of-n-grams baseline (see classify_text)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tokenizer": self.tokenizer.to_dict(),
            "labels": self.labels.to_dict(),
            "label_counts": list(self.counts),
            **({"sample": self.sample} if self.sample else {}),
            **({"bag": self.bag} if self.bag else {}),
        }

    @classmethod
    def fit(cls, texts: list[str], labels: list[str], d: ClassifyData) -> ClassifierState:
        """The tokenizer, label map and label counts of the training data."""
        vocab = labelled.build_label_vocab(labels, f"training data {d.train}")
        tokenizer = Tokenizer.build(
            texts,
            d.tokenizer,
            lower=d.lower,
            min_freq=d.min_freq,
            max_size=d.max_vocab,
            vocab_size=d.vocab_size,
            file=d.tokenizer_file,
        )
        counts = Counter(encode_labels(labels, vocab, f"training data {d.train}"))
        return cls(tokenizer, vocab, [counts[i] for i in range(len(vocab))])

    @classmethod
    def from_dict(cls, data: Any) -> ClassifierState:
        return cls(
            Tokenizer.from_dict(data["tokenizer"]),
            Vocabulary.from_dict(data["labels"]),
            [int(c) for c in data["label_counts"]],
            data.get("sample"),
            data.get("bag"),
        )


def _read_splits(d: ClassifyData, seed: int, log) -> tuple[list, list, list, list, str]:
    """Training texts and labels, validation texts and labels, and where validation came from:
    the validation file, or a seeded random ``val_fraction`` of the training rows."""
    train = labelled.read_labelled(d.train, d.text_col, d.label_col, delimiter=d.delimiter)
    files = [train]
    if d.val is not None:
        val = labelled.read_labelled(d.val, d.text_col, d.label_col, delimiter=d.delimiter)
        files.append(val)
        texts, labels, val_texts, val_labels = train.texts, train.labels, val.texts, val.labels
        where = f"{count(len(val), 'row')} of {d.val}"
    else:
        kept, held = o.held_out(len(train), d.val_fraction, seed, "training rows")
        texts, labels = [train.texts[i] for i in kept], [train.labels[i] for i in kept]
        val_texts, val_labels = [train.texts[i] for i in held], [train.labels[i] for i in held]
        where = f"{count(len(held), 'row')} held out of {d.train}"
    for rows in files:
        if rows.skipped_empty:
            log(f"skipped {rows.skipped_empty} rows with empty text in {rows.path}")
    return texts, labels, val_texts, val_labels, where


def _report(
    probs: torch.Tensor, gold: list[int], metrics: dict[str, float], state, title: str, bag=None
) -> base.Report:
    """The model's ``metrics`` beside the majority class and the bag of n-grams' ``bag`` (when
    the run has one), and the confusion matrix."""
    predicted = probs.argmax(dim=-1).tolist()
    labels = list(range(len(state.labels)))
    majority = [max(labels, key=lambda i: (state.counts[i], -i))] * len(gold)
    rows = {
        "accuracy": {"model": metrics["accuracy"], "majority": accuracy(majority, gold)},
        # macro-F1 over the classes in the gold labels or the predictions (as for the tagger)
        "macro-F1": {"model": metrics["macro_f1"], "majority": macro_f1(majority, gold)},
        "loss (nats/example)": {"model": metrics["loss"]},
    }
    if bag is not None:
        for row, name in zip(rows.values(), ("accuracy", "macro_f1", "loss")):
            row[ct.BAG] = bag[name]
    details = []
    names = [str(label) for label in state.labels.itos]
    if len(names) <= 20:
        width = max(8, *(len(name) + 2 for name in names))
        details = [
            "confusion matrix (rows: gold, columns: predicted):",
            " " * width + "".join(f"{name:>{width}}" for name in names),
        ]
        matrix = confusion_matrix(predicted, gold, len(names))
        details += [
            f"{name:>{width}}" + "".join(f"{n:>{width}}" for n in row)
            for name, row in zip(names, matrix)
        ]
    return base.Report(title, rows, details=details)


def _validation(trained: TrainedModel) -> tuple[list[str], list[str], str]:
    """The run's validation texts, labels and where they came from: the sample stored in the run
    (the first :data:`~rnnkit.tasks.inspecting.VIEW_ROWS`), or, for a run written before runs
    stored one, the validation data read again as in training."""
    sample = trained.state.sample
    if sample:
        texts, where, total = sample["texts"], sample["where"], sample["total"]
        shown = where if len(texts) == total else f"the first {len(texts):,} of {where}"
        return list(texts), list(sample["labels"]), shown
    d = trained.config.data
    *_, texts, labels, where = _read_splits(d, trained.config.train.seed, lambda _: None)
    return texts, labels, where


def _examples(trained: TrainedModel, data: Any) -> tuple[list[list[int]], list[int], str]:
    """Encoded texts, gold label ids and a title for ``data``: a TSV/CSV file, a list of
    ``(text, label)`` pairs, or ``None`` for the run's validation data (read as in training)."""
    d, state = trained.config.data, trained.state
    if data is None:
        texts, labels, where = _validation(trained)
        title = f"validation: {where}"
    else:  # a file, a table or (text, label) pairs
        rows = labelled.read_labelled(data, d.text_col, d.label_col, delimiter=d.delimiter)
        texts, labels, title = rows.texts, rows.labels, count(len(rows), "example")
        if isinstance(data, (str, Path)):
            title = f"{count(len(rows), 'row')} of {data}"
    gold = encode_labels(labels, state.labels, f"evaluation data {title}")
    ids, cut = ct.encode_capped(state.tokenizer, texts, d.max_length)
    if cut.tokens:
        title += "; " + cut.message(d.max_length, "evaluated")
    return ids, gold, title


def _recurrent_only(trained: TrainedModel, command: str) -> None:
    if isinstance(trained.model, BagClassifier):
        raise RnnkitError(
            f"{command}: expected a recurrent classifier, got a bag-of-n-grams model "
            f"(--model bag); {command} supports --model rnn runs"
        )


class ClassifyTask(Task):
    name = "classify"
    config_class = ClassifyConfig
    model_class = SequenceClassifier
    model_config_class = SequenceClassifierConfig
    state_class = ClassifierState
    view_data = True
    help = "text classifier on labelled TSV/CSV files"
    description = (
        "Train a recurrent text classifier (many-to-one) on a TSV/CSV file with a header. Reports "
        "accuracy, macro-F1 and the confusion matrix on the validation data beside the "
        "majority-class baseline."
    )
    examples = """examples:
  rnnkit train classify --data train.tsv --val dev.tsv
  rnnkit train classify --data reviews.csv --text-col review --label-col stars --steps 3000
  rnnkit evaluate runs/classify --data test.tsv
  echo "a gripping , funny film" | rnnkit predict runs/classify --input -"""
    predict_hint = (
        "one text a line (tokenized as in training), or a .tsv/.csv file with the "
        "training text column; outputs the label and its probabilities"
    )

    def setup(self, config: ClassifyConfig, saved: Any, log) -> base.Setup:
        d, settings = config.data, config.train
        texts, labels, val_texts, val_labels, where = _read_splits(d, settings.seed, log)
        state = (
            ClassifierState.from_dict(saved)
            if saved is not None
            else ClassifierState.fit(texts, labels, d)
        )
        words = state.tokenizer.tokenize  # the vocabulary with the pretrained vectors' words
        state.tokenizer.vocab, vectors = o.pretrained_vectors(
            config, saved, state.tokenizer.vocab, (map(words, texts), map(words, val_texts)), log
        )
        known = "the checkpoint's labels" if saved is not None else "the training data"
        y = torch.tensor(encode_labels(labels, state.labels, f"training data {d.train}", known))
        val_y = encode_labels(val_labels, state.labels, f"validation data {where}", known)
        ids, cut = ct.encode_capped(state.tokenizer, texts, d.max_length)
        val_ids, val_cut = ct.encode_capped(state.tokenizer, val_texts, d.max_length)
        log(
            f"{len(ids):,} training and {count(len(val_ids), 'validation example')}, "
            f"{count(len(state.labels), 'class', 'classes')}, vocabulary of "
            f"{count(len(state.tokenizer.vocab), state.tokenizer.kind)}"
        )
        if config.model.hybrid is None:  # decided once, saved in the run's config
            config.model.hybrid = ct.wants_hybrid(ids)
        model = self._model(config, state, saved, ids, y, log)
        o.use_vectors(model, state.tokenizer.vocab, vectors, config)
        if d.max_length is not None:  # no silent truncation
            log(cut.message(d.max_length, "training"))
            log(val_cut.message(d.max_length, "validation"))
        pad = state.tokenizer.pad_id

        def collate(indices: list[int]):
            x, lengths = pad_sequences([ids[i] for i in indices], pad)
            return x, lengths, y[indices]

        batches = BucketedBatches(
            [len(s) for s in ids], settings.batch_size, collate, seed=settings.seed
        )
        state.sample = store_sample(
            batches,
            texts=val_texts[:VIEW_ROWS],
            labels=val_labels[:VIEW_ROWS],
            where=where,
            total=len(val_texts),
        )
        val = (val_ids, val_y, f"validation: {where}")
        picked = o.selection(config.model.select_on)
        # a hybrid starts as the fitted bag of n-grams: validated at step 0, best.pt keeps the
        # bag when the network never improves on it
        picked["validate_first"] = getattr(model, "bag", None) is not None
        return self.scored_setup(
            config, model, batches, self.loss(config), state, state.to_dict(), val, [val], **picked
        )

    def _model(self, config, state, saved, ids, y, log) -> nn.Module:
        """The model to train; beside a recurrent one, a new run also fits the bag-of-n-grams
        baseline on the training split (saved in ``state``; a resumed run keeps its own)."""
        if ct.is_bag(config):
            return ct.bag_model(len(state.labels), state.tokenizer, ids)
        if saved is None:
            state.bag, seconds = ct.fit_baseline(
                ids, y.tolist(), len(state.labels), state.tokenizer, config.train.seed
            )
            log(f"bag-of-n-grams baseline trained in {seconds:.1f} s")
        model, _ = self.restore(config, state.to_dict(), None)
        if model.bag is not None:  # the hybrid starts from the fitted baseline (kept fixed)
            model.bag.load_state_dict(ct.baseline(state.bag).state_dict())
        return model

    def restore(self, config, saved, model_config) -> tuple[nn.Module, Any]:
        """As :meth:`Task.restore`, with the bag of n-grams for a ``--model bag`` checkpoint."""
        if model_config is not None and ct.is_bag(config, dict(model_config)):
            model = BagClassifier(BagClassifierConfig.from_dict(dict(model_config)))
            return model, ClassifierState.from_dict(saved)
        return super().restore(config, saved, model_config)

    def defaults(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults (the vectors' size as the embedding's); ``--model bag`` trains with a
        higher learning rate and no warmup or weight decay (a convex model)."""
        found = o.vector_defaults(super().defaults(given), given, "embedding_dim")
        section = given.get("model")
        if isinstance(section, Mapping) and section.get("kind") == "bag":
            found["train"].update(lr=0.05, warmup_steps=0, weight_decay=0.0)
        return found

    def loss(self, config: ClassifyConfig) -> Callable[[nn.Module, Any], StepOutput]:
        """Cross-entropy of a batch ``(tokens (N, L), lengths (N,), labels (N,))``."""

        def loss_fn(model: nn.Module, batch) -> StepOutput:
            x, lengths, target = batch
            return StepOutput(F.cross_entropy(model(x, lengths), target), items=len(target))

        return loss_fn

    def sizes(self, config, state) -> dict[str, Any]:
        tokens = state.tokenizer
        # a hybrid needs the fitted baseline: a run older than it has none and stays as it was
        hybrid = getattr(config.model, "hybrid", False) and state.bag is not None
        return {
            "num_classes": len(state.labels),
            "vocab_size": len(tokens.vocab),
            "padding_idx": tokens.pad_id,
            "bag_buckets": state.bag["config"]["buckets"] if hybrid else None,
        }

    def evaluate(
        self, trained: TrainedModel, data: Any = None, *, batch_size=None
    ) -> list[base.Report]:
        return [self.score(trained, _examples(trained, data), batch_size=batch_size).report]

    def score(self, trained: TrainedModel, data, *, baselines=True, batch_size=None) -> base.Scores:
        """``data``: ``(encoded texts, gold label ids, title)``."""
        ids, gold, title = data
        pad = trained.state.tokenizer.pad_id
        probs = class_probabilities(trained.model, ids, pad, batch_size or 256)
        metrics = ct.probability_metrics(probs, gold)
        if not baselines:
            return base.Scores(metrics)
        bag, found = ct.baseline(trained.state.bag), None
        if bag is not None:
            found = ct.probability_metrics(class_probabilities(bag, ids, pad), gold)
        return base.Scores(metrics, _report(probs, gold, metrics, trained.state, title, found))

    def views(self, trained: TrainedModel, data: Any = None, *, evals=()) -> list[base.View]:
        """The confusion matrix on ``data`` (as for :meth:`evaluate`), or else on the run's
        validation data."""
        ids, gold, title = _examples(trained, data)
        probs = class_probabilities(trained.model, ids, trained.state.tokenizer.pad_id)
        names = [str(label) for label in trained.state.labels.itos]
        matrix = confusion_matrix(probs.argmax(dim=-1).tolist(), gold, len(names))
        return [
            base.View(
                "matrix",
                f"confusion matrix: {title}",
                names,
                matrix,
                xlabel="predicted",
                ylabel="gold",
                rows=names,
            )
        ]

    def predict(self, trained: TrainedModel, inputs: Any) -> list[dict[str, Any]]:
        d, state = trained.config.data, trained.state
        numbered = o.numbered_texts(inputs, d.text_col, d.delimiter)
        kept = [(n, t) for n, t in numbered if t.strip()]
        ids = [state.tokenizer.encode(t, d.max_length) for _, t in kept]
        probs = class_probabilities(trained.model, ids, state.tokenizer.pad_id).tolist()
        names = [str(label) for label in state.labels.itos]
        outputs = {
            n: {
                "text": t,
                "label": names[max(range(len(row)), key=row.__getitem__)],
                "probabilities": {k: round(p, 6) for k, p in zip(names, row)},
            }
            for (n, t), row in zip(kept, probs)
        }
        return o.records_for(numbered, outputs, {"text": "", "label": None})

    def text_view(self, trained: TrainedModel) -> str:
        return "lines"

    def inspect(self, trained: TrainedModel, text: str | None = None, *, chars: int = 2000):
        """Token contributions (gradient x input on the embeddings, for the predicted class) of
        each line of ``text`` (the first :data:`INSPECTED` lines), else of the first
        :data:`INSPECTED` validation examples."""
        d, state = trained.config.data, trained.state
        _recurrent_only(trained, "inspect")
        if text is None:
            texts, gold, where = _validation(trained)
            texts, gold = texts[:INSPECTED], gold[:INSPECTED]
            source = f"The first {len(texts)} validation examples ({where})"
        else:
            texts = [line for line in text.splitlines() if line.strip()][:INSPECTED]
            gold = [None] * len(texts)
            source = f"The first {len(texts)} lines of the text"
        if not texts:
            raise RnnkitError("the text to inspect holds no line with a text to classify")
        names = [str(label) for label in state.labels.itos]
        examples = []
        for line, label in zip(texts, gold):
            ids = state.tokenizer.encode(line, d.max_length)
            tokens = state.tokenizer.tokenize(line)[: d.max_length] or [
                state.tokenizer.vocab.unk_token
            ]
            found = token_contributions(trained.model, ids)
            examples.append(
                {
                    "text": line,
                    "tokens": [str(t) for t in tokens],
                    "ids": ids,
                    "contributions": found["contributions"],
                    "probabilities": found["probabilities"],
                    "predicted": names[found["predicted"]],
                    "gold": label,
                }
            )
        return {"tokens": {"labels": names, "examples": examples, "source": source}}

    def export_spec(self, trained: TrainedModel) -> base.ExportSpec:
        state, tokens = trained.state, trained.state.tokenizer
        _recurrent_only(trained, "export")
        metadata = {
            "labels": json.dumps([str(label) for label in state.labels.itos], ensure_ascii=False),
            "tokenizer": json.dumps(tokens.to_dict(), ensure_ascii=False),
            **tokenizer_metadata(
                tokens.kind,
                tokens.lower,
                tokens.vocab.itos,
                tokens.pad_id,
                tokens.unk_id,
                max_length=trained.config.data.max_length,
            ),
        }
        return classifier_spec(trained.model, self.name, metadata)

    def example(self, folder: Path) -> base.Example:
        words = {"1": "good great fine nice", "0": "bad awful poor dull"}
        rows = [f"{' '.join(words[str(i % 2)].split()[i % 4 :])} film\t{i % 2}" for i in range(40)]
        for name, part in (("train.tsv", rows), ("dev.tsv", rows[:12])):
            (folder / name).write_text("text\tlabel\n" + "\n".join(part) + "\n", encoding="utf-8")
        (folder / "inputs.txt").write_text("a great film\n\nawful\n", encoding="utf-8")
        (folder / "bad.tsv").write_text("words\tlabel\nfine\t1\n", encoding="utf-8")
        return base.Example(
            {
                "data": {"train": str(folder / "train.tsv"), "val": str(folder / "dev.tsv")},
                "model": {"embedding_dim": 8, "hidden_size": 8},
                "train": {"max_steps": 4, "eval_every": 2, "save_every": 2, "batch_size": 8},
            },
            str(folder / "dev.tsv"),
            str(folder / "inputs.txt"),
            {"data": {"train": str(folder / "bad.tsv")}},
        )


register(ClassifyTask())
