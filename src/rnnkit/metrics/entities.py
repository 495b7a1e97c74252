"""Entity-level scores, the figure named-entity recognition reports, and the memorisation
baseline printed beside them.

An entity counts as found only when a predicted entity has exactly its type, start and end
(exact span match, as in conlleval and seqeval); entities are read from the tags with
conlleval's rules for ill-formed sequences (:func:`rnnkit.data.schemes.spans`). With ``c``
entities found, ``p`` predicted and ``g`` in the gold tags:

    precision = c / p,   recall = c / g,   F1 = 2 precision recall / (precision + recall)

micro-averaged over all entities (and per type over that type's), each 0 where its denominator
is 0 (as conlleval and seqeval's default ``zero_division``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from rnnkit.data.schemes import spans, to_tags
from rnnkit.errors import RnnkitError
from rnnkit.formatting import count

__all__ = ["Memoriser", "entity_scores"]


def _check_pairs(
    first: Sequence[Sequence], second: Sequence[Sequence], names: str, units: tuple[str, str]
) -> None:
    """``first`` and ``second`` (the arguments ``names``) hold as many sentences, each as long."""
    if len(first) != len(second):
        raise RnnkitError(
            f"{names}: expected the same number of sentences, got {len(first)} and {len(second)}"
        )
    for n, (a, b) in enumerate(zip(first, second), start=1):
        if len(a) != len(b):
            raise RnnkitError(
                f"{names}: sentence {n} has {count(len(a), units[0])} and {count(len(b), units[1])}"
            )


def _scores(correct: int, support: int, predicted: int) -> dict:
    precision = correct / predicted if predicted else 0.0
    recall = correct / support if support else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
        "predicted": predicted,
    }


def entity_scores(
    gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]], scheme: str
) -> dict:
    """Exact-match entity precision, recall and F1 of ``predicted`` tags against ``gold`` tags
    (lists of sentences, both in ``scheme``).

    Returns ``{"precision", "recall", "f1", "support", "predicted", "types"}``: micro scores
    over all entities (fractions 0..1), ``support`` the number of gold entities, ``predicted``
    the number of predicted ones, and ``types`` the same keys per entity type (sorted; every
    type of either side). Equal to ``seqeval.metrics.classification_report(gold, predicted,
    output_dict=True)`` for iob1/iob2/iobes tags.

    >>> s = entity_scores([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "O"]], "iob2")
    >>> s["precision"], s["recall"], s["types"]["LOC"]["support"]
    (1.0, 0.5, 1)
    """
    _check_pairs(gold, predicted, "gold and predicted", ("gold tag", "predicted tag"))
    counts: dict[str, Counter] = defaultdict(Counter)  # type -> correct, support, predicted
    for g, p in zip(gold, predicted):
        true, guessed = set(spans(g, scheme)), set(spans(p, scheme))
        for kind, _, _ in true:
            counts[kind]["support"] += 1
        for kind, _, _ in guessed:
            counts[kind]["predicted"] += 1
        for kind, _, _ in true & guessed:
            counts[kind]["correct"] += 1
    total = sum(counts.values(), Counter())
    scores = _scores(total["correct"], total["support"], total["predicted"])
    scores["types"] = {
        kind: _scores(c["correct"], c["support"], c["predicted"])
        for kind, c in sorted(counts.items())
    }
    return scores


class Memoriser:
    """The memorisation baseline: every entity string of the training tags is tagged wherever it
    appears, with the type it had most often in training (ties: the type seen first).

    Matching is exact (case too) on whole tokens, left to right; at each position the longest
    known string wins, and matches do not overlap. For tokens ``New York City`` with training
    entities ``New York`` (LOC) and ``New York City`` (LOC), the three tokens are one LOC.
    """

    def __init__(self) -> None:
        self.types: dict[tuple[str, ...], str] = {}
        self.lengths: dict[
            str, list[int]
        ] = {}  # first token -> lengths of its strings, longest first
        self.scheme = "iob2"

    def fit(
        self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], scheme: str
    ) -> Memoriser:
        """Collect the entity strings of training sentences ``tokens`` tagged ``tags`` (in
        ``scheme``, also the scheme :meth:`tag` writes). Returns ``self``."""
        _check_pairs(tokens, tags, "tokens and tags", ("token", "tag"))
        seen: dict[tuple[str, ...], Counter] = defaultdict(Counter)
        for words, labels in zip(tokens, tags):
            for kind, start, end in spans(labels, scheme):
                seen[tuple(words[start:end])][kind] += 1
        # Counter.most_common keeps first-inserted order among equal counts
        self.types = {string: c.most_common(1)[0][0] for string, c in seen.items()}
        lengths: dict[str, set[int]] = defaultdict(set)
        for string in self.types:
            lengths[string[0]].add(len(string))
        self.lengths = {word: sorted(n, reverse=True) for word, n in lengths.items()}
        self.scheme = scheme
        return self

    def _entities(self, words: Sequence[str]) -> list[tuple[str, int, int]]:
        found, i = [], 0
        while i < len(words):
            for n in self.lengths.get(words[i], ()):
                # a slice past the end is shorter than n and could match a shorter string
                kind = self.types.get(tuple(words[i : i + n])) if i + n <= len(words) else None
                if kind is not None:
                    found.append((kind, i, i + n))
                    i += n
                    break
            else:
                i += 1
        return found

    def tag(self, tokens: Sequence[Sequence[str]]) -> list[list[str]]:
        """The tags of each sentence of ``tokens`` (in the scheme given to :meth:`fit`)."""
        return [to_tags(self._entities(words), len(words), self.scheme) for words in tokens]
