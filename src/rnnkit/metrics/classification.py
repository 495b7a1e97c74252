"""Classification and tagging metrics, and their naive baselines.

Metrics take plain sequences (lists, tuples, 1-D tensors or arrays) of labels, which may be ids or
strings; tagging metrics take lists of sentences (a list of tags per sentence).

- :func:`accuracy`, :func:`macro_f1`, :func:`confusion_matrix`, :func:`precision_recall_f1`
  (per class) for many-to-one classification;
- :func:`token_accuracy` and :func:`per_tag_f1` for tagging (each token scored on its own);
- baselines: :func:`majority_class` (always the most frequent training label) and
  :class:`MostFrequentTag` (each word's most frequent training tag; words never seen in training
  get the overall most frequent tag).

F1 of a class is ``2 P R / (P + R)``, defined as 0 when the class is neither predicted nor present
(it then counts in the macro mean only when listed in ``labels``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Sequence
from typing import Any

__all__ = [
    "MostFrequentTag",
    "accuracy",
    "confusion_matrix",
    "macro_f1",
    "majority_class",
    "per_tag_f1",
    "precision_recall_f1",
    "token_accuracy",
]


def _as_list(values: Any) -> list[Any]:
    if hasattr(values, "tolist"):
        return list(values.tolist())
    return list(values)


def _pair(predicted: Any, gold: Any) -> tuple[list[Any], list[Any]]:
    predicted, gold = _as_list(predicted), _as_list(gold)
    if len(predicted) != len(gold):
        raise ValueError(
            f"predictions and gold labels differ in length: {len(predicted)} vs {len(gold)}"
        )
    if not gold:
        raise ValueError("no labels to score (empty input)")
    return predicted, gold


def accuracy(predicted: Any, gold: Any) -> float:
    """Fraction of positions where ``predicted`` equals ``gold``."""
    predicted, gold = _pair(predicted, gold)
    return sum(p == g for p, g in zip(predicted, gold)) / len(gold)


def precision_recall_f1(
    predicted: Any, gold: Any, labels: Sequence[Hashable] | None = None
) -> dict[Hashable, dict[str, float]]:
    """Per-class ``{"precision", "recall", "f1", "support"}`` for ``labels`` (default: those seen)."""
    predicted, gold = _pair(predicted, gold)
    if labels is None:
        labels = sorted(set(gold) | set(predicted), key=lambda x: (str(type(x)), x))
    true_pos: Counter[Hashable] = Counter()
    pred_count = Counter(predicted)
    gold_count = Counter(gold)
    for p, g in zip(predicted, gold):
        if p == g:
            true_pos[g] += 1
    scores: dict[Hashable, dict[str, float]] = {}
    for label in labels:
        tp = true_pos[label]
        precision = tp / pred_count[label] if pred_count[label] else 0.0
        recall = tp / gold_count[label] if gold_count[label] else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": float(gold_count[label]),
        }
    return scores


def macro_f1(predicted: Any, gold: Any, labels: Sequence[Hashable] | None = None) -> float:
    """Unweighted mean of the per-class F1 over ``labels`` (default: every label seen)."""
    scores = precision_recall_f1(predicted, gold, labels)
    return sum(s["f1"] for s in scores.values()) / len(scores)


def confusion_matrix(predicted: Any, gold: Any, num_classes: int | None = None) -> list[list[int]]:
    """``matrix[g][p]``: how many examples of gold class ``g`` were predicted as ``p`` (int ids)."""
    predicted, gold = _pair(predicted, gold)
    ids = [int(x) for x in predicted + gold]
    if min(ids) < 0:
        raise ValueError(f"class ids must be >= 0, got {min(ids)}")
    size = num_classes if num_classes is not None else max(ids) + 1
    if max(ids) >= size:
        raise ValueError(f"class id {max(ids)} is out of range for {size} classes")
    matrix = [[0] * size for _ in range(size)]
    for p, g in zip(predicted, gold):
        matrix[int(g)][int(p)] += 1
    return matrix


def _flatten(sentences: Iterable[Sequence[Any]]) -> list[Any]:
    return [tag for sentence in sentences for tag in _as_list(sentence)]


def _check_sentences(predicted: Sequence[Sequence[Any]], gold: Sequence[Sequence[Any]]) -> None:
    if len(predicted) != len(gold):
        raise ValueError(f"predicted and gold differ in sentences: {len(predicted)} vs {len(gold)}")
    for index, (p, g) in enumerate(zip(predicted, gold)):
        if len(p) != len(g):
            raise ValueError(f"sentence {index}: {len(p)} predicted tags for {len(g)} gold tags")


def token_accuracy(predicted: Sequence[Sequence[Any]], gold: Sequence[Sequence[Any]]) -> float:
    """Fraction of tokens tagged correctly over all sentences."""
    _check_sentences(predicted, gold)
    return accuracy(_flatten(predicted), _flatten(gold))


def per_tag_f1(
    predicted: Sequence[Sequence[Any]],
    gold: Sequence[Sequence[Any]],
    tags: Sequence[Hashable] | None = None,
) -> dict[Hashable, dict[str, float]]:
    """Per-tag precision, recall, F1 and support over all tokens (see :func:`precision_recall_f1`)."""
    _check_sentences(predicted, gold)
    return precision_recall_f1(_flatten(predicted), _flatten(gold), tags)


# --------------------------------------------------------------------------- baselines
def majority_class(train_labels: Any) -> Hashable:
    """The most frequent training label (ties: the one seen first)."""
    labels = _as_list(train_labels)
    if not labels:
        raise ValueError("no training labels")
    return Counter(labels).most_common(1)[0][0]


class MostFrequentTag:
    """Tag each word with its most frequent training tag; unknown words get the overall most frequent.

    Ties are broken by the tag seen first (deterministic). ``lower=True`` matches words
    case-insensitively.
    """

    def __init__(self, lower: bool = False) -> None:
        self.lower = lower
        self.word_tag: dict[str, Hashable] = {}
        self.default: Hashable | None = None

    def _key(self, word: str) -> str:
        return word.lower() if self.lower else word

    def fit(
        self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[Hashable]]
    ) -> MostFrequentTag:
        _check_sentences(sentences, tags)
        counts: dict[str, Counter[Hashable]] = defaultdict(Counter)
        overall: Counter[Hashable] = Counter()
        for words, labels in zip(sentences, tags):
            for word, tag in zip(words, labels):
                counts[self._key(word)][tag] += 1
                overall[tag] += 1
        if not overall:
            raise ValueError("no tagged training tokens")
        self.word_tag = {word: c.most_common(1)[0][0] for word, c in counts.items()}
        self.default = overall.most_common(1)[0][0]
        return self

    def predict(self, sentences: Sequence[Sequence[str]]) -> list[list[Hashable]]:
        if self.default is None:
            raise RuntimeError("MostFrequentTag.predict called before fit")
        return [
            [self.word_tag.get(self._key(w), self.default) for w in words] for words in sentences
        ]
