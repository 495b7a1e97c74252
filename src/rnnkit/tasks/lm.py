"""Character language models: train with truncated back-propagation through time, evaluate, sample.

Python API::

    import rnnkit
    from rnnkit.tasks.lm import SampleConfig, sample

    run = rnnkit.train("lm", {"data": {"train": "notes.txt"}, "train": {"max_minutes": 5}})
    print(sample(run.trained, SampleConfig(prompt="Dear ", length=200))[0])

The first 90% of the text trains and the last 10% validates (or a validation file, ``data.val``).
Evaluations during training read the first ``eval_chars`` validation characters (for speed, and
said so); the final report reads all of them, beside two baselines fitted on the training text:
the unigram and the bigram character frequencies (add-one and Dirichlet smoothed). The checkpoint's task state holds the
config, the vocabulary and those counts.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from rnnkit.config import Config, ConfigError, at_least, option, positive, seed_range
from rnnkit.data.text import (
    BUILTIN_CORPUS_CHARS,
    Corpus,
    TBPTTBatch,
    TBPTTBatches,
    char_vocabulary,
    encode_text,
    format_unknown,
    load_corpus,
    read_text,
    split_text,
    stream_matrix,
)
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.export import language_model_spec
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig, detach_state
from rnnkit.tasks import base
from rnnkit.tasks import options as o
from rnnkit.tasks.base import Task, TrainedModel, get_task, register
from rnnkit.tasks.capabilities import language_model_of
from rnnkit.tasks.inspecting import store_sample
from rnnkit.training.devices import model_device
from rnnkit.training.settings import StepOutput, TrainConfig

__all__ = [
    "LMConfig",
    "LMData",
    "LMModel",
    "LMTask",
    "SampleConfig",
    "TBPTTLoss",
    "sample",
    "text_loss",
]

LN2 = math.log(2.0)
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
    seq_len: int = option(
        64, "characters per chunk of back-propagation through time", metavar="L", check=at_least(1)
    )
    val_fraction: float = option(
        0.1,
        "share of the text (its end) held out for validation without a validation file",
        metavar="F",
        check=(lambda v: 0 < v < 1, "in (0, 1)"),
    )
    eval_chars: int | None = option(
        50_000,
        "evaluations during training read the first N validation characters (none: all); "
        "the final report reads all",
        metavar="N",
        check=at_least(2),
    )
    eval_streams: int = option(
        16, "parallel streams when evaluating (speed only)", metavar="S", check=at_least(1)
    )
    max_builtin_chars: int = option(
        BUILTIN_CORPUS_CHARS, "characters of the built-in corpus", metavar="N", check=at_least(1000)
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


@dataclass
class SampleConfig(Config):
    """Options of :func:`sample` (see :meth:`LanguageModel.generate`)."""

    prompt: str = option(
        "",
        "text to continue (empty: start after a newline); characters the "
        "model does not know are read as <unk> after a warning",
        metavar="TEXT",
    )
    length: int = option(
        500, "characters to generate after the prompt", metavar="N", check=at_least(0)
    )
    temperature: float = option(
        0.8, "divide the logits by T: lower is safer, higher wilder", metavar="T", check=positive()
    )
    top_k: int | None = option(
        None,
        "sample only among the K most likely characters (none: all)",
        metavar="K",
        check=at_least(1),
    )
    top_p: float | None = option(
        None,
        "nucleus sampling: only the most likely characters whose "
        "probabilities add up to P (none: all)",
        metavar="P",
        check=(lambda v: 0 < v <= 1, "in (0, 1]"),
    )
    greedy: bool = option(
        False, "always take the most likely character (ignores temperature, top-k, top-p and seed)"
    )
    num_samples: int = option(
        1, "how many samples, generated together", metavar="N", check=at_least(1)
    )
    seed: int | None = option(
        None, "seed of the sampling, for reproducible samples (none: random)", check=seed_range()
    )
    stop: str | None = option(
        None,
        "end a sample where it writes TEXT (not printed)",
        metavar="TEXT",
        check=(lambda v: v != "", "that is not empty"),
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
        logits, state = model(inputs, self.state)  # (N, L, V)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
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
            logits, state = model(x, state)  # (S, C, V)
            flat = logits.reshape(-1, logits.shape[-1])
            total += float(F.cross_entropy(flat, y.reshape(-1), ignore_index=-100, reduction="sum"))
            count += int((y != -100).sum())
    finally:
        model.train(was_training)
    return total / count


@dataclass
class LMState:
    vocab: Vocabulary
    bigrams: Tensor  # (V, V) counts of (character, next character) in the training text
    corpus: str  # where the text came from
    sample: dict[str, Any] | None = None  # what plot and inspect read (see store_sample)

    def to_dict(self) -> dict[str, Any]:
        kept = {"sample": self.sample} if self.sample else {}
        return {
            "vocab": self.vocab.to_dict(),
            "bigrams": self.bigrams,
            "corpus": self.corpus,
            **kept,
        }

    @classmethod
    def fit(cls, text: str, train_text: str, corpus: str) -> tuple[LMState, Tensor]:
        """The state of a new run (the characters of ``text``, the bigram counts of
        ``train_text``) and the encoded training text."""
        vocab = char_vocabulary(text)
        train_ids = encode_text(vocab, train_text)
        pairs = train_ids[:-1] * len(vocab) + train_ids[1:]
        bigrams = torch.bincount(pairs, minlength=len(vocab) ** 2).view(len(vocab), len(vocab))
        return cls(vocab, bigrams, corpus), train_ids

    @classmethod
    def from_dict(cls, data: Any) -> LMState:
        vocab, corpus = Vocabulary.from_dict(data["vocab"]), str(data["corpus"])
        return cls(vocab, data["bigrams"], corpus, data.get("sample"))

    def baselines(self, ids: Tensor) -> dict[str, float]:
        """Nats per character of the unigram and bigram models on the predictions of ``ids``."""
        counts = self.bigrams.double()  # (V, V)
        unigram = (counts.sum(0) + 1) / (counts.sum() + len(counts))  # add-one smoothing, (V,)
        prev, nxt = ids[:-1], ids[1:]
        # Dirichlet smoothing towards the unigram: (n(a, b) + unigram(b)) / (n(a) + 1)
        bigram = (counts[prev, nxt] + unigram[nxt]) / (counts[prev].sum(1) + 1)
        return {"unigram": -unigram[nxt].log().mean().item(), "bigram": -bigram.log().mean().item()}


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
    help = "character language model on a UTF-8 text"
    description = (
        "Train a character-level recurrent language model with truncated back-propagation "
        "through time (the state is carried from chunk to chunk). The first 90% of the text "
        "trains, the last 10% validates (or a validation file)."
    )
    examples = """examples:
  rnnkit train lm --data shakespeare.txt --max-minutes 10
  rnnkit train lm                                   # the built-in corpus: Python sources
  rnnkit train lm --data train.txt --val valid.txt  # validate on a file of its own
  rnnkit train lm --data notes.txt --cell gru --layers 2 --hidden 256 --out runs/notes
  rnnkit train lm --resume --out runs/notes         # continue an interrupted run
  rnnkit sample runs/notes --prompt "Dear " --length 300"""
    unit = "char"
    predict_hint = "a language model writes text: use sample (rnnkit sample RUN)"

    def setup(self, config: LMConfig, saved: Any, log) -> base.Setup:
        d, settings = config.data, config.train
        corpus, train_text, val_text, where = _texts(d)
        log(corpus.description)
        if saved is not None:
            state = LMState.from_dict(saved)
            train_ids = encode_text(state.vocab, train_text, warn=log, what="training text")
        else:
            state, train_ids = LMState.fit(corpus.text, train_text, corpus.description)
        val_ids = encode_text(state.vocab, val_text, warn=log, what="validation text")
        model, _ = self.restore(config, state.to_dict(), None)
        batches = TBPTTBatches(train_ids, settings.batch_size, d.seq_len, seed=settings.seed)
        eval_ids = val_ids[: d.eval_chars] if d.eval_chars else val_ids
        log(
            f"model: {config.model.num_layers}-layer {config.model.cell.upper()}, hidden "
            f"{config.model.hidden_size}, vocabulary {len(state.vocab)}, "
            f"{model.num_parameters():,} parameters; {len(train_ids):,} training characters"
        )
        validated = len(val_ids) >= 2  # at least one prediction to score
        if validated:
            log(
                f"validating every {settings.eval_every:,} steps on the first {len(eval_ids):,} of "
                f"{len(val_ids):,} validation characters; the final report reads all of them"
            )
        state.sample = store_sample(batches, text=val_text[:INSPECTION_CHARS])
        val, reported = (
            ((eval_ids, ""), [(val_ids, f"validation: {where}")]) if validated else (None, [])
        )
        extra = {"progress_fn": lambda loss: {"loss": f"{loss:.3f}", "bpc": f"{loss / LN2:.3f}"}}
        args = (config, model, batches, self.loss(config), state, state.to_dict(), val, reported)
        return self.scored_setup(*args, **extra)

    def loss(self, config: LMConfig) -> TBPTTLoss:
        return TBPTTLoss()

    def sizes(self, config, state) -> dict[str, Any]:
        return {"vocab_size": len(state.vocab)}

    def evaluate(
        self, trained: TrainedModel, data: Any = None, *, batch_size=None
    ) -> list[base.Report]:
        if isinstance(data, (str, Path)):
            text, name = read_text(data), str(data)
        else:
            text, name = load_corpus(data).text, "the given text"  # texts or a table
        ids = encode_text(trained.state.vocab, text, warn=_warn, what="text")
        if len(ids) < 2:
            raise RnnkitError(f"{name} is too short to evaluate: it needs at least 2 characters")
        title = f"{len(ids) - 1:,} characters of {name}"
        return [self.score(trained, (ids, title), batch_size=batch_size).report]

    def score(self, trained: TrainedModel, data, *, baselines=True, batch_size=None) -> base.Scores:
        """``data``: ``(ids, title)``, encoded text; ``batch_size``: parallel streams."""
        ids, title = data
        streams = batch_size or trained.config.data.eval_streams
        loss = text_loss(trained.model, ids, streams=streams)
        if not baselines:
            return base.Scores({"loss": loss, "bpc": loss / LN2})
        losses = {"model": loss, **trained.state.baselines(ids)}
        rows = {
            "loss (nats/char)": losses,
            "bits/char": {k: v / LN2 for k, v in losses.items()},
            "perplexity": {k: math.exp(v) for k, v in losses.items()},
        }
        return base.Scores({"loss": loss, "bpc": loss / LN2}, base.Report(title, rows))

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

    def language_model(self, trained: TrainedModel) -> tuple[LanguageModel, Vocabulary]:
        return trained.model, trained.state.vocab

    def export_spec(self, trained: TrainedModel) -> base.ExportSpec:
        return language_model_spec(trained.model, trained.state.vocab, self.name)

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


def sample(
    trained: TrainedModel,
    config: SampleConfig,
    *,
    warn: Callable[[str], None] = _warn,
    on_text: Callable[[str], None] | None = None,
) -> list[str]:
    """Generate ``config.num_samples`` texts (each the prompt followed by its continuation).

    Works for every trained character language model (the ``lm`` task, and the ``sentence``
    synthetic task). Characters of the prompt the model does not know are read as ``<unk>`` after
    one warning. ``on_text`` receives the text piece by piece as it is generated (one sample, no
    stop string); when it is used, the prompt and the continuation have already been handed to it.
    """
    found = language_model_of(get_task(trained.task), trained)
    if found is None:
        raise RnnkitError(
            f"sampling needs a character language model; {trained.path or 'this'} is "
            f"a {trained.task!r} model"
        )
    model, vocab = found
    start = config.prompt or ("\n" if "\n" in vocab else vocab.itos[len(vocab.special_ids)])
    prompt_ids = encode_text(vocab, start, warn=warn, what="prompt")
    stop_ids = None
    if config.stop is not None:
        stop_ids, unknown = vocab.encode_with_unknown(config.stop)
        if unknown:
            warn(
                f"warning: the stop string holds characters the model never writes "
                f"({format_unknown(unknown)}); it is ignored"
            )
            stop_ids = None
    on_step = None
    if on_text is not None and config.num_samples == 1 and stop_ids is None:
        on_text(config.prompt)
        on_step = lambda ids: on_text(vocab.itos[int(ids[0])])
    outputs = model.generate(
        prompt_ids,
        config.length,
        num_samples=config.num_samples,
        temperature=config.temperature,
        top_k=config.top_k,
        top_p=config.top_p,
        greedy=config.greedy,
        seed=config.seed,
        banned_ids=vocab.special_ids,
        stop=stop_ids,
        on_step=on_step,
    )
    return [config.prompt + "".join(vocab.decode(ids)) for ids in outputs]


register(LMTask())
