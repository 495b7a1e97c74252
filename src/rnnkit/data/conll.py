"""Tagged sentences from CoNLL-U and column (CoNLL) files.

CoNLL-U (``.conllu``): one token a line with 10 tab-separated columns (ID, FORM, LEMMA, UPOS,
XPOS, FEATS, HEAD, DEPREL, DEPS, MISC); ``#`` comment lines; a blank line ends a sentence. The
token is FORM (column 2) and the tag UPOS (column 4). Lines whose ID is a range (``1-2``, a
multi-word token) or a decimal (``1.1``, an empty node) carry no UPOS and are skipped. A
``# newdoc`` comment starts a document.

Column files (anything else, ``--format conll``): one token a line, its columns separated by a tab
(a line that holds a tab is split at tabs only, so a token may hold spaces) or else by runs of
spaces; a blank line between sentences. The token is in column ``token_col`` and the tag in
``tag_col``, counted from 1 as ``cut`` counts them (defaults: the first and the last column), so
``token<TAB>tag`` files and CoNLL-2003's ``EU NNP B-NP B-ORG`` read alike. ``-DOCSTART-`` lines
are skipped; each starts a document (:attr:`TaggedCorpus.docs`) and ends the sentence before it.
The lines of a sentence must have the same number of columns.

A file that is not tagged text (a one-column or plain-text file, a table of one text a line with a
header such as ``text<TAB>label``, a file of only ``-DOCSTART-`` lines) is an
:class:`~rnnkit.errors.RnnkitError` that names the file and line and says what a tagged file looks
like; a column beyond a line's columns is a :class:`~rnnkit.config.ConfigError` of ``token_col``
or ``tag_col``. :func:`read_tokens` reads untagged input for prediction: one sentence a line,
tokens separated by white space.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.config import ConfigError
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
DOCSTART = "-DOCSTART-"
# What a tagged file looks like, for the messages about a file that is not one.
LAYOUT = (
    "a tagged file has one token a line followed by its tag in columns separated by a tab or "
    "spaces (token<TAB>tag, CoNLL-2003's 4 columns or CoNLL-U's 10), and a blank line after "
    "each sentence"
)
TEXT_WORDS = 3  # words a token holds on average in a table of texts, at least
# The first line of a table of texts (``text<TAB>label``), read as a token and its tag.
HEADER_TOKENS = frozenset(("text", "texts", "sentence", "token", "tokens", "word", "words", "form"))
HEADER_TAGS = frozenset(("label", "labels", "tag", "tags", "class", "ner", "ner_tags", "upos"))


@dataclass
class TaggedCorpus:
    """Sentences as parallel lists of tokens and tags, and the document of each sentence
    (``docs[i]``, counted from 0; a file without document boundaries is one document)."""

    tokens: list[list[str]] = field(default_factory=list)
    tags: list[list[str]] = field(default_factory=list)
    path: str = ""
    docs: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.docs:
            self.docs = [0] * len(self.tokens)

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def num_tokens(self) -> int:
        return sum(len(sentence) for sentence in self.tokens)

    def add(self, pairs: list[tuple[str, str]], doc: int) -> None:
        """Append the sentence of ``(token, tag)`` pairs, in document ``doc``."""
        self.tokens.append([token for token, _ in pairs])
        self.tags.append([tag for _, tag in pairs])
        self.docs.append(doc)


def _read_sentences(
    path: str | os.PathLike[str], token_and_tag: Callable[[Path, int, str], tuple[str, str] | None]
) -> TaggedCorpus:
    """Sentences of ``path``, separated by blank lines; ``token_and_tag(path, number, line)`` reads
    one non-blank line (``None``: a line that holds no token, such as a comment)."""
    path = Path(path)
    corpus = TaggedCorpus(path=str(path))
    sentence: list[tuple[str, str]] = []
    doc = 0
    lines = read_text(path, "tagged file", empty=True).splitlines()
    for number, line in enumerate([*lines, ""], start=1):  # the "" ends the last sentence
        if line.startswith("# newdoc") and corpus.docs and corpus.docs[-1] == doc:
            doc += 1  # a document after sentences (the first # newdoc opens document 0)
        if line.strip():
            pair = token_and_tag(path, number, line)
            if pair is not None:
                sentence.append(pair)
        elif sentence:
            corpus.add(sentence, doc)
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


def read_conllu(path: str | os.PathLike[str]) -> TaggedCorpus:
    """FORM and UPOS of every sentence of a CoNLL-U file."""
    return _read_sentences(path, _conllu_line)


def _cells(line: str) -> list[str]:
    """The columns of a line: split at tabs when it holds one (a token may hold spaces), else at
    runs of white space; trailing white space is no column."""
    line = line.rstrip()
    return [cell.strip() for cell in line.split("\t")] if "\t" in line else line.split()


def column_cell(cells: list[str], key: str, column: int, where: str) -> str:
    """The cell of 1-based ``column`` of a line (``where``: its file and number) of ``cells``;
    beyond them, a :class:`~rnnkit.config.ConfigError` of ``key``, the setting that chose it."""
    if column > len(cells):
        raise ConfigError(
            key,
            f"expected a column from 1 to {len(cells)} ({where} has {len(cells)} columns), "
            f"got {column}",
        )
    return cells[column - 1]


@dataclass
class _Sentence:
    """The sentence being read: its ``(token, tag)`` pairs, first line and number of columns."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    first: int = 0
    width: int = 0


