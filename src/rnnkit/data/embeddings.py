"""Pretrained word vectors: GloVe or word2vec text files read streaming, matched to a vocabulary,
and put into a model's embedding.

A file holds one word and its ``D`` numbers a line, separated by spaces (GloVe's ``.txt``,
word2vec's and fastText's text ``.vec``), optionally after a word2vec header line ``N D`` (two
integers, detected) and optionally gzipped (detected by its first bytes, whatever its name).

Files of several GB are read line by line: only the rows of the wanted words are parsed, into one
growing float32 buffer (4 bytes a number) that becomes the matrix without a copy, so the file is
never held in memory, and the kept rows once. Every line is checked to have ``D`` numbers.

Matching (:func:`read_vectors`): a row belongs to the vocabulary's form of its word, the word
itself or, for a lower-cased vocabulary (``lower``), the word lower-cased; an exact match (a row
``paris`` for ``paris``) is preferred to a lower-cased one (``Paris``), else the first row wins.

Using them::

    vectors = read_vectors("glove.6B.100d.txt.gz", wanted={"the", "cat"}, lower=True)
    vocab = extend_vocabulary(vocab, vectors)        # the file's words the vocabulary lacked
    print(coverage(training_token_counts, vectors))  # "2 of 3 training word types have ..."
    put_vectors(model.embedding, vocab, vectors, freeze=True)

Words of the vocabulary without a vector keep their random initialisation; the padding row stays
zero. The vectors become model weights (saved in checkpoints like any other).
"""

from __future__ import annotations

import gzip
import io
import itertools
import os
from array import array
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import torch
from torch import Tensor, nn

from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError, shown
from rnnkit.formatting import count

__all__ = [
    "WordVectors",
    "coverage",
    "extend_vocabulary",
    "put_vectors",
    "read_vectors",
    "vector_dimension",
]

WHAT = "embeddings file"


@dataclass(repr=False)
class WordVectors:
    """The rows kept from a vectors file: ``words[i]`` (in the vocabulary's form) has the vector
    ``vectors[i]``; ``vectors`` is ``(n, D)`` float32. ``rows`` counts the file's vectors."""

    words: list[str]
    vectors: Tensor
    path: str
    rows: int

    @property
    def dim(self) -> int:
        """The dimension ``D`` of the vectors."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __repr__(self) -> str:
        return f"WordVectors({len(self):,} of {self.rows:,} words, dim={self.dim}, {self.path})"


def _open(path: Path) -> IO[str]:
    """The file as UTF-8 text, gunzipped when it starts with gzip's magic bytes."""
    if not path.exists():
        raise RnnkitError(f"{WHAT} not found: {path}")
    if path.is_dir():
        raise RnnkitError(f"{WHAT} {path} is a directory, not a file")
    try:
        with path.open("rb") as file:
            zipped = file.read(2) == b"\x1f\x8b"
        raw = gzip.open(path, "rb") if zipped else path.open("rb")  # noqa: SIM115 - _lines closes
    except OSError as error:
        raise RnnkitError(f"cannot read {WHAT} {path}: {error.strerror or error}") from error
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline=None)


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """``(line number, line without its end and trailing spaces)`` of the non-blank lines."""
    try:
        with _open(path) as file:
            for number, line in enumerate(file, start=1):
                line = line.rstrip()
                if line:
                    yield number, line
    except UnicodeDecodeError as error:
        raise RnnkitError(
            f"{WHAT} {path} is not UTF-8 text (a binary word2vec file? save it in the text format)"
        ) from error
    except (OSError, EOFError) as error:  # a truncated or corrupt gzip stream
        raise RnnkitError(f"cannot read {WHAT} {path}: {error}") from error


def _no_vectors(path: Path) -> RnnkitError:
    return RnnkitError(f"{WHAT} {path} holds no vectors")


def _first_line(path: Path, lines: Iterator[tuple[int, str]]) -> tuple[int, str, int, bool]:
    """``(line number, line, D, whether it is a word2vec header)`` of the file's first line: the
    header's ``D``, or the number of numbers after the first row's word."""
    try:
        number, line = next(lines)
    except StopIteration:
        raise _no_vectors(path) from None
    parts = line.split()
    if len(parts) == 2 and all(part.isdigit() for part in parts) and int(parts[1]) > 0:
        return number, line, int(parts[1]), True
    if len(parts) < 2:
        raise RnnkitError(
            f"{WHAT} {path}, line {number}: expected a word and its numbers, got {shown(line)}"
        )
    return number, line, len(parts) - 1, False


def vector_dimension(path: str | os.PathLike[str]) -> int:
    """The dimension of the vectors of a file, from its first line (a header or a row)."""
    path = Path(path)
    lines = _lines(path)
    try:
        return _first_line(path, lines)[2]
    finally:
        lines.close()  # type: ignore[attr-defined]


def _split(path: Path, number: int, line: str, dim: int, first: str) -> tuple[str, str]:
    """``(word, its numbers as text)`` of a row, checked to hold ``dim`` numbers. Rows are
    normally one-space separated (counting spaces is fast); others are split on any space."""
    if line.count(" ") == dim:
        word, _, numbers = line.partition(" ")
        return word, numbers
    parts = line.split()
    if len(parts) != dim + 1:
        raise RnnkitError(
            f"{WHAT} {path}, line {number}: expected a word and {dim} numbers as {first}, "
            f"got {count(len(parts) - 1, 'field')} after the word"
        )
    return parts[0], " ".join(parts[1:])


