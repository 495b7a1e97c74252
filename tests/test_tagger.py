"""CRF (brute-force parity of log Z and Viterbi, padding) and SequenceTagger."""

from __future__ import annotations

import itertools
from dataclasses import asdict

import pytest
import torch

from rnnkit.config import ConfigError
from rnnkit.models.crf import CRF
from rnnkit.models.tagger import SequenceTagger, SequenceTaggerConfig
from rnnkit.models.tagger_features import CASING_CLASSES, shape_ids, word_shape

pytestmark = pytest.mark.usefixtures("one_thread")


def _brute_force(crf: CRF, emissions: torch.Tensor, length: int):
    """All T^n paths of one sequence: (log Z, best path, best score)."""
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        tags = torch.tensor([list(path)])
        scores[path] = crf.score(emissions[None, :length], tags).item()
    values = torch.tensor(list(scores.values()), dtype=torch.float64)
    best = max(scores, key=scores.get)
    return torch.logsumexp(values, dim=0).item(), list(best), scores[best]


def _random_crf(num_tags: int, seed: int) -> CRF:
    torch.manual_seed(seed)
    crf = CRF(num_tags).double()
    with torch.no_grad():  # larger scores than the init, so paths really differ
        for parameter in crf.parameters():
            parameter.normal_(0, 1.0)
    return crf


@pytest.mark.parametrize("num_tags, length", [(2, 1), (3, 4), (4, 3), (3, 5)])
def test_log_partition_and_viterbi_equal_brute_force(num_tags, length):
    crf = _random_crf(num_tags, seed=num_tags * 10 + length)
    emissions = torch.randn(1, length, num_tags, dtype=torch.float64)
    log_z, best, best_score = _brute_force(crf, emissions[0], length)
    assert crf.log_partition(emissions).item() == pytest.approx(log_z, abs=1e-9)
    decoded = crf.decode(emissions)
    assert decoded[0].tolist() == best
    assert crf.score(emissions, decoded).item() == pytest.approx(best_score, abs=1e-9)


def test_padded_batch_equals_each_sequence_alone():
    crf = _random_crf(3, seed=7)
    lengths = [5, 2, 1, 4]
    emissions = torch.randn(4, 5, 3, dtype=torch.float64)
    mask = torch.arange(5)[None, :] < torch.tensor(lengths)[:, None]
    tags = torch.randint(0, 3, (4, 5))
    batch_z = crf.log_partition(emissions, mask)
    batch_ll = crf.log_likelihood(emissions, tags, mask)
    batch_paths = crf.decode(emissions, mask)
    for n, length in enumerate(lengths):
        log_z, best, _ = _brute_force(crf, emissions[n], length)
        assert batch_z[n].item() == pytest.approx(log_z, abs=1e-9)
        assert batch_paths[n, :length].tolist() == best
        assert batch_paths[n, length:].tolist() == [0] * (5 - length)
        alone = crf.log_likelihood(emissions[n : n + 1, :length], tags[n : n + 1, :length])
        assert batch_ll[n].item() == pytest.approx(alone.item(), abs=1e-9)
    assert bool((batch_ll <= 0).all())


def test_probabilities_of_all_paths_sum_to_one():
    crf = _random_crf(3, seed=3)
    emissions = torch.randn(1, 3, 3, dtype=torch.float64)
    paths = torch.tensor(list(itertools.product(range(3), repeat=3)))  # (27, 3)
    ll = crf.log_likelihood(emissions.expand(27, -1, -1), paths)
    assert torch.exp(ll).sum().item() == pytest.approx(1.0, abs=1e-9)


def test_crf_rejects_bad_shapes():
    crf = CRF(3)
    with pytest.raises(ValueError, match=r"expected emissions of shape \(N, L, 3\), got \(2, 4\)"):
        crf.decode(torch.randn(2, 4))
    with pytest.raises(ValueError, match="mask\\[:, 0\\] all True"):
        crf.decode(torch.randn(1, 2, 3), torch.tensor([[False, True]]))


def _tagger(**kwargs) -> SequenceTagger:
    config = SequenceTaggerConfig(
        vocab_size=20, num_tags=4, embedding_dim=8, hidden_size=6, **kwargs
    )
    return SequenceTagger(config)


