import pytest
import torch

from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError


def test_default_specials_pad_is_zero_and_order_is_frequency_then_first_seen():
    vocab = Vocabulary.build(["b", "a", "c", "a", "b", "a", "d"])
    # a:3, b:2, then c and d tie at 1 and keep first-appearance order
    assert vocab.itos == ["<pad>", "<unk>", "a", "b", "c", "d"]
    assert vocab.pad_id == 0 and vocab.unk_id == 1
    assert len(vocab) == 6 and "a" in vocab and "z" not in vocab


def test_lexical_and_first_orders():
    text = "banana"
    assert Vocabulary.build(text, specials=(), order="lexical").itos == ["a", "b", "n"]
    assert Vocabulary.build(text, specials=(), order="first").itos == ["b", "a", "n"]
    with pytest.raises(ValueError, match="order"):
        Vocabulary.build(text, order="random")


def test_min_freq_and_max_size_count_specials():
    tokens = "aaaabbbccd"
    vocab = Vocabulary.build(tokens, min_freq=2)
    assert vocab.itos == ["<pad>", "<unk>", "a", "b", "c"]
    vocab = Vocabulary.build(tokens, max_size=3)
    assert vocab.itos == ["<pad>", "<unk>", "a"]
    with pytest.raises(ValueError):
        Vocabulary.build(tokens, max_size=1)


def test_build_is_deterministic():
    tokens = list("the quick brown fox jumps over the lazy dog" * 3)
    assert Vocabulary.build(tokens).itos == Vocabulary.build(list(tokens)).itos


def test_encode_unknown_maps_to_unk_and_is_reported_once():
    vocab = Vocabulary.build("hello world", specials=("<unk>",), order="lexical")
    assert vocab.unk_id == 0 and vocab.pad_id is None
    ids, unknown = vocab.encode_with_unknown("hel!lo?!")
    assert ids[3] == vocab.unk_id
    assert unknown == ["!", "?"]
    assert "".join(vocab.decode(ids)) == "hel<unk>lo<unk><unk>"
    assert vocab.unknown_tokens("xyhx") == ["x", "y"]


def test_encode_without_unk_raises():
    vocab = Vocabulary.build(["pos", "neg"], specials=(), order="first")
    assert vocab.encode(["neg", "pos"]) == [1, 0]
    with pytest.raises(RnnkitError, match="neutral"):
        vocab.encode(["neutral"])


def test_round_trip_utf8_and_plain_dict():
    text = "héllo wörld — 日本語 🙂\n"
    vocab = Vocabulary.build(text, specials=("<unk>",))
    assert "".join(vocab.decode(vocab.encode(text))) == text
    data = vocab.to_dict()
    assert set(data) == {"tokens", "pad_token", "unk_token"}
    assert all(isinstance(t, str) for t in data["tokens"])
    again = Vocabulary.from_dict(data)
    assert again == vocab and again.unk_id == vocab.unk_id
    # decode accepts tensors too
    assert vocab.decode(torch.tensor(vocab.encode("日本"))) == ["日", "本"]


def test_decode_skip_special_and_range_check():
    vocab = Vocabulary.build("ab")
    assert vocab.decode([0, 2, 1, 3], skip_special=True) == ["a", "b"]
    with pytest.raises(ValueError, match="out of range"):
        vocab.decode([99])


def test_from_dict_malformed_is_rnnkit_error():
    with pytest.raises(RnnkitError):
        Vocabulary.from_dict({"tokens": [1, 2]})
    with pytest.raises(RnnkitError):
        Vocabulary.from_dict({"nope": []})
    with pytest.raises(RnnkitError):
        Vocabulary.from_dict({"tokens": ["a", "a"]})


def test_duplicate_tokens_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        Vocabulary(["a", "b", "a"])
    with pytest.raises(ValueError, match="unk_token"):
        Vocabulary(["a"], unk_token="<unk>")


def test_getitem_falls_back_to_unk():
    vocab = Vocabulary.build("ab")
    assert vocab["a"] == 2 and vocab["zzz"] == vocab.unk_id
