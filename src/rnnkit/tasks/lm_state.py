"""The language model's task state and its baselines: the tokenizer, the training counts, and the
report rows that put a model beside them, per token and per character.

A character model's baselines are the unigram and the bigram character frequencies of the training
text (add-one and Dirichlet smoothed); a word or subword model's are the unigram token frequencies
(add-one smoothed) and an interpolated Kneser-Ney n-gram model
(:class:`~rnnkit.metrics.KneserNey`, order ``data.baseline_order``) estimated on the training
tokens. Per-character figures divide a text's total negative log-likelihood by the characters it
predicts (:meth:`~rnnkit.data.tokenizers.TextTokenizer.predicted_chars`), so that models of
different tokenizations compare on the same footing.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from rnnkit.data.text import char_vocabulary, encode_text
from rnnkit.data.tokenizers import CharTokenizer, TextTokenizer, tokenizer_from_dict
from rnnkit.data.vocab import Vocabulary
from rnnkit.metrics.ngram import KneserNey

__all__ = ["LMState", "encode_with", "per_char_rows", "token_rows"]

LN2 = math.log(2.0)


def encode_with(
    tokenizer: TextTokenizer, text: str, *, warn: Callable[[str], None] | None, what: str
) -> Tensor:
    """The ids of ``text`` as a 1-D int64 tensor; one warning lists the pieces read as unknown
    (a character model warns exactly as before: :func:`~rnnkit.data.text.encode_text`)."""
    if isinstance(tokenizer, CharTokenizer):
        return encode_text(tokenizer.vocab, text, warn=warn, what=what)
    return encode_text(
        tokenizer, text, warn=warn, what=what, unit="token", read_as="the unknown token"
    )


@dataclass
class LMState:
    """What a language model run keeps beside its weights (saved by :meth:`to_dict`).

    A character run keeps ``vocab`` (its characters) and ``bigrams`` ``(V, V)`` (the counts of
    (character, next character) in the training text), in the format of the first versions;
    a run of another tokenizer keeps ``tokenizer`` and ``unigrams`` ``(V,)``, the counts of the
    training tokens. ``train_ids`` (the training tokens, in memory only) feed the n-gram baseline.
    """

    vocab: Vocabulary | None
    bigrams: Tensor | None
    corpus: str  # where the text came from
    sample: dict[str, Any] | None = None  # what plot and inspect read (see store_sample)
    tokenizer: TextTokenizer | None = None  # None: the characters of vocab
    unigrams: Tensor | None = None
    train_ids: Tensor | None = field(default=None, repr=False)
    ngram: KneserNey | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.tokenizer is None:
            if self.vocab is None:
                raise ValueError("a language model state needs a vocabulary or a tokenizer")
            self.tokenizer = CharTokenizer(self.vocab)

    @property
    def chars(self) -> bool:
        """Whether the model reads characters (with the character baselines)."""
        return isinstance(self.tokenizer, CharTokenizer)

    def to_dict(self) -> dict[str, Any]:
        kept = {"sample": self.sample} if self.sample else {}
        if self.chars:
            vocab = self.tokenizer.vocab  # type: ignore[union-attr]
            return {
                "vocab": vocab.to_dict(),
                "bigrams": self.bigrams,
                "corpus": self.corpus,
                **kept,
            }
        return {
            "tokenizer": self.tokenizer.to_dict(),  # type: ignore[union-attr]
            "unigrams": self.unigrams,
            "corpus": self.corpus,
            **kept,
        }

    @classmethod
    def fit(
        cls, tokenizer: TextTokenizer, train_text: str, corpus: str, warn=None
    ) -> tuple[LMState, Tensor]:
        """The state of a new run (the tokenizer, the counts of ``train_text``) and the encoded
        training text."""
        train_ids = encode_with(tokenizer, train_text, warn=warn, what="training text")
        size = tokenizer.vocab_size
        if isinstance(tokenizer, CharTokenizer):
            pairs = train_ids[:-1] * size + train_ids[1:]
            bigrams = torch.bincount(pairs, minlength=size**2).view(size, size)
            return cls(tokenizer.vocab, bigrams, corpus), train_ids
        unigrams = torch.bincount(train_ids, minlength=size)
        state = cls(None, None, corpus, tokenizer=tokenizer, unigrams=unigrams)
        state.train_ids = train_ids
        return state, train_ids

    @classmethod
    def for_chars(cls, text: str, train_text: str, corpus: str) -> tuple[LMState, Tensor]:
        """A character run: the vocabulary of all of ``text`` (training and validation)."""
        return cls.fit(CharTokenizer(char_vocabulary(text)), train_text, corpus)

    @classmethod
    def from_dict(cls, data: Any) -> LMState:
        corpus, sample = str(data["corpus"]), data.get("sample")
        if "tokenizer" in data:
            tokenizer = tokenizer_from_dict(data["tokenizer"])
            return cls(None, None, corpus, sample, tokenizer, data["unigrams"])
        return cls(Vocabulary.from_dict(data["vocab"]), data["bigrams"], corpus, sample)

    def char_baselines(self, ids: Tensor) -> dict[str, float]:
        """Nats per character of the unigram and bigram models on the predictions of ``ids``."""
        counts = self.bigrams.double()  # type: ignore[union-attr]  # (V, V)
        unigram = (counts.sum(0) + 1) / (counts.sum() + len(counts))  # add-one smoothing, (V,)
        prev, nxt = ids[:-1], ids[1:]
        # Dirichlet smoothing towards the unigram: (n(a, b) + unigram(b)) / (n(a) + 1)
        bigram = (counts[prev, nxt] + unigram[nxt]) / (counts[prev].sum(1) + 1)
        return {"unigram": -unigram[nxt].log().mean().item(), "bigram": -bigram.log().mean().item()}

    def token_baselines(
        self, ids: Tensor, order: int, train_ids: Callable[[], Tensor | None]
    ) -> dict[str, float]:
        """Nats per token of the unigram model on the predictions of ``ids`` and of the order-
        ``order`` Kneser-Ney model on its lines (estimated once on ``train_ids()``; left out when
        that gives ``None``: the training text is not at hand)."""
        counts = self.unigrams.double()  # type: ignore[union-attr]  # (V,)
        unigram = (counts + 1) / (counts.sum() + len(counts))  # add-one smoothing
        out = {"unigram": -unigram[ids[1:]].log().mean().item()}
        sentences = self.tokenizer.sentences  # type: ignore[union-attr]
        if self.ngram is None or self.ngram.order != order:
            known = self.train_ids if self.train_ids is not None else train_ids()
            if known is None:
                return out
            self.ngram = KneserNey.fit(sentences(known.tolist()), order=order)
        total, predicted = self.ngram.score(sentences(ids.tolist()))
        out[f"kneser-ney {order}"] = total / predicted
        return out


def per_char_rows(losses: dict[str, float]) -> dict[str, dict[str, float]]:
    """A character model's rows (the first versions' report, kept as it was)."""
    return {
        "loss (nats/char)": losses,
        "bits/char": {k: v / LN2 for k, v in losses.items()},
        "perplexity": {k: math.exp(v) for k, v in losses.items()},
    }


def token_rows(losses: dict[str, float], tokens: int, chars: int) -> dict[str, dict[str, float]]:
    """A token model's rows: per token, and per character of the text (``losses`` in nats per
    token over ``tokens`` predictions of a text of ``chars`` predicted characters)."""
    per_char = {k: v * tokens / chars for k, v in losses.items()}
    return {
        "loss (nats/token)": losses,
        "perplexity": {k: math.exp(v) for k, v in losses.items()},
        "nats/char": per_char,
        "bits/char": {k: v / LN2 for k, v in per_char.items()},
    }