@pytest.mark.parametrize("use_crf", [False, True])
def test_tagger_padded_batch_equals_alone(use_crf):
    torch.manual_seed(0)
    model = _tagger(use_crf=use_crf, char_vocab_size=10, num_layers=2, dropout=0.2).eval()
    assert model.config.bidirectional is True  # the default
    words = torch.randint(2, 20, (3, 6))
    chars = torch.randint(1, 10, (3, 6, 4))
    lengths = torch.tensor([6, 3, 1])
    for n, length in enumerate(lengths.tolist()):
        words[n, length:] = 0
        chars[n, length:] = 0
    emissions = model(words, lengths, chars)
    decoded = model.decode(words, lengths, chars)
    assert [len(row) for row in decoded] == [6, 3, 1]
    for n, length in enumerate(lengths.tolist()):
        alone = model(words[n : n + 1, :length], None, chars[n : n + 1, :length])
        torch.testing.assert_close(alone[0], emissions[n, :length], atol=1e-5, rtol=1e-5)
        assert (
            model.decode(words[n : n + 1, :length], None, chars[n : n + 1, :length])[0]
            == decoded[n]
        )


@pytest.mark.parametrize("use_crf", [False, True])
def test_tagger_learns_a_tiny_tagging_task(use_crf):
    # tag = word id mod 4, except that word 2 takes the tag of the previous word (needs context)
    torch.manual_seed(0)
    model = _tagger(use_crf=use_crf)
    words = torch.randint(3, 20, (32, 7))
    tags = words % 4
    words[:, 3] = 2
    tags[:, 3] = tags[:, 2]
    lengths = torch.full((32,), 7)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(80):
        optimizer.zero_grad()
        emissions = model(words, lengths)
        loss = model.loss(emissions, tags, model.mask(words, lengths))
        loss.backward()
        optimizer.step()
    predicted = torch.tensor(model.decode(words, lengths))
    assert (predicted == tags).float().mean().item() >= 0.97


def test_tagger_loss_ignores_padding():
    torch.manual_seed(0)
    model = _tagger().eval()
    words = torch.tensor([[5, 6, 0, 0]])
    lengths = torch.tensor([2])
    tags_a = torch.tensor([[1, 2, 0, 0]])
    tags_b = torch.tensor([[1, 2, 3, 3]])
    emissions = model(words, lengths)
    mask = model.mask(words, lengths)
    assert model.loss(emissions, tags_a, mask).item() == pytest.approx(
        model.loss(emissions, tags_b, mask).item()
    )


def test_tagger_config_round_trip_and_errors():
    model = _tagger(use_crf=True)
    again = SequenceTagger.from_config_dict(asdict(model.config))
    assert sorted(again.state_dict()) == sorted(model.state_dict())
    assert "crf.transitions" in model.state_dict()
    with pytest.raises(ValueError, match="num_tags must be >= 2, got 1"):
        SequenceTaggerConfig(vocab_size=5, num_tags=1)
    with pytest.raises(ValueError, match=r"expected chars of shape \(1, 2, W\), got None"):
        _tagger(char_vocab_size=5)(torch.tensor([[3, 4]]))


def test_tagger_config_from_dict_refuses_an_unknown_key():
    data = asdict(SequenceTaggerConfig(vocab_size=5, num_tags=3))
    assert SequenceTaggerConfig.from_dict(data) == SequenceTaggerConfig(**data)
    with pytest.raises(ConfigError, match="colour: unknown key; accepted: vocab_size, ") as info:
        SequenceTaggerConfig.from_dict({**data, "colour": 1})
    assert info.value.key == "colour"


# --------------------------------------------------------------------------- issue 18: features
@pytest.mark.parametrize(
    "token, shape",
    [
        ("cat", "lower"),
        ("e.g.", "lower"),
        ("NASA", "upper"),
        ("U.S.", "upper"),
        ("Paris", "title"),
        ("A", "title"),
        ("O'Neil", "title"),
        ("Saint-Denis", "title"),
        ("iPhone", "mixed"),
        ("McDonald", "mixed"),
        ("1984", "digits"),
        ("2nd", "has_digit"),
        ("B-52", "has_digit"),
        ("3.5", "has_digit"),
        ("(", "punct"),
        ("''", "punct"),
        ("東京", "other"),
    ],
)
def test_word_shape_classes(token, shape):
    assert CASING_CLASSES[word_shape(token)] == shape


def test_shape_ids_are_padded_with_zero():
    ids = shape_ids([["Ada", "went"], ["IBM"]], 3)
    names = [[CASING_CLASSES[i] for i in row] for row in ids.tolist()]
    assert names == [["title", "lower", "<pad>"], ["upper", "<pad>", "<pad>"]]


