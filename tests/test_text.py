import pytest
import torch

from rnnkit.data.text import (
    Corpus,
    TBPTTBatches,
    builtin_corpus,
    char_vocabulary,
    encode_text,
    load_corpus,
    read_text,
    split_text,
    stream_matrix,
)
from rnnkit.errors import RnnkitError


def test_read_text_utf8_and_bom(tmp_path):
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffhéllo 日本\r\n".encode())
    assert read_text(path) == "héllo 日本\r\n"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: None, "not found"),
        (lambda p: p.mkdir(), "is a directory"),
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"\xef\xbb\xbf"), "is empty"),
        (lambda p: p.write_bytes(b"abc\xffdef"), "byte 0xff at byte offset 3"),
    ],
)
def test_read_text_bad_files(tmp_path, make, message):
    path = tmp_path / "t.txt"
    make(path)
    with pytest.raises(RnnkitError, match=message):
        read_text(path)


def test_builtin_corpus_is_deterministic_capped_and_described():
    corpus = builtin_corpus(max_chars=200_000)
    assert 10_000 <= len(corpus.text) <= 200_000
    assert "def " in corpus.text
    assert "characters" in corpus.description and "built-in corpus" in corpus.description
    assert builtin_corpus(max_chars=200_000).text == corpus.text
    assert load_corpus(None, 50_000).text == corpus.text[:50_000]


def test_corpus_repr_shows_the_description_and_size_not_the_text():
    corpus = Corpus(text="to be or not to be " * 60_000, name="x.txt", description="corpus: x.txt")
    assert repr(corpus) == "Corpus(description='corpus: x.txt', chars=1,140,000)"
    assert "to be" not in repr(corpus) and str(corpus) == repr(corpus)


def test_split_is_contiguous_90_10():
    text = "".join(chr(ord("a") + i % 26) for i in range(1000))
    train, val = split_text(text)
    assert len(train) == 900 and len(val) == 100 and train + val == text


def test_char_vocabulary_and_unknown_warning():
    vocab = char_vocabulary("hello")
    assert vocab.unk_id == 0 and vocab.itos[1:] == ["e", "h", "l", "o"]
    warnings = []
    ids = encode_text(vocab, "hex!x", warn=warnings.append, what="prompt")
    assert ids.tolist() == [2, 1, 0, 0, 0]
    assert len(warnings) == 1 and "'x', '!'" in warnings[0] and "prompt" in warnings[0]


def test_tbptt_streams_are_contiguous_and_reset_on_wrap():
    ids = torch.arange(200)
    batches = TBPTTBatches(ids, batch_size=4, seq_len=5, shift=False)
    first = batches.next_batch()
    second = batches.next_batch()
    assert first.reset and not second.reset
    assert first.inputs.shape == (4, 5)
    # each row continues where it left off, and targets are the inputs shifted by one
    assert torch.equal(second.inputs[:, 0], first.inputs[:, -1] + 1)
    assert torch.equal(first.targets, first.inputs + 1)
    # streams start at multiples of the stream length (200 // 4 = 50)
    assert first.inputs[:, 0].tolist() == [0, 50, 100, 150]
    per_epoch = batches.chunks_per_epoch()
    assert per_epoch == (50 - 1) // 5
    for _ in range(per_epoch - 2):
        assert not batches.next_batch().reset
    assert batches.next_batch().reset  # wrapped around


def test_tbptt_shift_changes_boundaries_each_epoch_and_resumes_exactly():
    ids = torch.arange(500)
    batches = TBPTTBatches(ids, batch_size=3, seq_len=7, seed=4)
    seen = [batches.next_batch() for _ in range(60)]
    starts = {int(b.inputs[0, 0]) for b in seen if b.reset}
    assert len(starts) > 1  # different offsets in different epochs
    state = batches.state_dict()
    expected = [batches.next_batch() for _ in range(30)]
    again = TBPTTBatches(ids, batch_size=3, seq_len=7, seed=0)
    again.load_state_dict(state)
    for a, b in zip(expected, [again.next_batch() for _ in range(30)]):
        assert torch.equal(a.inputs, b.inputs) and a.reset == b.reset
    with pytest.raises(RnnkitError, match="resume with the same text"):
        TBPTTBatches(torch.arange(600), 3, 7).load_state_dict(state)


def test_tbptt_corpus_shorter_than_one_batch():
    with pytest.raises(RnnkitError, match="fewer than one batch"):
        TBPTTBatches(torch.arange(50), batch_size=8, seq_len=10)


def test_stream_matrix_covers_every_prediction_once():
    ids = torch.arange(23)
    inputs, targets = stream_matrix(ids, streams=4)
    valid = targets != -100
    assert int(valid.sum()) == 22
    assert sorted(targets[valid].tolist()) == list(range(1, 23))
    assert torch.equal(targets[valid], inputs[valid] + 1)
    with pytest.raises(RnnkitError):
        stream_matrix(torch.arange(1), 4)


def test_builtin_corpus_falls_back_to_installed_packages(tmp_path, monkeypatch):
    import sysconfig

    packages = tmp_path / "site"
    (packages / "pkg").mkdir(parents=True)
    (packages / "pkg" / "mod.py").write_text("def f(x):\n    return x + 1\n" * 2000)
    paths = {
        "stdlib": str(tmp_path / "no-stdlib"),
        "purelib": str(packages),
        "platlib": str(packages),
    }
    monkeypatch.setattr(sysconfig, "get_paths", lambda: paths)
    corpus = builtin_corpus(max_chars=30_000)
    assert (
        "installed Python packages" in corpus.description
        and "30,000 characters" in corpus.description
    )
    assert corpus.text.startswith("def f(x):")
    paths["purelib"] = paths["platlib"] = str(tmp_path / "nothing")
    with pytest.raises(RnnkitError, match="give a text file to learn"):
        builtin_corpus()