class _ColumnReader:
    """Reads a column file line by line (see the module docstring); :meth:`checked` checks that
    what it read is tagged text."""

    def __init__(self, path: Path, token_col: int, tag_col: int | None) -> None:
        self.path, self.token_col, self.tag_col = path, token_col, tag_col
        self.corpus = TaggedCorpus(path=str(path))
        self.sentence = _Sentence()
        self.doc, self.docstarts, self.lines = 0, 0, 0
        self.spaced: list[int] = []  # lines whose token holds a space (tab-separated lines)
        self.words = 0  # words (parts between spaces) of the tokens
        self.widths: set[int] = set()
        self.multi_line = False  # whether a sentence has more than one line

    def end_sentence(self) -> None:
        if self.sentence.pairs:
            self.corpus.add(self.sentence.pairs, self.doc)
            self.multi_line |= len(self.sentence.pairs) > 1
        self.sentence = _Sentence()

    def read(self, number: int, line: str) -> None:
        cells = _cells(line)
        if not cells:
            self.end_sentence()
            return
        if cells[0] == DOCSTART:
            self.end_sentence()
            self.docstarts += 1
            if self.corpus.docs and self.corpus.docs[-1] == self.doc:
                self.doc += 1  # a new document after sentences (the first opens document 0)
            return
        where, sentence = f"{self.path}, line {number}", self.sentence
        if not sentence.pairs:
            sentence.first, sentence.width = number, len(cells)
            if len(cells) < 2:
                raise RnnkitError(
                    f"{where}: expected a token and its tag, got one column "
                    f"({cells[0][:40]!r}): {LAYOUT}"
                )
        elif len(cells) != sentence.width:
            raise RnnkitError(
                f"{where}: expected {sentence.width} columns as on line {sentence.first} (the "
                f"sentence's first), got {len(cells)}: {LAYOUT}"
            )
        token = column_cell(cells, "token_col", self.token_col, where)
        tag = column_cell(cells, "tag_col", self.tag_col or len(cells), where)
        if self.lines == 0 and token.lower() in HEADER_TOKENS and tag.lower() in HEADER_TAGS:
            raise RnnkitError(
                f"{where}: {token!r} and {tag!r} look like the header of a table, not a token "
                f"and its tag; {LAYOUT}"
            )
        for name, cell, column in (("token", token, self.token_col), ("tag", tag, self.tag_col)):
            if not cell:
                raise RnnkitError(f"{where}: empty {name} (column {column or len(cells)})")
        if " " in token:
            self.spaced.append(number)
        self.words += len(token.split())
        self.lines += 1
        self.widths.add(len(cells))
        sentence.pairs.append((token, tag))

    def checked(self, lines: list[str]) -> TaggedCorpus:
        """The corpus of ``lines``, or an error saying why they are no tagged text."""
        for number, line in enumerate([*lines, ""], start=1):  # the "" ends the last sentence
            self.read(number, line)
        path, corpus = self.path, self.corpus
        if not corpus.tokens:
            only = (
                f" only {count(self.docstarts, DOCSTART + ' line')} and" if self.docstarts else ""
            )
            raise RnnkitError(f"tagged file {path} holds{only} no sentences: {LAYOUT}")
        # A few tokens of a tab-separated file may hold a space ("New York"); texts hold many.
        if self.words >= TEXT_WORDS * self.lines:
            raise RnnkitError(
                f"{path}, line {self.spaced[0]}: the tokens hold {self.words / self.lines:.1f} "
                f"words on average, as in a table of one text a line; {LAYOUT}"
            )
        if not self.multi_line and len(self.widths) > 1 and max(self.widths) > 2:
            raise RnnkitError(
                f"{path}: every sentence is a single line of {min(self.widths)} to "
                f"{max(self.widths)} words, as in plain text; {LAYOUT}"
            )
        return corpus


def read_conll(
    path: str | os.PathLike[str], token_col: int = 1, tag_col: int | None = None
) -> TaggedCorpus:
    """Sentences of a column file: the token in column ``token_col`` and the tag in ``tag_col``
    (counted from 1; ``None``: the last column of each line). See the module docstring."""
    for key, column in (("token_col", token_col), ("tag_col", tag_col)):
        if column is not None and column < 1:
            raise ConfigError(key, f"expected a column number from 1, got {column}")
    path = Path(path)
    lines = read_text(path, "tagged file", empty=True).splitlines()
    return _ColumnReader(path, token_col, tag_col).checked(lines)


def detect_format(path: str | os.PathLike[str]) -> str:
    """``"conllu"`` for ``.conllu`` files, else ``"conll"`` (a column file)."""
    return "conllu" if Path(path).suffix.lower() == ".conllu" else "conll"


def read_tagged(
    path: Any,
    fmt: str = "auto",
    tokens_col: str = "tokens",
    tags_col: str | None = None,
    *,
    token_col: int = 1,
    tag_col: int | None = None,
) -> TaggedCorpus:
    """Read ``path`` as ``fmt`` (``"auto"``: by extension, see :func:`detect_format`); a column
    file's token and tag are in ``token_col`` and ``tag_col`` (see :func:`read_conll`).

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
    return read_conllu(path) if fmt == "conllu" else read_conll(path, token_col, tag_col)


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
    head = TaggedCorpus(corpus.tokens[:cut], corpus.tags[:cut], corpus.path, corpus.docs[:cut])
    tail = TaggedCorpus(corpus.tokens[cut:], corpus.tags[cut:], corpus.path, corpus.docs[cut:])
    return head, tail
