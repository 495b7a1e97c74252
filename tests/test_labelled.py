"""Labelled text: TSV/CSV reading, label maps, tokenizers, bucketed padded batches."""

from __future__ import annotations

import pytest
import torch

from rnnkit.data.labelled import (
    BucketedBatches,
    Tokenizer,
    batch_order,
    build_label_vocab,
    encode_labels,
    pad_sequences,
    read_labelled,
)
from rnnkit.errors import RnnkitError


def test_reads_tsv_with_named_columns_and_skips_empty_text(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text(
        'id\tlabel\ttext\n1\tpos\t"great" film \n2\tneg\t   \n3\tneg\tbad\n', encoding="utf-8"
    )
    data = read_labelled(path)
    assert data.texts == ['"great" film', "bad"]  # TSV quotes are literal text
    assert data.labels == ["pos", "neg"]
    assert data.skipped_empty == 1


def test_reads_csv_with_quoted_commas(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text('review,stars\n"good, really good",5\n"meh",1\n', encoding="utf-8")
    data = read_labelled(path, text_col="review", label_col="stars")
    assert data.texts == ["good, really good", "meh"]
    assert data.labels == ["5", "1"]


def test_missing_column_lists_available_ones(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("sentence\tlabel\nhi\t1\n", encoding="utf-8")
    with pytest.raises(RnnkitError) as info:
        read_labelled(path, text_col="text")
    assert str(info.value) == (
        f"{path}: no column 'text' (the text column); available columns: 'sentence', 'label'"
    )


def test_short_row_and_empty_label_give_line_numbers(tmp_path):
    path = tmp_path / "train.tsv"
    path.write_text("text\tlabel\nfine\t1\nshort\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="line 3: expected 2 fields as in the header, got 1"):
        read_labelled(path)
    path.write_text("text\tlabel\nfine\t1\nno label\t \n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="line 3: empty label in column 'label'"):
        read_labelled(path)


def test_not_utf8_gives_byte_offset(tmp_path):
    """Read by the one text reader (rnnkit.data.text.read_text), so its message: the byte too."""
    path = tmp_path / "train.tsv"
    path.write_bytes(b"text\tlabel\nab\xff\t1\n")
    with pytest.raises(RnnkitError, match="not UTF-8 text: byte 0xff at byte offset 13 cannot"):
        read_labelled(path)


def test_label_maps_integers_numerically_and_strings_sorted():
    assert build_label_vocab(["10", "2", "1", "2"]).itos == ["1", "2", "10"]
    assert build_label_vocab(["pos", "neg", "neutral"]).itos == ["neg", "neutral", "pos"]
    with pytest.raises(RnnkitError, match=r"training data has a single class \('pos'\)"):
        build_label_vocab(["pos", "pos"])


def test_unseen_label_is_named():
    vocab = build_label_vocab(["neg", "pos"])
    assert encode_labels(["pos", "neg"], vocab, "dev.tsv") == [1, 0]
    with pytest.raises(RnnkitError) as info:
        encode_labels(["pos", "mixed"], vocab, "dev.tsv")
    assert str(info.value) == (
        "dev.tsv has label(s) never seen in the training data: 'mixed' (known labels: 'neg', 'pos')"
    )


def test_word_tokenizer_splits_clitics_and_punctuation():
    assert Tokenizer.split("It's NOT good, isn't it?") == [
        "it's",
        "not",
        "good",
        ",",
        "isn't",
        "it",
        "?",
    ]
    assert Tokenizer.split("it 's a does n't", lower=False) == ["it", "'s", "a", "does", "n't"]
    assert Tokenizer.split("Ab c", kind="char", lower=False) == ["A", "b", " ", "c"]


def test_tokenizer_vocabulary_options_and_round_trip():
    texts = ["a a a b b c", "A d"]
    tok = Tokenizer.build(texts, min_freq=2)
    assert tok.vocab.itos == ["<pad>", "<unk>", "a", "b"]
    assert tok.encode("a c b") == [2, 1, 3]
    assert tok.encode("!!", max_length=1) == [1]
    assert tok.encode("") == [1]  # never empty
    capped = Tokenizer.build(texts, max_size=3, lower=False)
    assert capped.vocab.itos == ["<pad>", "<unk>", "a"]
    again = Tokenizer.from_dict(tok.to_dict())
    assert again.vocab == tok.vocab and again.kind == "word" and again.lower
    chars = Tokenizer.build(["ab", "b"], kind="char")
    assert chars.encode("bax") == [2, 3, 1]


def test_pad_sequences():
    ids, lengths = pad_sequences([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert lengths.tolist() == [3, 1]
    assert ids.dtype == torch.long


def test_batches_are_bucketed_cover_every_example_and_are_reproducible():
    lengths = [1 + (i * 7) % 50 for i in range(200)]
    batches = batch_order(lengths, 10, seed=3, bucket_batches=20)
    assert sorted(i for b in batches for i in b) == list(range(200))
    assert batches == batch_order(lengths, 10, seed=3, bucket_batches=20)
    assert batches != batch_order(lengths, 10, seed=3, epoch=1, bucket_batches=20)
    spread = max(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread <= 2  # one bucket holds everything: neighbours in sorted order
    evaluation = batch_order(lengths, 10, shuffle=False)
    assert [lengths[i] for i in evaluation[0]] == sorted(lengths, reverse=True)[:10]


def test_bucketed_batches_resume_exactly():
    lengths = list(range(1, 24))
    source = BucketedBatches(lengths, 5, collate=list, seed=1)
    for _ in range(7):  # into the second epoch
        source.next_batch()
    state = source.state_dict()
    expected = [source.next_batch() for _ in range(6)]
    again = BucketedBatches(lengths, 5, collate=list)
    again.load_state_dict(state)
    assert [again.next_batch() for _ in range(6)] == expected
    assert len(source) == 5


@pytest.mark.parametrize("delimiter", ["", ";;", '"', "\r"])
def test_read_labelled_refuses_a_delimiter_the_csv_module_cannot_take(tmp_path, delimiter):
    """Found by fuzzing: the csv module's TypeError escaped ("delimiter" must be a 1-character
    string)."""
    path = tmp_path / "d.csv"
    path.write_text("text,label\na,1\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="delimiter: expected one character other than a quote"):
        read_labelled(path, delimiter=delimiter)
