"""BagClassifier (the bag-of-n-grams baseline): n-gram features, padding, learning, config."""

from __future__ import annotations

import random

import pytest
import torch

from rnnkit.models.bag import (
    PRIME,
    BagClassifier,
    BagClassifierConfig,
    buckets_for,
    fit_bag,
    ngram_ids,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def test_ngram_ids_are_the_unigrams_and_hashed_bigrams_each_once():
    x = torch.tensor([[5, 6, 5, 6, 0]])  # "a b a b" and one padding step
    ids, valid = ngram_ids(x, torch.tensor([4]), vocab_size=10, buckets=16)
    kept = sorted(ids[valid].tolist())
    ab, ba = 10 + (5 * PRIME + 6) % 16, 10 + (6 * PRIME + 5) % 16
    assert kept == sorted({5, 6, ab, ba})  # a, b, "a b" (twice in the text) and "b a"


def test_buckets_grow_with_the_data_up_to_a_cap():
    assert [buckets_for(n) for n in (1, 16, 17, 1000, 10**7)] == [16, 16, 32, 1024, 1 << 18]


def test_alone_equals_inside_padded_batch():
    torch.manual_seed(0)
    model = BagClassifier(BagClassifierConfig(3, vocab_size=30, buckets=64))
    torch.nn.init.normal_(model.weight.weight)
    lengths = torch.tensor([9, 4, 1, 6])
    x = torch.randint(2, 30, (4, 9))
    for n, length in enumerate(lengths.tolist()):
        x[n, length:] = 0
    batch = model(x, lengths)
    y = x.clone()
    y[1, 4:] = 7  # what the padding holds does not matter
    torch.testing.assert_close(model(y, lengths), batch, atol=1e-6, rtol=0)
    for n, length in enumerate(lengths.tolist()):
        alone = model(x[n : n + 1, :length])
        torch.testing.assert_close(alone[0], batch[n], atol=1e-6, rtol=0)


def test_learns_a_separable_toy_set():
    """Label 1 when the text holds the bigram "not bad" or the word "good": the bigram is the
    point (both classes hold "not" and "bad" alone)."""
    rng = random.Random(0)
    filler = list(range(10, 40))
    ids, labels = [], []
    for _ in range(400):
        words = rng.choices(filler, k=rng.randint(3, 12))
        kind = rng.randrange(4)
        if kind == 0:
            words.insert(rng.randrange(len(words)), 4)  # "good"
        elif kind == 1:
            words[rng.randrange(len(words)) : 0] = [2, 3]  # "not bad"
        elif kind == 2:
            words[rng.randrange(len(words)) : 0] = [3, 2]  # "bad not"
        else:
            words[rng.randrange(len(words)) : 0] = [2, 5, 3]  # "not ... bad"
        ids.append(words)
        labels.append(int(kind < 2))
    config = BagClassifierConfig(2, vocab_size=40, buckets=buckets_for(4000))
    model = fit_bag(config, ids[:300], labels[:300], epochs=20, lr=0.1)
    with torch.no_grad():
        for start in (0, 300):  # training and held-out examples
            part = range(start, start + 100)
            hits = sum(
                int(model(torch.tensor([ids[i]])).argmax().item() == labels[i]) for i in part
            )
            assert hits >= 95


def test_fitting_leaves_the_global_random_state_and_threads_alone():
    torch.manual_seed(3)
    expected = torch.rand(3)
    threads = torch.get_num_threads()
    torch.manual_seed(3)
    fit_bag(BagClassifierConfig(2, vocab_size=8, buckets=16), [[2, 3], [4, 5]], [0, 1], epochs=2)
    torch.testing.assert_close(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_config_round_trip_and_checks():
    model = BagClassifier(BagClassifierConfig(4, vocab_size=12, buckets=32))
    again = BagClassifier.from_config_dict(model.to_config_dict())
    assert again.config == model.config and again.weight.weight.shape == (44, 4)
    with pytest.raises(ValueError, match="num_classes must be >= 2, got 1"):
        BagClassifierConfig(1, vocab_size=3)
    with pytest.raises(ValueError, match="expected token ids of shape"):
        model(torch.randn(2, 3))


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
def test_a_hybrid_classifier_starts_as_its_bag_and_ignores_padding(pooling):
    from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig

    torch.manual_seed(1)
    config = SequenceClassifierConfig(
        num_classes=3, vocab_size=30, embedding_dim=8, hidden_size=6, pooling=pooling,
        bidirectional=True, bag_buckets=64,
    )  # fmt: skip
    model = SequenceClassifier(config).eval()
    torch.nn.init.normal_(model.bag.weight.weight)
    assert not any(p.requires_grad for p in model.bag.parameters())  # the bag stays fixed
    lengths = torch.tensor([7, 3, 1])
    x = torch.randint(2, 30, (3, 7))
    for n, length in enumerate(lengths.tolist()):
        x[n, length:] = 0
    torch.testing.assert_close(model(x, lengths), model.bag(x, lengths))  # the head starts at 0
    torch.nn.init.normal_(model.head.weight)
    batch = model(x, lengths)
    for n, length in enumerate(lengths.tolist()):
        alone = model(x[n : n + 1, :length])
        torch.testing.assert_close(alone[0], batch[n], atol=1e-6, rtol=0)
