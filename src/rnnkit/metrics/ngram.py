r"""An interpolated Kneser-Ney n-gram language model: the classic baseline of word-level LMs.

:class:`KneserNey` counts the n-grams of tokenised sentences in Python dicts and scores new ones;
it needs no torch and fits the Penn Treebank (~930k tokens, order 5) in seconds.

Each sentence ``w_1 .. w_T`` is padded as ``<s>^(n-1) w_1 .. w_T </s>``: the ``n-1`` start
symbols are context only, and the ``T + 1`` tokens ``w_1 .. w_T </s>`` are predicted (the
end-of-sentence token per line of the usual PTB evaluation).

The model (Chen & Goodman 1998, "modified interpolated Kneser-Ney"):

.. math::

    P_k(w \mid h) = \frac{\max(c_k(hw) - D_k(c_k(hw)), 0)}{c_k(h\cdot)}
                    + \gamma_k(h) \, P_{k-1}(w \mid h')
    \qquad P_0(w) = \frac{1}{|V|}

    \gamma_k(h) = \frac{D_{k,1} N_1(h\cdot) + D_{k,2} N_2(h\cdot) + D_{k,3+} N_{3+}(h\cdot)}
                       {c_k(h\cdot)}

for ``k = 1 .. n``, with ``P_k(w | h) = P_{k-1}(w | h')`` when the context ``h`` was never seen.
The counts ``c_k`` are the raw counts at the highest order ``n`` and for the n-grams that begin
with ``<s>`` (nothing can precede them), and the continuation counts at every lower order:

.. math::

    c_k(g) = N_{1+}(\cdot\, g) = |\{x : c_{k+1}(x g) > 0\}| \qquad (k < n)

so a word that follows many different contexts (not one frequent one) gets the large lower-order
probability. The discount ``D_k(c)`` of order ``k`` depends on the count: ``D_{k,1}`` for a count
of 1, ``D_{k,2}`` for 2, ``D_{k,3+}`` for more, estimated from the count-of-counts of order ``k``:

.. math::

    Y = \frac{n_1}{n_1 + 2 n_2} \quad D_{k,1} = 1 - 2Y\frac{n_2}{n_1} \quad
    D_{k,2} = 2 - 3Y\frac{n_3}{n_2} \quad D_{k,3+} = 3 - 4Y\frac{n_4}{n_3}

each clipped to ``[0.01, m - 0.01]`` for the count ``m`` it applies to (1, 2, 3). With
``modified=False`` (or a discount given), one discount ``D_k = Y`` serves every count: the
original interpolated Kneser-Ney, whose ``Y`` is clipped to ``[0.01, 0.99]`` (a tiny corpus can lack
counts of 1 or of 2; with neither, the estimate is taken as 0, the limit of many counts).
On the Penn Treebank the modified discounts lower the 5-gram's test perplexity from 148.8 to
about 142 (see ``benchmarks/ngram.py``).

Legend: ``n`` the order; ``h`` the last ``k-1`` tokens before ``w`` and ``h'`` that context
without its first token; ``c_k(hw)`` the (raw or continuation) count of the k-gram ``hw``;
``c_k(h.) = sum_w c_k(hw)``; ``N_{1+}(h.)`` the number of distinct words with ``c_k(hw) > 0``;
``N_m(h.)`` the number of words with ``c_k(hw) = m`` (``N_{3+}``: at least 3); ``n_m`` the
number of k-grams with a count of exactly ``m``; ``V`` the vocabulary: the
training tokens, ``</s>`` and ``<unk>`` (``<s>`` is never predicted).

Unknown tokens: any token absent from the training data, in a context or as the predicted
token, is read as ``<unk>``. ``<unk>`` is always in the vocabulary; when the training data holds
it (PTB's files do) it has counts like any word, otherwise its probability is the mass that the
discounts pass down to the uniform distribution, ``prod_k gamma_k(h) / |V|``.
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


Discounts = tuple[float, float, float]  # for a count of 1, of 2, of 3 or more


def _contexts(counts: dict[tuple, int], discounts: Discounts) -> dict[tuple, tuple[int, float]]:
    """``{h: (c(h.), D1 N1(h.) + D2 N2(h.) + D3 N3+(h.))}`` for the n-grams ``hw`` of one order:
    each context's total count and the mass its discounts pass to the lower order."""
    totals: dict[tuple, int] = {}
    mass: dict[tuple, float] = {}
    for gram, count in counts.items():
        context = gram[:-1]
        totals[context] = totals.get(context, 0) + count
        mass[context] = mass.get(context, 0.0) + discounts[min(count, 3) - 1]
    return {context: (total, mass[context]) for context, total in totals.items()}


