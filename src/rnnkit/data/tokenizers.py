"""Text tokenizers for language models and classifiers: one interface, four kinds.

- ``char``: every character is a token (the :class:`~rnnkit.data.vocab.Vocabulary` of the text's
  characters, ``<unk>`` at id 0): rnnkit's character models.
- ``word``: words, as in classic word-level language modelling (Penn Treebank): every line is its
  tokens followed by the end-of-sentence token ``<eos>`` (``line.split() + ["<eos>"]``). A text
  that is already tokenised (punctuation stands alone, as in PTB) is split at white space; a text
  in ordinary prose (``"Hello, world."``) has its punctuation split off the words too, and decoding
  puts it back without stray spaces. A ``<unk>`` in the text is the unknown token itself.
- ``bpe`` and ``unigram``: subwords learnt on the training text with Hugging Face ``tokenizers``
  (the ``text`` extra), byte-level, so that every text is covered and decoding gives the text back
  exactly; or read from the user's own file: a ``tokenizer.json`` of ``tokenizers`` or a
  sentencepiece ``.model``.

Every tokenizer gives ``encode(text) -> ids``, ``decode(ids) -> text``, ``vocab_size``, the ids never
to generate (``special_ids``), and :meth:`TextTokenizer.predicted_chars`: the characters of a text
that a language model predicts (all but those of its first token), the denominator of the
per-character scores that compare models across tokenizations. :meth:`TextTokenizer.to_dict` holds
strings, numbers and lists only (``weights_only`` checkpoints); :func:`tokenizer_from_dict` reads it
back. Example::

    >>> tokenizer = build_tokenizer("word", "the cat sat .\\nthe dog ran .\\n")
    >>> tokenizer.encode("the cat ran .")
    [2, 4, 7, 3, 1]
    >>> tokenizer.decode([2, 4, 7, 3, 1])
    'the cat ran .\\n'
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rnnkit.data.vocab import UNK, Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.extras import require

__all__ = [
    "EOS",
    "KINDS",
    "CharTokenizer",
    "SubwordTokenizer",
    "TextTokenizer",
    "WordTokenizer",
    "build_tokenizer",
    "min_vocab_size",
    "to_json",
    "tokenizer_from_dict",
]

KINDS = ("char", "word", "bpe", "unigram")
EOS = "<eos>"
BYTES = 256  # the initial alphabet of a byte-level subword vocabulary
# Prose: <unk>, a word (inner apostrophes kept), a clitic ('s), or one other non-space symbol.
PROSE_RE = re.compile(r"<unk>|\w+(?:['’]\w+)*|['’]\w+|[^\w\s]")
NO_SPACE_BEFORE = set(",.;:!?%)]}…") | {"...", "''"}
NO_SPACE_AFTER = set("([{$") | {"``"}
QUOTES = {'"', "“", "”"}


class TextTokenizer:
    """The interface of every kind (see the module): a text in, ids out, and back."""

    kind: str = ""

    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    @property
    def special_ids(self) -> list[int]:
        """Ids never to generate (padding, the unknown token)."""
        return []

    def encode_with_unknown(self, text: str) -> tuple[list[int], list[str]]:
        """The ids of ``text`` and the distinct pieces read as the unknown token (for a warning)."""
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        return self.encode_with_unknown(text)[0]

    def decode(self, ids: Sequence[int]) -> str:
        raise NotImplementedError

    def token(self, index: int) -> str:
        """The vocabulary entry of one id, as the library spells it (``Ġthe``, ``<eos>``)."""
        raise NotImplementedError

    def start_ids(self) -> list[int]:
        """What a model generating from no prompt reads first: the end of a line."""
        return self.encode("\n")[-1:] or [0]

    def sentences(self, ids: Sequence[int]) -> list[list[int]]:
        """``ids`` cut into the sequences an n-gram baseline counts (one, unless the tokenizer
        has an end-of-sentence token)."""
        return [list(ids)]

    def first_token_chars(self, text: str) -> int:
        """The characters of ``text`` up to the end of its first token."""
        raise NotImplementedError

    def predicted_chars(self, text: str) -> int:
        """Characters of ``text`` a language model predicts: all but those of the first token
        (the context of the first prediction). Total NLL over this count is nats per character."""
        return max(len(text) - self.first_token_chars(text), 1)

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def save(self, folder: Path) -> Path | None:
        """Write the tokenizer where a user can reuse it (``--tokenizer-file``); ``None``: no
        file of its own (a character vocabulary lives in the checkpoint)."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(kind={self.kind!r}, vocab_size={self.vocab_size})"