@pytest.mark.parametrize("encoder", ["cnn", "lstm"])
def test_a_words_characters_are_read_alone(encoder):
    # a word's character features are the same in a batch with longer words and padding words
    torch.manual_seed(0)
    model = _tagger(char_vocab_size=10, char_filters=6, char_encoder=encoder).eval()
    chars = torch.randint(1, 10, (2, 3, 7))
    chars[0, 0, 3:] = 0  # a 3-character word beside 7-character ones
    chars[1, 2] = 0  # a padding word
    features = model._char_features(chars)  # (2, 3, 6)
    assert tuple(features.shape) == (2, 3, 6)
    alone = model._char_features(chars[:1, :1, :3])
    torch.testing.assert_close(alone[0, 0], features[0, 0], atol=1e-6, rtol=1e-6)
    assert features[1, 2].abs().sum().item() == 0.0
    if encoder == "lstm":  # [forward state after the last character; backward after the first]
        rnn = model.char_lstm.rnn
        embedded = model.char_embedding(chars[:1, 0, :3])  # (1, 3, C)
        out, _ = rnn(embedded)  # (1, 3, 2H)
        expected = torch.cat([out[0, -1, :3], out[0, 0, 3:]])
        torch.testing.assert_close(features[0, 0], expected, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("encoder", ["cnn", "lstm"])
def test_tagger_with_casing_padded_batch_equals_alone(encoder):
    torch.manual_seed(0)
    model = _tagger(char_vocab_size=10, char_encoder=encoder, casing=True, casing_dim=3).eval()
    words = torch.randint(2, 20, (2, 5))
    chars = torch.randint(1, 10, (2, 5, 4))
    shapes = torch.randint(1, len(CASING_CLASSES), (2, 5))
    words[1, 2:], chars[1, 2:], shapes[1, 2:] = 0, 0, 0
    lengths = torch.tensor([5, 2])
    emissions = model(words, lengths, chars, shapes)
    assert tuple(emissions.shape) == (2, 5, 4)
    alone = model(words[1:, :2], None, chars[1:, :2], shapes[1:, :2])
    torch.testing.assert_close(alone[0], emissions[1, :2], atol=1e-5, rtol=1e-5)
    other = shapes.clone()
    other[0, 1] = 1 if shapes[0, 1] != 1 else 2
    assert not torch.allclose(model(words, lengths, chars, other)[0], emissions[0])


def test_casing_lets_a_tagger_tell_capitals_without_characters():
    # tag 1 where the word is capitalised: the lower-cased word ids cannot tell, the shapes can
    torch.manual_seed(0)
    model = _tagger(casing=True, use_crf=True, dropout=0.0)
    words = torch.randint(2, 20, (32, 6))
    title, lower = CASING_CLASSES.index("title"), CASING_CLASSES.index("lower")
    shapes = torch.where(torch.rand(32, 6) < 0.3, title, lower)
    tags = (shapes == title).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(40):
        optimizer.zero_grad()
        loss = model.loss(model(words, None, None, shapes), tags, model.mask(words, None))
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.05
    assert torch.tensor(model.decode(words, None, None, shapes)).eq(tags).all()


def test_feature_config_defaults_and_errors():
    config = SequenceTaggerConfig(vocab_size=5, num_tags=3)
    assert (config.char_encoder, config.casing, config.casing_dim) == ("cnn", False, 8)
    model = _tagger(char_vocab_size=5, char_encoder="lstm", char_filters=6, casing=True)
    names = set(model.state_dict())
    assert "casing_embedding.weight" in names and "char_conv.weight" not in names
    assert any(name.startswith("char_lstm.rnn.") for name in names)
    assert SequenceTagger.from_config_dict(asdict(model.config)).state_dict().keys() == names
    with pytest.raises(ValueError, match="char_encoder must be one of cnn, lstm, got 'gru'"):
        SequenceTaggerConfig(vocab_size=5, num_tags=3, char_encoder="gru")
    with pytest.raises(ValueError, match="char_filters must be even with the lstm char_encoder"):
        SequenceTaggerConfig(vocab_size=5, num_tags=3, char_encoder="lstm", char_filters=5)
    with pytest.raises(ValueError, match=r"expected shapes of shape \(1, 2\), got None"):
        _tagger(casing=True)(torch.tensor([[3, 4]]))
