r"""An interpolated Kneser-Ney n-gram language model: the classic baseline of word-level LMs.

:class:`KneserNey` counts the n-grams of tokenised sentences in Python dicts and scores new ones;
it needs no torch and fits the Penn Treebank (~930k tokens, order 5) in seconds.

Each sentence ``w_1 .. w_T`` is padded as ``<s>^(n-1) w_1 .. w_T </s>``: the ``n-1`` start
symbols are context only, and the ``T + 1`` tokens ``w_1 .. w_T </s>`` are predicted (the
end-of-sentence token per line of the usual PTB evaluation).

The model (Chen & Goodman 1998, "interpolated Kneser-Ney" with one discount per order):

.. math::

    P_k(w \mid h) = \frac{\max(c_k(hw) - D_k, 0)}{c_k(h\cdot)}
                    + \frac{D_k \, N_{1+}(h\cdot)}{c_k(h\cdot)} \, P_{k-1}(w \mid h')
    \qquad P_0(w) = \frac{1}{|V|}

for ``k = 1 .. n``, with ``P_k(w | h) = P_{k-1}(w | h')`` when the context ``h`` was never seen.
The counts ``c_k`` are the raw counts at the highest order ``n`` and for the n-grams that begin
with ``<s>`` (nothing can precede them), and the continuation counts at every lower order:

.. math::

    c_k(g) = N_{1+}(\cdot\, g) = |\{x : c_{k+1}(x g) > 0\}| \qquad (k < n)

so a word that follows many different contexts (not one frequent one) gets the large lower-order
probability. The discount of order ``k`` is estimated from its count-of-counts,

.. math::

    D_k = \frac{n_1}{n_1 + 2 n_2}

clipped to ``[0.01, 0.99]`` (a tiny corpus can lack counts of 1 or of 2; with neither, the
estimate is taken as 0, the limit of many counts), unless given.

Legend: ``n`` the order; ``h`` the last ``k-1`` tokens before ``w`` and ``h'`` that context
without its first token; ``c_k(hw)`` the (raw or continuation) count of the k-gram ``hw``;
``c_k(h.) = sum_w c_k(hw)``; ``N_{1+}(h.)`` the number of distinct words with ``c_k(hw) > 0``;
``n_1, n_2`` the numbers of k-grams with a count of exactly 1 and 2; ``V`` the vocabulary: the
training tokens, ``</s>`` and ``<unk>`` (``<s>`` is never predicted).

Unknown tokens: any token absent from the training data, in a context or as the predicted
token, is read as ``<unk>``. ``<unk>`` is always in the vocabulary; when the training data holds
it (PTB's files do) it has counts like any word, otherwise its probability is the mass that the
discounts pass down to the uniform distribution, ``prod_k (D_k N_{1+}(h.) / c_k(h.)) / |V|``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable, Sequence

__all__ = ["KneserNey"]

BOS = "<s>"
EOS = "</s>"
UNK = "<unk>"
DISCOUNT_RANGE = (0.01, 0.99)


def _padded(sentence: Sequence[Hashable], order: int) -> list[Hashable]:
    return [BOS] * (order - 1) + list(sentence) + [EOS]


def _top_counts(sequences: Iterable[Sequence[Hashable]], order: int) -> Counter:
    """Raw counts of the highest-order n-grams, one per predicted token."""
    counts: Counter = Counter()
    for index, sentence in enumerate(sequences):
        if isinstance(sentence, (str, bytes)):
            raise TypeError(
                f"expected each sequence to be a list of tokens, got the string {sentence[:40]!r}"
            )
        tokens = _padded(sentence, order)
        if BOS in tokens[order - 1 :] or EOS in tokens[order - 1 : -1]:
            raise ValueError(
                f"expected no {BOS!r} or {EOS!r} inside a training sequence (they are added), "
                f"got one in sequence {index}"
            )
        counts.update(zip(*(tokens[i:] for i in range(order))))
    if not counts:
        raise ValueError("expected at least one training sequence, got none")
    return counts


def _lower_counts(upper: dict[tuple, int]) -> dict[tuple, int]:
    """The counts of order ``k`` from those of order ``k + 1``: raw counts for the k-grams that
    begin with ``<s>`` (summed over their only left extension, ``<s>``), continuation counts
    (the number of distinct left extensions) for the others."""
    lower: dict[tuple, int] = {}
    get = lower.get
    for gram, count in upper.items():
        suffix = gram[1:]
        lower[suffix] = get(suffix, 0) + (count if suffix[0] == BOS else 1)
    return lower


def _contexts(counts: dict[tuple, int]) -> dict[tuple, tuple[int, int]]:
    """``{h: (c(h.), N1+(h.))}`` for the n-grams ``hw`` of one order."""
    totals: dict[tuple, int] = {}
    types: dict[tuple, int] = {}
    for gram, count in counts.items():
        context = gram[:-1]
        totals[context] = totals.get(context, 0) + count
        types[context] = types.get(context, 0) + 1
    return {context: (total, types[context]) for context, total in totals.items()}


def _estimated_discount(counts: dict[tuple, int]) -> float:
    """``n1 / (n1 + 2 n2)`` from the count-of-counts, clipped to :data:`DISCOUNT_RANGE` (its low
    end when there is no count of 1 or 2)."""
    ones = twos = 0
    for count in counts.values():
        if count == 1:
            ones += 1
        elif count == 2:
            twos += 1
    estimate = ones / (ones + 2 * twos) if ones + twos else 0.0
    return min(max(estimate, DISCOUNT_RANGE[0]), DISCOUNT_RANGE[1])


def _checked_discounts(discount: float | Sequence[float] | None, order: int) -> list | None:
    if discount is None:
        return None
    values = [discount] * order if isinstance(discount, (int, float)) else list(discount)
    if len(values) != order:
        raise ValueError(f"expected one discount or {order} (one per order), got {len(values)}")
    for value in values:
        if not 0.0 < value < 1.0:
            raise ValueError(f"expected a discount in (0, 1), got {value!r}")
    return [float(value) for value in values]


class KneserNey:
    """An interpolated Kneser-Ney language model over tokens (words or ids); see the module.

    Build one with :meth:`fit`; score with :meth:`logprob` (one token), :meth:`score` (total
    negative log-likelihood in nats and the number of predicted tokens) or :meth:`perplexity`.

    Example::

        >>> lm = KneserNey.fit([line.split() for line in open("ptb.train.txt")], order=5)
        >>> lm.perplexity([line.split() for line in open("ptb.test.txt")])  # ~ 149
    """

    def __init__(
        self,
        counts: list[dict[tuple, int]],
        discounts: Sequence[float],
        vocabulary: Sequence[Hashable],
    ) -> None:
        # counts[k - 1] holds the (raw or continuation) counts of the k-grams, k = 1 .. order
        self.order = len(counts)
        self.discounts = list(discounts)
        self.vocabulary = list(vocabulary)
        self._known = frozenset(self.vocabulary) | {BOS}
        self._counts = counts
        self._contexts = [_contexts(level) for level in counts]

    @classmethod
    def fit(
        cls,
        sequences: Iterable[Sequence[Hashable]],
        order: int = 5,
        discount: float | Sequence[float] | None = None,
    ) -> KneserNey:
        """Count the n-grams of ``sequences`` (lists of tokens, e.g. ``line.split()``).

        Args:
            sequences: the training sentences, without ``<s>``/``</s>`` (they are added).
            order: ``n``, the longest n-gram (1 is the smoothed unigram model).
            discount: ``D`` for every order, or one per order (lowest first), each in (0, 1);
                ``None`` estimates ``D_k = n1 / (n1 + 2 n2)`` from the counts of order ``k``.
        """
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"expected an order >= 1, got {order!r}")
        given = _checked_discounts(discount, order)
        counts = [_top_counts(sequences, order)]
        for _ in range(order - 1):
            counts.insert(0, _lower_counts(counts[0]))
        discounts = given or [_estimated_discount(level) for level in counts]
        vocabulary = [gram[0] for gram in counts[0] if gram[0] != UNK]
        return cls(counts, discounts, [*vocabulary, UNK])

    def _ids(self, tokens: Iterable[Hashable]) -> list[Hashable]:
        known = self._known
        return [token if token in known else UNK for token in tokens]

    def _probability(self, history: Sequence[Hashable], token: Hashable) -> float:
        """``P_n(token | history)`` by the recursion, lowest order first; ``history`` holds the
        last ``order - 1`` tokens, already mapped to the vocabulary."""
        probability = 1.0 / len(self.vocabulary)
        for k in range(1, self.order + 1):
            context = tuple(history[len(history) - k + 1 :])
            seen = self._contexts[k - 1].get(context)
            if seen is None:
                continue  # an unseen context passes the lower order through unchanged
            total, types = seen
            discount = self.discounts[k - 1]
            count = self._counts[k - 1].get((*context, token), 0)
            probability = (max(count - discount, 0.0) + discount * types * probability) / total
        return probability

    def logprob(self, context: Sequence[Hashable], token: Hashable) -> float:
        """``log P(token | context)`` in nats. ``context`` is the sentence so far (the start
        padding is added; only its last ``order - 1`` tokens matter); pass ``"</s>"`` as
        ``token`` for the end of the sentence. Unknown tokens are read as ``<unk>``."""
        if token == BOS:
            raise ValueError(f"expected a token to predict, got the start symbol {BOS!r}")
        padded = [BOS] * (self.order - 1) + list(context)
        history = self._ids(padded[len(padded) - self.order + 1 :])
        return math.log(self._probability(history, self._ids([token])[0]))

    def score(self, sequences: Iterable[Sequence[Hashable]]) -> tuple[float, int]:
        """``(total negative log-likelihood in nats, number of predicted tokens)`` of the
        sentences, each predicting its tokens and ``</s>``."""
        total, predicted = 0.0, 0
        width = self.order - 1
        for sentence in sequences:
            tokens = self._ids(_padded(sentence, self.order))
            for i in range(width, len(tokens)):
                total -= math.log(self._probability(tokens[i - width : i], tokens[i]))
            predicted += len(tokens) - width
        return total, predicted

    def perplexity(self, sequences: Iterable[Sequence[Hashable]]) -> float:
        """``exp(NLL / tokens)`` over the sentences (``</s>`` counted as a token)."""
        total, predicted = self.score(sequences)
        if predicted == 0:
            raise ValueError("expected at least one sequence to score, got none")
        return math.exp(total / predicted)

    def __repr__(self) -> str:
        discounts = ", ".join(f"{d:.3f}" for d in self.discounts)
        return (
            f"KneserNey(order={self.order}, vocabulary={len(self.vocabulary)}, "
            f"ngrams={sum(len(level) for level in self._counts)}, discounts=[{discounts}])"
        )
