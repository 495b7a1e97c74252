"""The interpolated Kneser-Ney baseline: normalised, equal to a hand computation, errors."""

import math
import random

import pytest

from rnnkit.metrics import KneserNey

TWO = [["a", "b"], ["a", "c"]]


def _random_corpus(seed=0, sentences=40, words="abcdef"):
    rng = random.Random(seed)
    return [[rng.choice(words) for _ in range(rng.randint(0, 7))] for _ in range(sentences)]


@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_every_context_sums_to_one_over_the_vocabulary(order, modified):
    corpus = _random_corpus()
    model = KneserNey.fit(corpus, order=order, modified=modified)
    distinct = max(len(set(discounts)) for discounts in model.discounts)
    assert distinct == (3 if modified and order > 1 else 1)  # order 1: no counts of 1 to 4
    assert set(model.vocabulary) == set("abcdef") | {"</s>", "<unk>"}
    contexts = [[], ["z"], ["a", "a", "a", "a"], ["f", "<unk>", "b"]]
    contexts += [sentence[:i] for sentence in corpus[:10] for i in range(len(sentence) + 1)]
    for context in contexts:
        total = sum(math.exp(model.logprob(context, w)) for w in model.vocabulary)
        assert total == pytest.approx(1.0, abs=1e-9), context


def test_bigram_matches_a_hand_computation():
    model = KneserNey.fit(TWO, order=2, modified=False)
    # bigrams: (<s> a) 2, (a b) 1, (a c) 1, (b </s>) 1, (c </s>) 1 -> n1 = 4, n2 = 1
    # unigram continuation counts: a 1 (<s>), b 1, c 1, </s> 2 (b, c) -> n1 = 3, n2 = 1
    d1, d2 = 3 / 5, 4 / 6
    assert [d[0] for d in model.discounts] == pytest.approx([d1, d2])
    vocabulary = 5  # a b c </s> <unk>

    def p1(count):
        return max(count - d1, 0) / 5 + d1 * 4 / 5 / vocabulary

    expected = {
        ((), "a"): (2 - d2 + d2 * 1 * p1(1)) / 2,  # context <s>: c = 2, one type
        (("a",), "b"): (1 - d2 + d2 * 2 * p1(1)) / 2,  # context a: c = 2, two types
        (("a", "b"), "</s>"): (1 - d2 + d2 * 1 * p1(2)) / 1,
        (("a",), "<unk>"): d2 * 2 * p1(0) / 2,
        (("a",), "a"): d2 * 2 * p1(1) / 2,
        (("zzz",), "b"): p1(1),  # context <unk> never seen: the unigram alone
    }
    for (context, token), probability in expected.items():
        assert model.logprob(list(context), token) == pytest.approx(math.log(probability))
    p_end = (1 - d2 + d2 * 1 * p1(2)) / 1
    nll, tokens = model.score([["a", "b"]])
    assert tokens == 3
    assert nll == pytest.approx(-math.log(expected[(), "a"] * expected[("a",), "b"] * p_end))


def test_modified_discounts_follow_the_count_of_counts():
    corpus = [["a"], ["b"], ["c"], ["d", "d"], ["e", "e"], ["f"] * 3, ["g"] * 4]
    model = KneserNey.fit(corpus, order=1)
    # counts: a b c 1, d e 2, f 3, g 4, </s> 7 -> n1 = 3, n2 = 2, n3 = 1, n4 = 1, y = 3/7
    d1, d2, d3 = 1 - 2 * (3 / 7) * (2 / 3), 2 - 3 * (3 / 7) * (1 / 2), 3 - 4 * (3 / 7) * (1 / 1)
    assert model.discounts == [pytest.approx((3 / 7, 19 / 14, 9 / 7))]
    total, mass, size = 21, 3 * d1 + 2 * d2 + 3 * d3, 9  # size: a..g </s> <unk>
    assert model.logprob([], "a") == pytest.approx(math.log((1 - d1 + mass / size) / total))
    assert model.logprob([], "d") == pytest.approx(math.log((2 - d2 + mass / size) / total))
    assert model.logprob([], "</s>") == pytest.approx(math.log((7 - d3 + mass / size) / total))
    assert model.logprob([], "zz") == pytest.approx(math.log(mass / size / total))


def test_order_one_is_the_smoothed_unigram():
    corpus = _random_corpus(seed=3)
    model = KneserNey.fit(corpus, order=1, discount=0.3)
    counts = {}
    for sentence in corpus:
        for token in [*sentence, "</s>"]:
            counts[token] = counts.get(token, 0) + 1
    total, size = sum(counts.values()), len(model.vocabulary)
    for token in model.vocabulary:
        expected = max(counts.get(token, 0) - 0.3, 0) / total + 0.3 * len(counts) / total / size
        assert model.logprob(["a", "b"], token) == pytest.approx(math.log(expected))


def test_unknown_tokens_get_the_probability_of_unk():
    model = KneserNey.fit(_random_corpus(), order=3)
    assert model.logprob(["a"], "never-seen") == model.logprob(["a"], "<unk>")
    assert model.logprob(["q", "r"], "b") == model.logprob(["<unk>", "<unk>"], "b")
    assert model.score([["x", "a"]]) == model.score([["<unk>", "a"]])


def test_more_data_of_a_repeated_pattern_lowers_perplexity():
    noise = _random_corpus(seed=5, sentences=10)
    pattern = list("abcd")
    perplexities = [
        KneserNey.fit(noise + [pattern] * k, order=3).perplexity([pattern] * 3) for k in (1, 5, 50)
    ]
    assert perplexities[0] > perplexities[1] > perplexities[2]
    assert perplexities[2] < 1.2


def test_integer_tokens_and_the_repr():
    model = KneserNey.fit([[1, 2, 3], [1, 2]], order=2, discount=[0.5, 0.5])
    assert math.exp(model.logprob([1], 2)) > math.exp(model.logprob([1], 3))
    assert repr(model).startswith("KneserNey(order=2, vocabulary=5,")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"order": 0}, "expected an order >= 1, got 0"),
        ({"order": 2.0}, "expected an order >= 1, got 2.0"),
        ({"discount": 1.0}, r"expected a discount in \(0, 1\), got 1.0"),
        ({"discount": 0}, r"expected a discount in \(0, 1\), got 0"),
        ({"order": 2, "discount": [0.5]}, r"expected one discount or 2 \(one per order\), got 1"),
    ],
)
def test_bad_options_raise(kwargs, message):
    with pytest.raises(ValueError, match=f"^{message}$"):
        KneserNey.fit(TWO, **kwargs)


def test_bad_data_raises():
    with pytest.raises(ValueError, match="^expected at least one training sequence, got none$"):
        KneserNey.fit([])
    with pytest.raises(TypeError, match="expected each sequence to be a list of tokens, got the"):
        KneserNey.fit(["a b c"])
    with pytest.raises(ValueError, match="inside a training sequence .* got one in sequence 1$"):
        KneserNey.fit([["a"], ["b", "</s>", "c"]])
    model = KneserNey.fit(TWO)
    with pytest.raises(ValueError, match="^expected at least one sequence to score, got none$"):
        model.perplexity([])
    with pytest.raises(ValueError, match="^expected a token to predict, got the start symbol"):
        model.logprob([], "<s>")
