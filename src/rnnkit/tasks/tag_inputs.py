"""What the tag task reads: its data files with the configured columns, and long inputs in windows.

A recurrent tagger reads a sentence one token after another, so one line of 140,000 tokens (a whole
book given as one line) is one sequence of 140,000 steps that no batch shares (and, with a CRF, as
long a Viterbi pass). :func:`tag_in_windows` cuts every input longer than :data:`WINDOW` tokens
into overlapping windows, tags them in batches with the other inputs, and keeps from each window
the tags of its middle part, :data:`CONTEXT` tokens away from its cut edges (except at the
input's own ends), so that every kept tag saw at least :data:`CONTEXT` tokens on each side::

    tokens   0 ........................................................ n
    window   [ 0 .............. 400 )
    kept     [ 0 ......... 375 )
    window                [ 350 ............... 750 )
    kept                       [ 375 ...... 725 )

The windows hold 400 / 350 = 1.14 times the input's tokens: per-token work (the character CNN)
grows by that much, the recurrence runs over batches of windows instead of one long sequence.
The record of the input still has one tag per token, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from rnnkit.config import ConfigError
from rnnkit.data.conll import TaggedCorpus, read_tagged

__all__ = ["CONTEXT", "WINDOW", "read_data", "tag_in_windows", "windows"]

WINDOW = 400  # tokens a window holds at most: above almost every sentence, far below a book
CONTEXT = 25  # tokens each kept tag sees on each side at least, beyond the cut

T = TypeVar("T")


def read_data(d: Any, path: Any) -> TaggedCorpus:
    """``path`` read as the tag task's data config ``d`` says (format, table or file columns);
    a column beyond the file's is a :class:`~rnnkit.config.ConfigError` of ``data.token_col``
    or ``data.tag_col`` (the command line names its option)."""
    try:
        return read_tagged(
            path, d.format, d.tokens_col, d.tags_col, token_col=d.token_col, tag_col=d.tag_col
        )
    except ConfigError as error:
        raise error.under("data") from None


def windows(length: int, size: int = WINDOW, context: int = CONTEXT) -> list[tuple[int, int, int]]:
    """``(start, keep_start, keep_end)`` of the windows of a sequence of ``length`` tokens: each
    window is ``tokens[start : start + size]`` and gives the tags of ``keep_start : keep_end``;
    the kept parts cover ``0 : length`` once, in order. One window when ``length <= size``."""
    if size < 2 * context + 1:
        raise ValueError(f"size must be > 2 * context ({2 * context}), got {size}")
    if length <= size:
        return [(0, 0, length)]
    step = size - 2 * context  # the kept middle of a window
    cuts = [0, *range(size - context, length, step)]
    out = []
    for n, keep_start in enumerate(cuts):
        keep_end = cuts[n + 1] if n + 1 < len(cuts) else length
        start = max(0, min(keep_start - context, length - size))
        out.append((start, keep_start, keep_end))
    return out


def tag_in_windows(
    tag: Callable[[list[list[str]]], Sequence[Sequence[T]]],
    sentences: Sequence[Sequence[str]],
    size: int = WINDOW,
    context: int = CONTEXT,
) -> list[list[T]]:
    """``tag`` (a function of a list of token lists giving one item a token: tag ids, scores...)
    applied to ``sentences``, those longer than ``size`` in windows (see :func:`windows`), all in
    one call so that windows and short sentences share batches."""
    pieces: list[list[str]] = []
    plan: list[list[tuple[int, int, int]]] = []  # per sentence: (piece, keep from, keep to)
    for sentence in sentences:
        parts = []
        for start, keep_start, keep_end in windows(len(sentence), size, context):
            parts.append((len(pieces), keep_start - start, keep_end - start))
            pieces.append(list(sentence[start : start + size]))
        plan.append(parts)
    tagged = tag(pieces)
    return [[item for p, a, b in parts for item in tagged[p][a:b]] for parts in plan]
