"""Entity-level scores against seqeval (a test-only reference) and by hand; the memorisation
baseline.

The seqeval calls compared to (seqeval 1.2.2):
- ``seqeval.metrics.sequence_labeling.precision_recall_fscore_support(gold, predicted,
  average=None or "micro", zero_division=0)``, seqeval's default mode (conlleval's rules, the ones
  ``f1_score`` and ``classification_report`` use without ``mode="strict"``): any sequence, well-formed
  or not, of iob1, iob2 and iobes. It reads only the letters B, I, E and S, so bilou tags go in with
  ``L-`` written ``E-`` and ``U-`` written ``S-`` (given as they are, ``B-X L-X U-X`` counts as one
  entity there).
- ``seqeval.metrics.v1.precision_recall_fscore_support(..., scheme=IOB1/IOB2/IOBES/BILOU)``, what
  ``mode="strict"`` runs: well-formed sequences of each scheme (strict mode drops the entities of
  ill-formed ones, which conlleval and rnnkit count).
"""

from __future__ import annotations

import random
import warnings

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_schemes import TYPES, all_tags, entity_spans

from rnnkit.data.conll import read_conll
from rnnkit.data.schemes import SCHEMES, convert, spans, to_tags
from rnnkit.errors import RnnkitError
from rnnkit.metrics import Memoriser, entity_scores

seqeval = pytest.importorskip("seqeval")
from seqeval import scheme as seqeval_schemes
from seqeval.metrics import sequence_labeling, v1

STRICT = {
    "iob1": seqeval_schemes.IOB1,
    "iob2": seqeval_schemes.IOB2,
    "iobes": seqeval_schemes.IOBES,
    "bilou": seqeval_schemes.BILOU,
}


def seqeval_default(gold, predicted, scheme):
    if scheme == "bilou":  # default mode knows B, I, E, S only
        gold, predicted = ([[_bilou_as_iobes(t) for t in s] for s in x] for x in (gold, predicted))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [
            sequence_labeling.precision_recall_fscore_support(
                gold, predicted, average=average, zero_division=0
            )
            for average in (None, "micro")
        ]


def seqeval_strict(gold, predicted, scheme):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [
            v1.precision_recall_fscore_support(
                gold, predicted, average=average, zero_division=0, scheme=STRICT[scheme]
            )
            for average in (None, "micro")
        ]


def _bilou_as_iobes(tag: str) -> str:
    return {"L": "E", "U": "S"}.get(tag[0], tag[0]) + tag[1:]


def assert_equal_to(ours: dict, reference) -> None:
    (p, r, f, support), (mp, mr, mf, msupport) = reference
    assert ours["precision"] == pytest.approx(float(mp), abs=1e-9)
    assert ours["recall"] == pytest.approx(float(mr), abs=1e-9)
    assert ours["f1"] == pytest.approx(float(mf), abs=1e-9)
    assert ours["support"] == int(msupport)
    types = list(ours["types"].values())
    assert len(types) == len(p)
    for scores, *expected in zip(types, p, r, f, support):
        got = [scores["precision"], scores["recall"], scores["f1"]]
        assert got == pytest.approx([float(x) for x in expected[:3]], abs=1e-9)
        assert scores["support"] == int(expected[3])


def sentences(scheme: str, well_formed: bool):
    if well_formed:
        one = entity_spans().map(lambda drawn: to_tags(*drawn, scheme))
    else:
        one = st.integers(0, 10).flatmap(
            lambda n: st.lists(st.sampled_from(all_tags(scheme)), min_size=n, max_size=n)
        )
    return st.lists(one, min_size=1, max_size=4)


