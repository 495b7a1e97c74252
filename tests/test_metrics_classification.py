"""Classification/tagging metrics and baselines, checked against hand-computed values."""

from __future__ import annotations

import pytest
import torch

from rnnkit.metrics.classification import (
    MostFrequentTag,
    accuracy,
    confusion_matrix,
    macro_f1,
    majority_class,
    per_tag_f1,
    precision_recall_f1,
    token_accuracy,
)


def test_accuracy_and_confusion_matrix():
    gold = [0, 0, 1, 1, 2]
    pred = torch.tensor([0, 1, 1, 1, 0])
    assert accuracy(pred, gold) == pytest.approx(3 / 5)
    assert confusion_matrix(pred, gold) == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert confusion_matrix([0], [0], num_classes=2) == [[1, 0], [0, 0]]
    with pytest.raises(ValueError, match="differ in length: 2 vs 1"):
        accuracy([0, 1], [0])


def test_macro_f1_by_hand():
    gold = [0, 0, 1, 1, 2]
    pred = [0, 1, 1, 1, 0]
    # class 0: P 1/2 R 1/2 F 1/2; class 1: P 2/3 R 1 F 0.8; class 2: P 0 R 0 F 0
    scores = precision_recall_f1(pred, gold)
    assert scores[1]["precision"] == pytest.approx(2 / 3)
    assert scores[1]["f1"] == pytest.approx(0.8)
    assert scores[2]["support"] == 1
    assert macro_f1(pred, gold) == pytest.approx((0.5 + 0.8 + 0.0) / 3)
    assert macro_f1(pred, gold, labels=[0, 1, 2, 3]) == pytest.approx(1.3 / 4)


def test_tagging_metrics():
    gold = [["D", "N", "V"], ["N"]]
    pred = [["D", "V", "V"], ["N"]]
    assert token_accuracy(pred, gold) == pytest.approx(3 / 4)
    f1 = per_tag_f1(pred, gold)
    assert f1["D"]["f1"] == 1.0
    assert f1["N"]["recall"] == pytest.approx(0.5) and f1["N"]["precision"] == 1.0
    assert f1["V"]["precision"] == pytest.approx(0.5) and f1["V"]["recall"] == 1.0
    with pytest.raises(ValueError, match="sentence 1: 2 predicted tags for 1 gold tags"):
        token_accuracy([["D"], ["N", "N"]], [["D"], ["N"]])


def test_majority_class_breaks_ties_by_first_seen():
    assert majority_class(["b", "a", "a", "b", "c"]) == "b"
    assert majority_class(torch.tensor([2, 1, 1])) == 1


def test_most_frequent_tag_per_word_and_unknown_words():
    baseline = MostFrequentTag().fit(
        [["the", "can", "can", "rust"], ["a", "can"], ["the", "dog", "bone"]],
        [["DET", "NOUN", "AUX", "VERB"], ["DET", "NOUN"], ["DET", "NOUN", "NOUN"]],
    )
    # "can": NOUN twice, AUX once; unseen "cat": overall most frequent is NOUN (4) over DET (3)
    assert baseline.predict([["the", "can", "cat", "The"]]) == [["DET", "NOUN", "NOUN", "NOUN"]]
    tied = MostFrequentTag().fit([["x", "y"]], [["B", "A"]])  # tie: the tag seen first wins
    assert tied.predict([["z"]]) == [["B"]]
    lowered = MostFrequentTag(lower=True).fit([["The"]], [["DET"]])
    assert lowered.predict([["the", "THE"]]) == [["DET", "DET"]]
