"""The tag task's state: the word, character and tag vocabularies, the most-frequent-tag
baseline, the schemes of entity tags, and the batches of model inputs they make.

Saved in the checkpoint's task state (:meth:`TaggerState.to_dict`), so a finished run tags new
sentences without its training data. Runs written before entity tags were recognised have no
``entities`` entry and tag as they did.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rnnkit.data.conll import TaggedCorpus
from rnnkit.data.labelled import encode_labels, pad_sequences
from rnnkit.data.vocab import PAD, UNK, Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.metrics.classification import MostFrequentTag
from rnnkit.models.tagger_features import shape_ids
from rnnkit.tasks import tag_entities as ne

__all__ = ["MAX_WORD_CHARS", "TaggerState"]

MAX_WORD_CHARS = 20  # characters of a word the character CNN reads (prefix and suffix kept)


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
    entities: ne.EntityTags | None = None  # the schemes of entity tags (None: other tags)

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
        # each distinct word's character ids once, then one scatter into the valid positions
        # (a tensor a token was most of the time of tagging a long input)
        flat = [w for s in sentences for w in s]
        row_of = {w: i for i, w in enumerate(dict.fromkeys(flat))}
        rows = [self._char_ids(w) for w in row_of]
        table = np.zeros((len(rows), max(map(len, rows), default=1)), dtype=np.int64)
        for i, row in enumerate(rows):
            table[i, : len(row)] = row
        chars = torch.zeros(*words.shape, table.shape[1], dtype=torch.long)
        valid = torch.arange(words.shape[1]) < torch.tensor([len(s) for s in sentences])[:, None]
        chars[valid] = torch.from_numpy(table[[row_of[w] for w in flat]])
        return words, lengths, chars.to(device) if device is not None else chars, shapes

    def _char_ids(self, word: str) -> list[int]:
        """A word's character ids; a long word: its first and last characters."""
        half = MAX_WORD_CHARS // 2
        kept = word if len(word) <= MAX_WORD_CHARS else word[:half] + word[-half:]
        return self.chars.encode(kept) or [self.chars.unk_id]

    def to_dict(self) -> dict[str, Any]:
        return {
            "words": self.words.to_dict(),
            "tags": self.tags.to_dict(),
            "lower": self.lower,
            "chars": None if self.chars is None else self.chars.to_dict(),
            "word_tag": dict(self.word_tag),
            "default": self.default,
            **({"sample": self.sample} if self.sample else {}),
            **({"entities": self.entities.to_dict()} if self.entities else {}),
        }

    def tag_ids(self, tags: Sequence[Sequence[str]], what: str, known: str) -> list[list[int]]:
        """Ids of the tags of each sentence; entity tags converted to the internal scheme."""
        if self.entities is not None:
            tags = [self.entities.to_internal(sentence) for sentence in tags]
        ids = iter(encode_labels([t for s in tags for t in s], self.tags, what, known))
        return [[next(ids) for _ in s] for s in tags]

    def output_tags(self, ids: Sequence[int]) -> list[str]:
        """Tag names of model output ids, entity tags repaired and in the input's scheme."""
        names = [self.tags.itos[i] for i in ids]
        return names if self.entities is None else self.entities.to_input(names)

    @classmethod
    def fit(cls, corpus: TaggedCorpus, train: TaggedCorpus, d: Any, chars: bool) -> TaggerState:
        """Vocabularies and baseline of the training sentences ``train`` (of the file ``corpus``),
        with the data settings ``d`` (the tag task's ``TagData``)."""
        entities = ne.EntityTags.detect(corpus.tags, d.scheme, d.internal_scheme, str(d.train))
        # the baselines read the input's tags (the most-frequent-tag one is repaired when scored)
        baseline = MostFrequentTag().fit(train.tokens, train.tags)
        if entities is not None:  # trained in the internal scheme; the memoriser reads the input's
            entities.remember(train.tokens, train.tags)
            corpus = TaggedCorpus(corpus.tokens, [entities.to_internal(s) for s in corpus.tags])
            train = TaggedCorpus(train.tokens, [entities.to_internal(s) for s in train.tags])
        # The tag set comes from the whole training file, so that a rare tag that falls only into
        # the held-out sentences is not mistaken for an unknown one.
        tags = sorted({t for sentence in corpus.tags for t in sentence})
        if entities is not None:
            tags = entities.tag_set(corpus.tags)
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
        return cls(
            words,
            char_vocab,
            Vocabulary(tags),
            d.lower,
            baseline.word_tag,
            baseline.default,
            entities=entities,
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
            ne.EntityTags.from_dict(data.get("entities")),
        )