class VocabularyTokenizer(TextTokenizer):
    """A tokenizer whose ids are those of a :class:`Vocabulary` (``self.vocab``): chars, words."""

    vocab: Vocabulary

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def special_ids(self) -> list[int]:
        return self.vocab.special_ids

    def token(self, index: int) -> str:
        return self.vocab.itos[index]


# --------------------------------------------------------------------------- characters
class CharTokenizer(VocabularyTokenizer):
    """Characters over a :class:`Vocabulary` (``<unk>`` for characters it lacks)."""

    kind = "char"

    def __init__(self, vocab: Vocabulary) -> None:
        self.vocab = vocab

    @classmethod
    def build(cls, text: str) -> CharTokenizer:
        """The characters of ``text``: ``<unk>`` at id 0, then characters by code point."""
        vocab = Vocabulary.build(
            text, specials=(UNK,), pad_token=None, unk_token=UNK, order="lexical"
        )
        return cls(vocab)

    def encode_with_unknown(self, text: str) -> tuple[list[int], list[str]]:
        return self.vocab.encode_with_unknown(text)

    def decode(self, ids: Sequence[int]) -> str:
        return "".join(self.vocab.decode(ids))

    def start_ids(self) -> list[int]:
        vocab = self.vocab
        return [vocab.stoi["\n"] if "\n" in vocab else len(vocab.special_ids)]

    def first_token_chars(self, text: str) -> int:
        return min(1, len(text))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "vocab": self.vocab.to_dict()}


# --------------------------------------------------------------------------- words
def _is_prose(text: str, sample: int = 1_000_000) -> bool:
    """Whether ``text`` is ordinary prose (punctuation attached to the words before it, as in
    ``"end."``) rather than tokenised text (``"end ."``, Penn Treebank: whose abbreviations,
    ``u.s.``, are under 2% of its words; over 20% of Shakespeare's words end in punctuation)."""
    words = text[:sample].split()
    attached = sum(1 for w in words if len(w) > 1 and w[-1] in ",.;:!?" and w[-2].isalnum())
    alone = sum(1 for w in words if w in {",", ".", ";", ":", "!", "?"})
    return attached > alone and attached >= 0.05 * len(words)


class WordTokenizer(VocabularyTokenizer):
    """Words and ``<eos>`` (see the module): ``<unk>`` at id 0, ``<eos>`` at 1, then the training
    words by frequency. ``prose``: split punctuation off the words and detokenise when decoding."""

    kind = "word"

    def __init__(self, vocab: Vocabulary, prose: bool = False) -> None:
        if vocab.unk_token is None or EOS not in vocab:
            raise ValueError(f"a word vocabulary needs {UNK} and {EOS}")
        self.vocab = vocab
        self.prose = prose
        self.eos_id = vocab.stoi[EOS]

    @classmethod
    def build(cls, text: str, vocab_size: int | None = None) -> WordTokenizer:
        """The words of ``text``, the ``vocab_size`` most frequent (``None``: all) with the
        specials counted; the rest become ``<unk>``."""
        prose = _is_prose(text)
        tokens = cls.split(text, prose)
        vocab = Vocabulary.build(
            tokens, max_size=vocab_size, specials=(UNK, EOS), pad_token=None, unk_token=UNK
        )
        return cls(vocab, prose)

    @staticmethod
    def split(text: str, prose: bool = False) -> Iterator[str]:
        """The tokens of ``text``: each line's words, then ``<eos>`` (PTB's convention; a last
        line without a line break ends with ``<eos>`` too)."""
        lines = text.split("\n")
        if text.endswith("\n"):
            lines.pop()
        for line in lines:
            yield from PROSE_RE.findall(line) if prose else line.split()
            yield EOS

    def encode_with_unknown(self, text: str) -> tuple[list[int], list[str]]:
        return self.vocab.encode_with_unknown(self.split(text, self.prose))

    def decode(self, ids: Sequence[int]) -> str:
        """Tokens joined by spaces, ``<eos>`` a line break; in prose, no space before closing
        punctuation and clitics nor after opening brackets, quotes alternately opening and
        closing. Each space depends on the tokens before it only, so a longer decoding extends
        a shorter one (text can be shown as it is generated)."""
        pieces, previous, quotes = [], None, 0
        for token in self.vocab.decode(ids):
            if token == EOS:
                pieces.append("\n")
                previous, quotes = None, 0
                continue
            space = previous is not None
            if self.prose and space:
                closing_quote = token in QUOTES and quotes % 2 == 1
                glued = token in NO_SPACE_BEFORE or token[0] in "'’" or closing_quote
                after_open = previous in NO_SPACE_AFTER or (previous in QUOTES and quotes % 2 == 1)
                space = not (glued or after_open)
            quotes += token in QUOTES
            pieces.append((" " if space else "") + token)
            previous = token
        return "".join(pieces)

    def start_ids(self) -> list[int]:
        return [self.eos_id]

    def sentences(self, ids: Sequence[int]) -> list[list[int]]:
        """The lines: the ids between two ``<eos>`` (an n-gram model adds its own end)."""
        out, current = [], []
        for index in ids:
            if index == self.eos_id:
                out.append(current)
                current = []
            else:
                current.append(int(index))
        return out + ([current] if current else [])

    def first_token_chars(self, text: str) -> int:
        line, _, _ = text.partition("\n")
        found = (PROSE_RE if self.prose else re.compile(r"\S+")).search(line)
        # no word on the first line: the first token is its <eos>, the line break
        return found.end() if found else min(len(line) + 1, len(text))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "vocab": self.vocab.to_dict(), "prose": self.prose}

    def save(self, folder: Path) -> Path:
        path = folder / "vocab.txt"
        path.write_text("".join(f"{token}\n" for token in self.vocab.itos), encoding="utf-8")
        return path


