"""Tagged sentences from CoNLL-U and 2-column CoNLL files.

CoNLL-U (``.conllu``): one token a line with 10 tab-separated columns (ID, FORM, LEMMA, UPOS,
XPOS, FEATS, HEAD, DEPREL, DEPS, MISC); ``#`` comment lines; a blank line ends a sentence. The
token is FORM (column 2) and the tag UPOS (column 4). Lines whose ID is a range (``1-2``, a
multi-word token) or a decimal (``1.1``, an empty node) carry no UPOS and are skipped.

2-column CoNLL (anything else): ``token<TAB>tag`` (or separated by spaces) a line, a blank line
between sentences; ``-DOCSTART-`` lines are skipped.

A sentence line with the wrong number of columns is an :class:`~rnnkit.errors.RnnkitError`
giving the file and line number. :func:`read_tokens` reads untagged input for prediction: one
sentence a line, tokens separated by white space.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.data import tables
from rnnkit.data.text import read_text
from rnnkit.errors import RnnkitError
from rnnkit.formatting import count

__all__ = [
    "TaggedCorpus",
    "detect_format",
    "read_conll",
    "read_conllu",
    "read_tagged",
    "read_tokens",
    "split_sentences",
]

FORMATS = ("auto", "conllu", "conll")
# What a tagged file looks like, for the messages about a file that is not one.
LAYOUT = (
    "a tagged file has one token a line, its columns separated by a tab (token<TAB>tag, or the "
    "10 columns of CoNLL-U), and a blank line after each sentence"
)


@dataclass
class TaggedCorpus:
    """Sentences as parallel lists of tokens and tags."""

    tokens: list[list[str]] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    path: str = ""

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def num_tokens(self) -> int:
        return sum(len(sentence) for sentence in self.tokens)


def _read_sentences(
    path: str | os.PathLike[str], token_and_tag: Callable[[Path, int, str], tuple[str, str] | None]
) -> TaggedCorpus:
    """Sentences of ``path``, separated by blank lines; ``token_and_tag(path, number, line)`` reads
    one non-blank line (``None``: a line that holds no token, such as a comment)."""
    path = Path(path)
    corpus = TaggedCorpus(path=str(path))
    sentence: list[tuple[str, str]] = []
    lines = read_text(path, "tagged file", empty=True).splitlines()
    for number, line in enumerate([*lines, ""], start=1):  # the "" ends the last sentence
        if line.strip():
            pair = token_and_tag(path, number, line)
            if pair is not None:
                sentence.append(pair)
        elif sentence:
            corpus.tokens.append([token for token, _ in sentence])
            corpus.tags.append([tag for _, tag in sentence])
            sentence = []
    if not corpus.tokens:
        raise RnnkitError(f"tagged file {path} holds no sentences")
    return corpus


def _conllu_line(path: Path, number: int, line: str) -> tuple[str, str] | None:
    if line.startswith("#"):
        return None
    columns = line.split("\t")
    if len(columns) != 10:
        raise RnnkitError(
            f"{path}, line {number}: expected 10 tab-separated CoNLL-U columns, got {len(columns)}"
        )
    token_id = columns[0]
    if "-" in token_id or "." in token_id:  # multi-word token or empty node: no UPOS
        return None
    form, upos = columns[1], columns[3]
    if not form or not upos or upos == "_":
        raise RnnkitError(f"{path}, line {number}: token {token_id} has no FORM or no UPOS")
    return form, upos


def _conll_line(path: Path, number: int, line: str) -> tuple[str, str] | None:
    columns = line.split("\t") if "\t" in line else line.split()
    columns = [column.strip() for column in columns]
    if columns[0] == "-DOCSTART-":
        return None
    if len(columns) != 2 or not all(columns):
        raise RnnkitError(
            f"{path}, line {number}: expected 2 columns (token and tag), got {len(columns)}"
        )
    if len(columns[0].split()) > 1:  # one text a line, as in a classification file
        raise RnnkitError(
            f"{path}, line {number}: the token {columns[0][:40]!r} holds spaces; expected "
            f"one token a line: {LAYOUT}"
        )
    return columns[0], columns[1]


def read_conllu(path: str | os.PathLike[str]) -> TaggedCorpus:
    """FORM and UPOS of every sentence of a CoNLL-U file."""
    return _read_sentences(path, _conllu_line)


def read_conll(path: str | os.PathLike[str]) -> TaggedCorpus:
    """Sentences of a 2-column ``token tag`` file (tab or spaces between the columns)."""
    return _read_sentences(path, _conll_line)


def detect_format(path: str | os.PathLike[str]) -> str:
    """``"conllu"`` for ``.conllu`` files, else ``"conll"``."""
    return "conllu" if Path(path).suffix.lower() == ".conllu" else "conll"


def read_tagged(
    path: Any, fmt: str = "auto", tokens_col: str = "tokens", tags_col: str | None = None
) -> TaggedCorpus:
    """Read ``path`` as ``fmt`` (``"auto"``: by extension, see :func:`detect_format`).

    ``path`` may also be a ``.jsonl``/``.parquet`` file or data in memory (a DataFrame, a
    ``datasets.Dataset``, a list of sentences: see :func:`rnnkit.data.tables.tagged_sentences`),
    whose list columns ``tokens_col`` and ``tags_col`` hold each sentence's tokens and tags."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if tables.table_source(path):
        tokens, tags, name = tables.tagged_sentences(path, tokens_col, tags_col)
        return TaggedCorpus(tokens, tags, name)
    if fmt == "auto":
        fmt = detect_format(path)
    return read_conllu(path) if fmt == "conllu" else read_conll(path)


def read_tokens(text: str) -> list[list[str]]:
    """Untagged sentences: one a line, tokens separated by white space; blank lines skipped."""
    return [line.split() for line in text.splitlines() if line.strip()]


def split_sentences(
    corpus: TaggedCorpus, fraction: float = 0.9
) -> tuple[TaggedCorpus, TaggedCorpus]:
    """The first ``fraction`` of the sentences and the rest (in file order, no shuffling)."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    cut = round(len(corpus) * fraction)
    if cut < 1 or cut >= len(corpus):
        few = f"{count(len(corpus), 'sentence')} {'is' if len(corpus) == 1 else 'are'}"
        # A whole file read as one sentence has no blank lines: it is most likely not tagged text.
        hint = f" (no blank line between sentences? {LAYOUT})" if len(corpus) == 1 else ""
        raise RnnkitError(
            f"{corpus.path}: {few} too few to split {fraction:.0%} / {1 - fraction:.0%}{hint}"
        )
    head = TaggedCorpus(corpus.tokens[:cut], corpus.tags[:cut], corpus.path)
    tail = TaggedCorpus(corpus.tokens[cut:], corpus.tags[cut:], corpus.path)
    return head, tail
