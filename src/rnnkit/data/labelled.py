"""Labelled text from TSV/CSV files, word and character tokenizers, and length-bucketed batches.

Reading (:func:`read_labelled`): the first line is a header; the text and label columns are chosen
by name (a missing column is an error listing the available ones). The delimiter is a tab for
``.tsv``/``.tab`` files, a comma for ``.csv``, otherwise guessed from the header. TSV fields are
taken literally (quotes are text); CSV fields follow the usual quoting rules. Text is stripped of
surrounding white space; rows whose text is empty are skipped and counted (``skipped_empty``);
a row with an empty label is an error giving its line number.

Labels (:func:`build_label_vocab`, :func:`encode_labels`): strings or integers, mapped to ids
0..C-1 in a deterministic order (numeric order when every label is an integer, else sorted), kept
as a :class:`~rnnkit.data.vocab.Vocabulary` with no special tokens and saved with the model.
Training data with one class is an error; a validation/test label never seen in training is an
error naming it.

Tokenizers (:class:`Tokenizer`): ``"word"`` splits words, contractions (``'s``, ``n't``) and
punctuation; ``"char"`` gives characters. Both can lower-case, and build their vocabulary with
``min_freq``/``max_size`` and the specials ``<pad>`` (id 0) and ``<unk>`` (id 1).

Batches (:class:`BucketedBatches`, :func:`pad_sequences`): examples of similar length go together
(less padding, faster recurrent layers); each batch is ``(ids (N, L) long, lengths (N,) long,
labels (N,) long)``, padded with the pad id.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.data import tables
from rnnkit.data.batching import ShuffledBatches, epoch_generator
from rnnkit.data.text import read_text
from rnnkit.data.tokenizers import SubwordTokenizer, build_tokenizer, tokenizer_from_dict
from rnnkit.data.vocab import PAD, UNK, Vocabulary
from rnnkit.errors import RnnkitError, shown

__all__ = [
    "BucketedBatches",
    "LabelledText",
    "Tokenizer",
    "batch_order",
    "build_label_vocab",
    "encode_labels",
    "pad_sequences",
    "read_labelled",
]

# A word, possibly with inner apostrophes (don't, o'clock), or a clitic ('s, 're), or n't, or one
# other non-space symbol (punctuation).
WORD_RE = re.compile(r"\w+(?:['’]\w+)*|['’]\w+|[^\w\s]")
TOKENIZERS = ("word", "char", "bpe", "unigram")
SPECIALS = (PAD, UNK)


# --------------------------------------------------------------------------- reading
@dataclass
class LabelledText:
    """Texts and their labels (as strings) read from one file."""

    texts: list[str]
    labels: list[str]
    path: str
    skipped_empty: int = 0

    def __len__(self) -> int:
        return len(self.texts)


def check_delimiter(delimiter: str | None) -> None:
    """``RnnkitError`` unless ``delimiter`` is ``None`` or one character that can separate
    fields (the csv module takes no quote, line break or empty delimiter)."""
    if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
        raise RnnkitError(
            f"delimiter: expected one character other than a quote or a line break, got "
            f"{shown(delimiter)}"
        )


def _delimiter(path: Path, header: str, delimiter: str | None) -> str:
    if delimiter is not None:
        return delimiter
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    if suffix == ".csv":
        return ","
    return "\t" if "\t" in header else ","


def _rows(path: Path, text: str, delimiter: str) -> Iterable[tuple[int, list[str]]]:
    """(line number, fields) of each non-blank row; the first is the header."""
    if delimiter == "\t":  # TSV: fields are literal, one row per line
        for number, line in enumerate(text.splitlines(), start=1):
            if line.strip():
                yield number, line.split("\t")
        return
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for row in reader:
            if any(field.strip() for field in row):
                yield start, row
            start = reader.line_num + 1
    except csv.Error as error:
        raise RnnkitError(f"{path}, line {reader.line_num}: malformed CSV ({error})") from error


def read_labelled(
    path: Any,
    text_col: str = "text",
    label_col: str | None = "label",
    *,
    delimiter: str | None = None,
) -> LabelledText:
    """Read a TSV/CSV file with a header; ``label_col=None`` reads texts only (labels empty).

    ``path`` may also be a ``.jsonl``/``.parquet`` file or data in memory (a DataFrame, a
    ``datasets.Dataset``, a list of ``(text, label)`` pairs or of dicts: see
    :mod:`rnnkit.data.tables`), read alike (``path`` of the result: its name)."""
    if tables.table_source(path):
        texts, labels, skipped, name = tables.labelled_rows(path, text_col, label_col)
        return LabelledText(texts, labels, name, skipped)
    path = Path(path)
    check_delimiter(delimiter)
    content = read_text(path, "data file", empty=True)
    rows = _rows(path, content, _delimiter(path, content.split("\n", 1)[0], delimiter))
    try:
        _, header = next(rows)
    except StopIteration:
        raise RnnkitError(f"data file {path} is empty (expected a header line)") from None
    header = [name.strip() for name in header]
    available = ", ".join(repr(name) for name in header)

    def column(name: str, option: str) -> int:
        if name not in header:
            raise RnnkitError(
                f"{path}: no column {name!r} ({option}); available columns: {available}"
            )
        return header.index(name)

    text_index = column(text_col, "the text column")
    label_index = None if label_col is None else column(label_col, "the label column")
    needed = max(text_index, -1 if label_index is None else label_index) + 1
    texts: list[str] = []
    labels: list[str] = []
    skipped = 0
    for number, row in rows:
        if len(row) < needed:
            raise RnnkitError(
                f"{path}, line {number}: expected {len(header)} fields as in the header, got {len(row)}"
            )
        text = row[text_index].strip()
        if not text:
            skipped += 1
            continue
        if label_index is not None:
            label = row[label_index].strip()
            if not label:
                raise RnnkitError(f"{path}, line {number}: empty label in column {label_col!r}")
            labels.append(label)
        texts.append(text)
    if not texts:
        raise RnnkitError(f"data file {path} has no rows with text (after the header)")
    return LabelledText(texts, labels, str(path), skipped)


# --------------------------------------------------------------------------- labels
def _is_int(label: str) -> bool:
    try:
        int(label)
    except ValueError:
        return False
    return True


def build_label_vocab(labels: Sequence[str], where: str = "training data") -> Vocabulary:
    """Label -> id map: numeric order when all labels are integers, else sorted; >= 2 classes."""
    distinct = set(labels)
    if len(distinct) < 2:
        only = ", ".join(repr(x) for x in sorted(distinct)) or "none"
        raise RnnkitError(f"{where} has a single class ({only}); a classifier needs at least 2")
    if all(_is_int(label) for label in distinct):
        if len({int(label) for label in distinct}) != len(distinct):
            raise RnnkitError(f"{where}: integer labels written two ways (e.g. '1' and '01')")
        ordered = sorted(distinct, key=int)
    else:
        ordered = sorted(distinct)
    return Vocabulary(ordered)


def encode_labels(
    labels: Sequence[str], vocab: Vocabulary, where: str, known_from: str = "the training data"
) -> list[int]:
    """Ids of ``labels``; a label the vocabulary (from ``known_from``) lacks is an error naming it."""
    unknown = vocab.unknown_tokens(labels)
    if unknown:
        shown = ", ".join(repr(x) for x in unknown[:5]) + (", ..." if len(unknown) > 5 else "")
        known = ", ".join(repr(x) for x in vocab.itos)
        raise RnnkitError(
            f"{where} has label(s) never seen in {known_from}: {shown} (known labels: {known})"
        )
    return [vocab.stoi[label] for label in labels]


# --------------------------------------------------------------------------- tokenizers
class Tokenizer:
    """Text -> tokens -> ids, for words (``kind="word"``), characters (``kind="char"``) or
    subwords (``"bpe"``, ``"unigram"``: a :class:`~rnnkit.data.tokenizers.SubwordTokenizer`
    learnt on the training texts or read from a file, its ids shifted by two after ``<pad>`` and
    ``<unk>``).

    Build one from training texts with :meth:`build`; save it with :meth:`to_dict`.
    """

    def __init__(
        self,
        vocab: Vocabulary,
        kind: str = "word",
        lower: bool = True,
        subword: SubwordTokenizer | None = None,
    ) -> None:
        if kind not in TOKENIZERS:
            raise ValueError(f"tokenizer kind must be one of {TOKENIZERS}, got {kind!r}")
        if vocab.pad_id is None or vocab.unk_id is None:
            raise ValueError("a tokenizer vocabulary needs both <pad> and <unk>")
        if (subword is None) != (kind in ("word", "char")):
            raise ValueError(f"a {kind} tokenizer needs a subword tokenizer exactly when subword")
        self.vocab = vocab
        self.kind = kind
        self.lower = lower
        self.subword = subword

    @staticmethod
    def split(text: str, kind: str = "word", lower: bool = True) -> list[str]:
        """The tokens of ``text`` (no vocabulary involved; words or characters)."""
        if lower:
            text = text.lower()
        if kind == "char":
            return list(text)
        return WORD_RE.findall(text)

    def tokenize(self, text: str) -> list[str]:
        if self.subword is None:
            return self.split(text, self.kind, self.lower)
        return [self.vocab.itos[i] for i in self._subword_ids(text)]

    def _subword_ids(self, text: str) -> list[int]:
        shift, text = len(SPECIALS), text.lower() if self.lower else text
        return [i + shift for i in self.subword.encode(text)]  # type: ignore[union-attr]

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        kind: str = "word",
        *,
        lower: bool = True,
        min_freq: int = 1,
        max_size: int | None = None,
        vocab_size: int | None = None,
        file: str | None = None,
    ) -> Tokenizer:
        """Count the tokens of ``texts`` into a vocabulary with ``<pad>`` = 0 and ``<unk>`` = 1;
        bpe/unigram: learn ``vocab_size`` subwords on them (or read ``file``)."""
        if kind not in TOKENIZERS:
            raise ValueError(f"tokenizer kind must be one of {TOKENIZERS}, got {kind!r}")
        if file is not None and kind not in ("bpe", "unigram"):
            raise RnnkitError(
                f"tokenizer_file: expected the tokenizer bpe or unigram with a tokenizer file, "
                f"got {kind}"
            )
        if kind in ("bpe", "unigram"):
            text = "\n".join(t.lower() if lower else t for t in texts)
            subword = build_tokenizer(kind, text, vocab_size=vocab_size, file=file)
            return cls.from_subword(subword, kind, lower)  # type: ignore[arg-type]
        tokens = (token for text in texts for token in cls.split(text, kind, lower))
        vocab = Vocabulary.build(tokens, min_freq=min_freq, max_size=max_size, specials=SPECIALS)
        return cls(vocab, kind, lower)

    @classmethod
    def from_subword(cls, subword: SubwordTokenizer, kind: str, lower: bool) -> Tokenizer:
        """``<pad>``, ``<unk>``, then the subwords (a piece spelt like a special is renamed)."""
        pieces = [subword.token(i) for i in range(subword.vocab_size)]
        pieces = [f"{p} ({i})" if p in SPECIALS else p for i, p in enumerate(pieces)]
        return cls(
            Vocabulary([*SPECIALS, *pieces], pad_token=PAD, unk_token=UNK), kind, lower, subword
        )

    @property
    def pad_id(self) -> int:
        return int(self.vocab.pad_id)  # type: ignore[arg-type]

    @property
    def unk_id(self) -> int:
        return int(self.vocab.unk_id)  # type: ignore[arg-type]

    def encode(self, text: str, max_length: int | None = None) -> list[int]:
        """Ids of the tokens of ``text`` (at most ``max_length``); never empty (``[<unk>]``)."""
        if self.subword is None:
            ids = self.vocab.encode(self.tokenize(text))
        else:
            ids = self._subword_ids(text)
        if max_length is not None:
            ids = ids[:max_length]
        return ids or [self.unk_id]

    def to_dict(self) -> dict[str, Any]:
        kept = {} if self.subword is None else {"subword": self.subword.to_dict()}
        return {"kind": self.kind, "lower": self.lower, "vocab": self.vocab.to_dict(), **kept}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tokenizer:
        try:
            subword = data.get("subword")
            if subword is not None:
                subword = tokenizer_from_dict(subword)
            vocab = Vocabulary.from_dict(data["vocab"])
            return cls(vocab, data["kind"], bool(data["lower"]), subword)
        except (KeyError, TypeError, ValueError) as error:
            raise RnnkitError(f"malformed tokenizer in checkpoint: {error}") from error


# --------------------------------------------------------------------------- batches
def pad_sequences(
    sequences: Sequence[Sequence[int]], pad_id: int = 0, device: torch.device | None = None
) -> tuple[Tensor, Tensor]:
    """Right-pad lists of ids: ``(ids (N, L) long, lengths (N,) long)``, ``L`` the longest."""
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long, device=device)
    width = int(lengths.max()) if len(sequences) else 0
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long, device=device)
    for row, sequence in enumerate(sequences):
        if len(sequence):
            ids[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long, device=device)
    return ids, lengths


def batch_order(
    lengths: Sequence[int],
    batch_size: int,
    *,
    shuffle: bool = True,
    seed: int = 0,
    epoch: int = 0,
    bucket_batches: int = 50,
) -> list[list[int]]:
    """Index lists of the batches of one epoch, each of examples of similar length.

    With ``shuffle``: a random permutation, cut into chunks of ``bucket_batches`` batches, each chunk
    sorted by length and cut into batches, then the batch order shuffled (deterministic for
    ``(seed, epoch)``). Without: sorted by length, longest first (for evaluation).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    count = len(lengths)
    if not shuffle:
        order = sorted(range(count), key=lambda i: -lengths[i])
        return [order[i : i + batch_size] for i in range(0, count, batch_size)]
    generator = epoch_generator(seed, epoch)
    order = torch.randperm(count, generator=generator).tolist()
    chunk = batch_size * max(1, bucket_batches)
    batches = []
    for start in range(0, count, chunk):
        part = sorted(order[start : start + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    permutation = torch.randperm(len(batches), generator=generator).tolist()
    return [batches[i] for i in permutation]


class BucketedBatches(ShuffledBatches):
    """Endless, resumable, length-bucketed training batches (a Trainer batch source).

    :class:`~rnnkit.data.batching.ShuffledBatches` whose epochs are planned by
    :func:`batch_order`: ``collate(indices)`` builds a batch from example indices; ``lengths[i]``
    is the length of example ``i``. The state is ``{"epoch", "index", "seed", "size"}``. After
    ``shard(rank, world)`` (multi-process training) ``collate`` gets the rank's contiguous share
    of each global batch; the state stays that of the global batches.
    """

    def __init__(
        self,
        lengths: Sequence[int],
        batch_size: int,
        collate: Callable[[list[int]], Any],
        *,
        seed: int = 0,
        bucket_batches: int = 50,
    ) -> None:
        super().__init__(len(lengths), batch_size, collate, seed=seed)
        self.lengths = list(lengths)
        self.bucket_batches = bucket_batches

    def plan(self, epoch: int) -> list[list[int]]:
        return batch_order(
            self.lengths,
            self.batch_size,
            shuffle=True,
            seed=self.seed,
            epoch=epoch,
            bucket_batches=self.bucket_batches,
        )