# --------------------------------------------------------------------------- subwords
def min_vocab_size(kind: str) -> int:
    """The smallest ``vocab_size`` a kind can learn: its initial alphabet (the 256 bytes of a
    byte-level vocabulary, and ``<unk>`` for unigram), or ``<unk>``, ``<eos>`` and one word."""
    return {"bpe": BYTES, "unigram": BYTES + 1, "word": 3}.get(kind, 1)


def _chunks(text: str, size: int = 1 << 16) -> Iterator[str]:
    """``text`` in pieces of about ``size`` characters cut after line breaks (for training)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + size)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def _train_subwords(kind: str, text: str, vocab_size: int) -> Any:
    """A byte-level BPE or unigram ``tokenizers.Tokenizer`` learnt on ``text``."""
    lib = require("text", f"the {kind} tokenizer")
    from tokenizers import decoders, models, pre_tokenizers, trainers

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if kind == "bpe":
        tokenizer = lib.Tokenizer(models.BPE())
        trainer: Any = trainers.BpeTrainer(
            vocab_size=vocab_size, initial_alphabet=alphabet, show_progress=False
        )
    else:
        tokenizer = lib.Tokenizer(models.Unigram())
        trainer = trainers.UnigramTrainer(
            vocab_size=vocab_size,
            initial_alphabet=alphabet,
            unk_token=UNK,
            special_tokens=[UNK],
            show_progress=False,
        )
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator(_chunks(text), trainer)
    return tokenizer


def _unknown_id(impl: Any, model: Mapping[str, Any]) -> int | None:
    """The id of a ``tokenizers`` model's unknown token (``unk_id`` of a unigram model,
    ``unk_token`` of the others), or ``None``."""
    if model.get("unk_id") is not None:
        return int(model["unk_id"])
    token = model.get("unk_token")
    found = None if token is None else impl.token_to_id(token)
    return None if found is None else int(found)


class SubwordTokenizer(TextTokenizer):
    """A Hugging Face ``tokenizers.Tokenizer`` (``library="tokenizers"``, saved as its JSON) or
    a sentencepiece model (``library="sentencepiece"``, saved as the model file's bytes)."""

    def __init__(self, kind: str, library: str, data: str | bytes) -> None:
        self.kind, self.library = kind, library
        if library == "tokenizers":
            self.data: str | bytes = data
            self.impl = require("text", f"the {kind} tokenizer").Tokenizer.from_str(data)
            self.unk_id = _unknown_id(self.impl, json.loads(data).get("model", {}))
        else:
            sp = require("text", f"the {kind} tokenizer", module="sentencepiece")
            self.data = data
            self.impl = sp.SentencePieceProcessor(model_proto=data)
            found = int(self.impl.unk_id())
            self.unk_id = None if found < 0 else found

    @classmethod
    def train(cls, kind: str, text: str, vocab_size: int) -> SubwordTokenizer:
        return cls(kind, "tokenizers", _train_subwords(kind, text, vocab_size).to_str())

    @classmethod
    def read(cls, kind: str, path: str) -> SubwordTokenizer:
        """The tokenizer of ``path``: a ``.model`` file is sentencepiece, any other JSON."""
        file = Path(path)
        if not file.is_file():
            raise RnnkitError(f"tokenizer_file: expected a tokenizer file, got {path} (not found)")
        library = "sentencepiece" if file.suffix == ".model" else "tokenizers"
        data: str | bytes = file.read_bytes()
        try:
            if library == "tokenizers":
                data = data.decode("utf-8")
            return cls(kind, library, data)
        except RnnkitError:
            raise
        except Exception as error:  # noqa: BLE001 - tokenizers raises a bare Exception
            what = "sentencepiece .model" if library == "sentencepiece" else "tokenizers JSON"
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise RnnkitError(
                f"tokenizer_file: expected a {what} file, got {path}, which does not parse "
                f"({message})"
            ) from None

    @property
    def vocab_size(self) -> int:
        if self.library == "tokenizers":
            return int(self.impl.get_vocab_size(with_added_tokens=True))
        return int(self.impl.get_piece_size())

    @property
    def special_ids(self) -> list[int]:
        return [] if self.unk_id is None else [self.unk_id]

    def encode_with_unknown(self, text: str) -> tuple[list[int], list[str]]:
        if self.library == "tokenizers":
            ids = list(self.impl.encode(text, add_special_tokens=False).ids)
        else:
            ids = list(self.impl.encode(text))
        unk = self.unk_id
        unknown = [self.token(unk)] if unk is not None and unk in ids else []
        return ids, unknown

    def decode(self, ids: Sequence[int]) -> str:
        ids = [int(i) for i in ids]
        if self.library == "tokenizers":
            return str(self.impl.decode(ids, skip_special_tokens=False))
        return str(self.impl.decode(ids))

    def token(self, index: int) -> str:
        if self.library == "tokenizers":
            return str(self.impl.id_to_token(index))
        return str(self.impl.id_to_piece(index))

    def first_token_chars(self, text: str) -> int:
        head = text[:1000]  # the first token lies in the first word
        if self.library == "tokenizers":
            offsets = self.impl.encode(head, add_special_tokens=False).offsets
            return int(offsets[0][1]) if offsets else len(head)
        ids = self.impl.encode(head)
        return len(self.impl.decode(ids[:1])) if ids else len(head)

    def to_dict(self) -> dict[str, Any]:
        data = self.data
        if isinstance(data, bytes):
            data = base64.b64encode(data).decode("ascii")
        return {"kind": self.kind, "library": self.library, "data": data}

    def save(self, folder: Path) -> Path:
        if self.library == "tokenizers":
            path = folder / "tokenizer.json"
            path.write_text(str(self.data), encoding="utf-8")
        else:
            path = folder / "tokenizer.model"
            path.write_bytes(bytes(self.data))  # type: ignore[arg-type]
        return path


# --------------------------------------------------------------------------- building
def build_tokenizer(
    kind: str,
    text: str,
    *,
    vocab_size: int | None = None,
    file: str | None = None,
) -> TextTokenizer:
    """A tokenizer of ``kind`` learnt on ``text`` (the training text), with at most
    ``vocab_size`` entries (bpe and unigram: default 1024), or read from ``file``."""
    if kind not in KINDS:
        raise RnnkitError(f"tokenizer: expected one of {', '.join(KINDS)}, got {kind!r}")
    if file is not None:
        if kind not in ("bpe", "unigram"):
            raise RnnkitError(
                f"tokenizer_file: expected the tokenizer bpe or unigram with a tokenizer file, "
                f"got {kind}"
            )
        return SubwordTokenizer.read(kind, file)
    if vocab_size is not None and vocab_size < min_vocab_size(kind):
        raise RnnkitError(
            f"vocab_size: expected at least {min_vocab_size(kind)} for the {kind} tokenizer "
            f"(its initial alphabet), got {vocab_size}"
        )
    if kind == "char":
        return CharTokenizer.build(text)
    if kind == "word":
        return WordTokenizer.build(text, vocab_size)
    return SubwordTokenizer.train(kind, text, vocab_size or 1024)


_READERS: dict[str, Callable[[Mapping[str, Any]], TextTokenizer]] = {
    "char": lambda d: CharTokenizer(Vocabulary.from_dict(d["vocab"])),
    "word": lambda d: WordTokenizer(Vocabulary.from_dict(d["vocab"]), bool(d.get("prose"))),
    "bpe": lambda d: _subword(d),
    "unigram": lambda d: _subword(d),
}


def _subword(data: Mapping[str, Any]) -> SubwordTokenizer:
    library, payload = str(data["library"]), data["data"]
    if library == "sentencepiece":
        payload = base64.b64decode(payload)
    return SubwordTokenizer(str(data["kind"]), library, payload)


def tokenizer_from_dict(data: Mapping[str, Any]) -> TextTokenizer:
    """The tokenizer saved by :meth:`TextTokenizer.to_dict`; ``RnnkitError`` when malformed."""
    try:
        return _READERS[data["kind"]](data)
    except RnnkitError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        raise RnnkitError(f"malformed tokenizer in checkpoint: {error}") from error


def to_json(tokenizer: TextTokenizer) -> str:
    """The tokenizer's :meth:`~TextTokenizer.to_dict` as one JSON string (export metadata)."""
    return json.dumps(tokenizer.to_dict(), ensure_ascii=False)