@st.composite
def gold_and_predicted(draw, scheme: str, well_formed: bool):
    """Gold sentences and predictions of the same lengths. Well-formed: each gold entity kept,
    dropped, retyped or cut short, and entities of another draw added where they fit. Any: a
    few gold tags replaced by random tags, or a random sequence."""
    gold, predicted = draw(sentences(scheme, well_formed)), []
    for tags in gold:
        if well_formed:
            guessed = []
            for kind, start, end in spans(tags, scheme):
                action = draw(st.sampled_from(("keep", "drop", "retype", "cut")))
                if action == "retype":
                    kind = draw(st.sampled_from(TYPES))
                end = end - 1 if action == "cut" and end - start > 1 else end
                guessed += [] if action == "drop" else [(kind, start, end)]
            taken = {i for _, start, end in guessed for i in range(start, end)}
            for kind, start, end in draw(entity_spans())[0]:
                if end <= len(tags) and not taken & set(range(start - 1, end + 1)):
                    guessed.append((kind, start, end))
                    taken |= set(range(start, end))
            predicted.append(to_tags(guessed, len(tags), scheme))
        elif draw(st.booleans()):
            guess = list(tags)
            for i in draw(st.lists(st.integers(0, max(len(tags) - 1, 0)), max_size=3)):
                if tags:
                    guess[i] = draw(st.sampled_from(all_tags(scheme)))
            predicted.append(guess)
        else:
            names = all_tags(scheme)
            predicted.append([draw(st.sampled_from(names)) for _ in tags])
    return gold, predicted


@pytest.mark.parametrize("scheme", SCHEMES)
@given(data=st.data())
@settings(max_examples=80, deadline=None)
def test_equal_to_seqeval_default_mode_on_any_sequences(scheme, data):
    gold, predicted = data.draw(gold_and_predicted(scheme, well_formed=False))
    assert_equal_to(
        entity_scores(gold, predicted, scheme), seqeval_default(gold, predicted, scheme)
    )


@pytest.mark.parametrize("scheme", SCHEMES)
@given(data=st.data())
@settings(max_examples=80, deadline=None)
def test_equal_to_seqeval_strict_mode_on_well_formed_sequences(scheme, data):
    gold, predicted = data.draw(gold_and_predicted(scheme, well_formed=True))
    ours = entity_scores(gold, predicted, scheme)
    assert_equal_to(ours, seqeval_strict(gold, predicted, scheme))
    # one set of entities, whatever the scheme it is written in
    for target in SCHEMES:
        moved = [[convert(s, scheme, target) for s in x] for x in (gold, predicted)]
        assert entity_scores(*moved, target) == ours


def test_hand_counted():
    gold = [
        ["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG", "I-ORG"],
        ["O", "B-PER", "O"],
    ]
    predicted = [
        ["B-PER", "I-PER", "O", "B-ORG", "O", "B-ORG", "O"],  # PER right, LOC typed ORG, ORG short
        ["O", "I-PER", "I-PER"],  # conlleval: one PER over tokens 1-2, not the gold's
    ]
    scores = entity_scores(gold, predicted, "iob2")
    # gold: PER, LOC, ORG, PER (4); predicted: PER, ORG, ORG, PER (4); correct: the first PER
    assert (scores["support"], scores["predicted"]) == (4, 4)
    assert scores["precision"] == scores["recall"] == scores["f1"] == 0.25
    assert list(scores["types"]) == ["LOC", "ORG", "PER"]
    assert scores["types"]["LOC"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
        "predicted": 0,
    }
    assert scores["types"]["ORG"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 1,
        "predicted": 2,
    }
    assert scores["types"]["PER"] == {
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "support": 2,
        "predicted": 2,
    }
    # iobes: B-X I-X O holds an (unfinished) entity that conlleval counts; 2 right of 3 found
    scores = entity_scores([["B-X", "E-X", "S-Y"]], [["B-X", "I-X", "S-Y"]], "iobes")
    assert (scores["precision"], scores["recall"]) == (1.0, 1.0)
    scores = entity_scores([["B-X", "E-X", "S-Y", "O"]], [["S-X", "E-X", "S-Y", "S-Y"]], "iobes")
    assert (scores["support"], scores["predicted"]) == (2, 4)
    assert scores["precision"] == 0.25 and scores["recall"] == 0.5
    assert scores["f1"] == pytest.approx(2 * 0.25 * 0.5 / 0.75, abs=1e-12)
    empty = entity_scores([["O"]], [["O"]], "iob2")
    assert empty == {
        "precision": 0.0,
        "recall": 0.0,
        "f1": 0.0,
        "support": 0,
        "predicted": 0,
        "types": {},
    }