def _estimated_discounts(counts: dict[tuple, int], modified: bool) -> Discounts:
    """The discounts of one order from its count-of-counts ``n_1 .. n_4`` (see the module)."""
    n = Counter(count for count in counts.values() if count <= 4)
    low, high = DISCOUNT_RANGE
    y = n[1] / (n[1] + 2 * n[2]) if n[1] + n[2] else 0.0
    if not modified or not (n[1] and n[2] and n[3] and n[4]):
        plain = min(max(y, low), high)
        return (plain, plain, plain)
    estimates = [m - (m + 1) * y * n[m + 1] / n[m] for m in (1, 2, 3)]
    d1, d2, d3 = (min(max(d, low), m - low) for m, d in zip((1, 2, 3), estimates))
    return (d1, d2, d3)


def _checked_discounts(
    discount: float | Sequence[float] | None, order: int
) -> list[Discounts] | None:
    if discount is None:
        return None
    values = [discount] * order if isinstance(discount, (int, float)) else list(discount)
    if len(values) != order:
        raise ValueError(f"expected one discount or {order} (one per order), got {len(values)}")
    for value in values:
        if not 0.0 < value < 1.0:
            raise ValueError(f"expected a discount in (0, 1), got {value!r}")
    return [(float(value),) * 3 for value in values]


class KneserNey:
    """An interpolated Kneser-Ney language model over tokens (words or ids); see the module.

    Build one with :meth:`fit`; score with :meth:`logprob` (one token), :meth:`score` (total
    negative log-likelihood in nats and the number of predicted tokens) or :meth:`perplexity`.

    Example::

        >>> lm = KneserNey.fit([line.split() for line in open("ptb.train.txt")], order=5)
        >>> lm.perplexity([line.split() for line in open("ptb.test.txt")])  # ~ 145.5
    """

    def __init__(
        self,
        counts: list[dict[tuple, int]],
        discounts: Sequence[Discounts],
        vocabulary: Sequence[Hashable],
    ) -> None:
        # counts[k - 1] holds the (raw or continuation) counts of the k-grams, k = 1 .. order
        self.order = len(counts)
        self.discounts = [tuple(d) for d in discounts]
        self.vocabulary = list(vocabulary)
        self._known = frozenset(self.vocabulary) | {BOS}
        self._counts = counts
        self._contexts = [_contexts(level, d) for level, d in zip(counts, self.discounts)]

    @classmethod
    def fit(
        cls,
        sequences: Iterable[Sequence[Hashable]],
        order: int = 5,
        discount: float | Sequence[float] | None = None,
        *,
        modified: bool = True,
    ) -> KneserNey:
        """Count the n-grams of ``sequences`` (lists of tokens, e.g. ``line.split()``).

        Args:
            sequences: the training sentences, without ``<s>``/``</s>`` (they are added).
            order: ``n``, the longest n-gram (1 is the smoothed unigram model).
            discount: ``D`` for every order, or one per order (lowest first), each in (0, 1);
                ``None`` estimates them from the counts of order ``k``.
            modified: estimate three discounts per order (for counts 1, 2 and 3+: modified
                Kneser-Ney, the stronger baseline) rather than one; ignored with ``discount``.
        """
        if isinstance(order, bool) or not isinstance(order, int) or order < 1:
            raise ValueError(f"expected an order >= 1, got {order!r}")
        given = _checked_discounts(discount, order)
        counts = [_top_counts(sequences, order)]
        for _ in range(order - 1):
            counts.insert(0, _lower_counts(counts[0]))
        discounts = given or [_estimated_discounts(level, modified) for level in counts]
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
            total, mass = seen
            count = self._counts[k - 1].get((*context, token), 0)
            kept = count - self.discounts[k - 1][min(count, 3) - 1] if count else 0.0
            probability = (kept + mass * probability) / total
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
        discounts = ", ".join("/".join(f"{d:.3f}" for d in ds) for ds in self.discounts)
        return (
            f"KneserNey(order={self.order}, vocabulary={len(self.vocabulary)}, "
            f"ngrams={sum(len(level) for level in self._counts)}, discounts=[{discounts}])"
        )