def _numbers(path: Path, number: int, text: str) -> array:
    try:
        return array("f", map(float, text.split()))
    except ValueError:
        bad = next(part for part in text.split() if not _is_float(part))
        raise RnnkitError(
            f"{WHAT} {path}, line {number}: expected a number, got {shown(bad)}"
        ) from None


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_vectors(
    path: str | os.PathLike[str], wanted: Collection[str] | None = None, *, lower: bool = False
) -> WordVectors:
    """The vectors of ``wanted`` words (``None``: every word of the file) from a GloVe or
    word2vec text file, read streaming (see the module docstring for the matching).

    ``lower``: the vocabulary is lower-cased, so a row counts for its word lower-cased (an exact
    match preferred). ``RnnkitError`` for a missing or unreadable file, a file with no vectors,
    a row with another number of fields than the first (naming its line) or a non-number.
    """
    path = Path(path)
    lines = _lines(path)
    first, line, dim, header = _first_line(path, lines)
    if not header:  # the first line is a row: read it below
        lines = itertools.chain([(first, line)], lines)
    where = f"the header line {first} says" if header else f"on line {first}"
    slots: dict[str, tuple[int, bool]] = {}  # word -> (row of the buffer, exact match)
    buffer, rows = array("f"), 0
    for number, line in lines:
        word, numbers = _split(path, number, line, dim, where)
        rows += 1
        key = word.lower() if lower else word
        if wanted is not None and key not in wanted:
            continue
        exact, held = key == word, slots.get(key)
        if held is not None and (held[1] or not exact):
            continue  # the first exact match wins, and any exact match beats a lower-cased one
        values = _numbers(path, number, numbers)
        if held is not None:
            buffer[held[0] * dim : (held[0] + 1) * dim] = values
        else:
            buffer.extend(values)
        slots[key] = (len(slots) if held is None else held[0], exact)
    if rows == 0:
        raise _no_vectors(path)
    # the buffer becomes the matrix without a copy (the tensor keeps the buffer alive)
    matrix = torch.frombuffer(buffer, dtype=torch.float32) if buffer else torch.zeros(0)
    matrix = matrix.view(len(slots), dim)
    # checked in blocks: isfinite on the whole matrix would need several times its memory
    if not all(bool(torch.isfinite(block).all()) for block in matrix.split(4096)):
        raise RnnkitError(f"{WHAT} {path}: expected finite numbers, got nan or inf")
    return WordVectors(list(slots), matrix, str(path), rows)


def extend_vocabulary(vocab: Vocabulary, vectors: WordVectors) -> Vocabulary:
    """``vocab`` with the words of ``vectors`` it lacks appended (in the file's order); the ids of
    its own words, its padding and unknown tokens are unchanged."""
    added = [word for word in vectors.words if word not in vocab]
    if not added:
        return vocab
    return Vocabulary([*vocab.itos, *added], pad_token=vocab.pad_token, unk_token=vocab.unk_token)


def coverage(counts: Mapping[str, int], vectors: WordVectors, what: str = "training") -> str:
    """How many word types of ``counts`` (word -> occurrences, in the vocabulary's form) have a
    vector, and their share of the tokens: ``"31,220 of 33,102 training word types have a
    vector, 94.3% of tokens"``."""
    known = set(vectors.words)
    types = sum(1 for word in counts if word in known)
    tokens = sum(n for word, n in counts.items() if word in known)
    share = 100.0 * tokens / max(sum(counts.values()), 1)
    return f"{types:,} of {len(counts):,} {what} word types have a vector, {share:.1f}% of tokens"


@torch.no_grad()
def put_vectors(
    embedding: nn.Embedding,
    vocab: Vocabulary,
    vectors: WordVectors | None,
    *,
    freeze: bool = False,
) -> int:
    """Copy the vectors of ``vocab``'s words into the rows of ``embedding`` (the padding row
    stays as it is: zero) and, with ``freeze``, keep the whole embedding fixed in training
    (``requires_grad`` off, so the optimiser neither updates nor decays it). ``vectors=None``
    only freezes (a resumed run: the vectors are in the checkpoint). Returns the rows set."""
    done = 0
    if vectors is not None:
        if embedding.weight.shape != (len(vocab), vectors.dim):
            raise ValueError(
                f"expected an embedding of shape ({len(vocab)}, {vectors.dim}) for the vocabulary "
                f"and the vectors, got {tuple(embedding.weight.shape)}"
            )
        pairs = [
            (vocab.stoi[word], row)
            for row, word in enumerate(vectors.words)
            if word in vocab and vocab.stoi[word] != embedding.padding_idx
        ]
        for start in range(0, len(pairs), 4096):  # in blocks: no third copy of the vectors
            ids, rows = zip(*pairs[start : start + 4096])
            embedding.weight[list(ids)] = vectors.vectors[list(rows)].to(embedding.weight)
        done = len(pairs)
    if freeze:
        embedding.weight.requires_grad_(False)
    return done