def test_bad_input_messages():
    with pytest.raises(RnnkitError) as info:
        entity_scores([["O"]], [["O"], ["O"]], "iob2")
    assert str(info.value) == (
        "gold and predicted: expected the same number of sentences, got 1 and 2"
    )
    with pytest.raises(RnnkitError) as info:
        entity_scores([["O"], ["O", "B-X"]], [["O"], ["O"]], "iob2")
    assert str(info.value) == ("gold and predicted: sentence 2 has 2 gold tags and 1 predicted tag")
    with pytest.raises(RnnkitError) as info:
        entity_scores([["O", "U-X"]], [["O", "O"]], "iobes")
    assert str(info.value) == (
        "tag 'U-X' (token 2) is not a iobes tag: expected O or B-, I-, E-, S- followed by a type"
    )
    with pytest.raises(RnnkitError) as info:
        Memoriser().fit([["a", "b"]], [["O"]], "iob2")
    assert str(info.value) == "tokens and tags: sentence 1 has 2 tokens and 1 tag"


def _perturbed(tags: list[list[str]], names: list[str], seed: int) -> list[list[str]]:
    """A prediction-like copy: a tenth of the tags replaced by random ones (ill-formed often)."""
    rng = random.Random(seed)
    return [[rng.choice(names) if rng.random() < 0.1 else t for t in s] for s in tags]


def test_shared_wikiann_dev_against_a_perturbed_copy(shared_data):
    path = shared_data / "ner" / "wikiann-en" / "dev.txt"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    gold = read_conll(path).tags
    names = sorted({t for s in gold for t in s})
    predicted = _perturbed(gold, names, seed=0)
    ours = entity_scores(gold, predicted, "iob2")
    assert_equal_to(ours, seqeval_default(gold, predicted, "iob2"))
    assert 0.5 < ours["f1"] < 0.95 and ours["support"] > 9000
    # the same in IOBES (conversion repairs the copy's ill-formed spans) and strict mode
    moved = [[convert(s, "iob2", "iobes") for s in x] for x in (gold, predicted)]
    assert entity_scores(*moved, "iobes") == ours
    assert_equal_to(ours, seqeval_strict(*moved, "iobes"))


def test_memoriser():
    tokens = [
        ["New", "York", "City", "is", "big"],
        ["New", "York", "is", "in", "New", "York"],
        ["Ada", "met", "Paris"],
        ["Paris", "Hilton"],
        ["to", "New", "York"],
    ]
    tags = [
        ["B-LOC", "I-LOC", "I-LOC", "O", "O"],
        ["B-ORG", "I-ORG", "O", "O", "B-LOC", "I-LOC"],
        ["B-PER", "O", "B-LOC"],
        ["B-PER", "I-PER"],
        ["O", "B-LOC", "I-LOC"],
    ]
    memo = Memoriser().fit(tokens, tags, "iob2")
    # New York: LOC twice, ORG once -> LOC; the longest match first, left to right
    assert memo.tag([["New", "York", "City", "Paris", "Hilton", "and", "Paris", "Ada"]]) == [
        ["B-LOC", "I-LOC", "I-LOC", "B-PER", "I-PER", "O", "B-LOC", "B-PER"]
    ]
    assert memo.tag([["New", "York", "New", "York"], []]) == [
        ["B-LOC", "I-LOC", "B-LOC", "I-LOC"],
        [],
    ]
    iobes = Memoriser().fit(tokens, [convert(t, "iob2", "iobes") for t in tags], "iobes")
    assert iobes.tag([["Ada", "Paris", "Hilton"]]) == [["S-PER", "B-PER", "E-PER"]]
    iob1 = Memoriser().fit(tokens, [convert(t, "iob2", "iob1") for t in tags], "iob1")
    assert iob1.tag([["Ada", "Ada", "Paris"]]) == [["I-PER", "B-PER", "I-LOC"]]
