"""Tagging schemes: spans, rendering, conversion round trips, detection, allowed transitions."""

from __future__ import annotations

import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnkit.data.schemes import (
    PREFIXES,
    SCHEMES,
    allowed_transitions,
    convert,
    detect_scheme,
    is_entity_tagset,
    looks_like_entity_tags,
    repair,
    spans,
    to_tags,
)
from rnnkit.errors import RnnkitError

TYPES = ("PER", "LOC", "creative-work")


@st.composite
def entity_spans(draw, max_entities: int = 6) -> tuple[list[tuple[str, int, int]], int]:
    """Non-overlapping spans (gaps of 0 make adjacent entities, of one type or two) and a length."""
    found, position = [], 0
    for _ in range(draw(st.integers(0, max_entities))):
        position += draw(st.integers(0, 2))
        length = draw(st.integers(1, 4))
        found.append((draw(st.sampled_from(TYPES)), position, position + length))
        position += length
    return found, position + draw(st.integers(0, 2))


def all_tags(scheme: str, types=TYPES) -> list[str]:
    return ["O"] + [f"{p}-{t}" for p in PREFIXES[scheme] for t in types]


def any_tags(scheme: str, max_size: int = 12):
    """Tag sequences of ``scheme``, well-formed or not."""
    return st.lists(st.sampled_from(all_tags(scheme)), max_size=max_size)


SENTENCE = ["Ada", "Lovelace", "met", "Charles", "Babbage", "Ada", "in", "London"]
TABLE = {
    "iob1": "I-PER I-PER O I-PER I-PER B-PER O I-LOC",
    "iob2": "B-PER I-PER O B-PER I-PER B-PER O B-LOC",
    "iobes": "B-PER E-PER O B-PER E-PER S-PER O S-LOC",
    "bilou": "B-PER L-PER O B-PER L-PER U-PER O U-LOC",
}
ENTITIES = [("PER", 0, 2), ("PER", 3, 5), ("PER", 5, 6), ("LOC", 7, 8)]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_docstring_table(scheme):
    tags = TABLE[scheme].split()
    assert spans(tags, scheme) == ENTITIES
    assert to_tags(ENTITIES, len(SENTENCE), scheme) == tags
    assert detect_scheme([tags]) == scheme
    for target in SCHEMES:
        assert convert(tags, scheme, target) == TABLE[target].split()


@given(entity_spans(), st.sampled_from(SCHEMES), st.sampled_from(SCHEMES))
@settings(max_examples=200, deadline=None)
def test_conversions_round_trip(drawn, source, target):
    found, length = drawn
    tags = to_tags(found, length, source)
    assert spans(tags, source) == found
    there = convert(tags, source, target)
    assert spans(there, target) == found
    assert convert(there, target, source) == tags
    assert repair(tags, source) == tags


def test_iob1_writes_b_only_between_adjacent_entities_of_one_type():
    tags = to_tags([("PER", 0, 1), ("PER", 1, 3), ("LOC", 3, 4), ("LOC", 5, 6)], 6, "iob1")
    assert tags == ["I-PER", "B-PER", "I-PER", "I-LOC", "O", "I-LOC"]
    assert convert(tags, "iob1", "iob2") == ["B-PER", "B-PER", "I-PER", "B-LOC", "O", "B-LOC"]


# conlleval's reading of ill-formed sequences, counted by hand
ILL_FORMED = [
    ("iob2", "O I-PER I-PER", [("PER", 1, 3)]),
    ("iob2", "B-PER I-LOC I-LOC", [("PER", 0, 1), ("LOC", 1, 3)]),
    (
        "iob2",
        "I-PER B-PER I-ORG O I-ORG",
        [("PER", 0, 1), ("PER", 1, 2), ("ORG", 2, 3), ("ORG", 4, 5)],
    ),
    ("iob1", "B-PER I-PER O", [("PER", 0, 2)]),
    ("iobes", "O E-PER", [("PER", 1, 2)]),
    ("iobes", "S-PER E-PER", [("PER", 0, 1), ("PER", 1, 2)]),
    ("iobes", "B-PER I-PER O", [("PER", 0, 2)]),
    ("iobes", "B-PER S-PER I-PER", [("PER", 0, 1), ("PER", 1, 2), ("PER", 2, 3)]),
    ("iobes", "E-PER I-PER E-PER", [("PER", 0, 1), ("PER", 1, 3)]),
    ("bilou", "U-PER L-PER L-PER", [("PER", 0, 1), ("PER", 1, 2), ("PER", 2, 3)]),
    ("bilou", "B-LOC L-PER", [("LOC", 0, 1), ("PER", 1, 2)]),
]


@pytest.mark.parametrize(("scheme", "tags", "expected"), ILL_FORMED)
def test_ill_formed_sequences_read_with_conlleval_rules(scheme, tags, expected):
    assert spans(tags.split(), scheme) == expected


def test_repair():
    assert repair(["O", "I-PER", "I-LOC", "E-LOC"], "iobes") == ["O", "S-PER", "B-LOC", "E-LOC"]
    assert repair(["O", "I-PER", "B-LOC", "I-PER"], "iob2") == ["O", "B-PER", "B-LOC", "B-PER"]
    assert repair(["B-PER", "O", "B-PER", "B-PER"], "iob1") == ["I-PER", "O", "I-PER", "B-PER"]


@given(st.sampled_from(SCHEMES), st.data())
@settings(max_examples=100, deadline=None)
def test_spans_of_any_sequence_render_to_a_fixed_point(scheme, data):
    tags = data.draw(any_tags(scheme))
    repaired = repair(tags, scheme)
    assert spans(repaired, scheme) == spans(tags, scheme)
    assert repair(repaired, scheme) == repaired


def test_detect_scheme():
    assert detect_scheme([["O", "B-PER", "I-PER"], ["O"]]) == "iob2"
    assert detect_scheme([["I-PER", "I-PER", "B-PER"], ["I-LOC"]]) == "iob1"
    # an entity opening on I- among B- openings after O: ill-formed IOB2, not IOB1
    assert detect_scheme([["O", "I-PER"], ["O", "B-PER"]]) == "iob2"
    assert detect_scheme([["O", "O"]]) == "iob2"
    assert detect_scheme([["B-PER", "I-PER", "L-PER"], ["U-LOC"]]) == "bilou"
    assert detect_scheme([["B-PER", "E-PER"], ["O", "I-LOC"]]) == "iobes"


@pytest.mark.parametrize(
    ("sentences", "message"),
    [
        (
            [["B-PER", "O"], ["O", "X-PER"]],
            (
                "tag 'X-PER' (sentence 2, token 2) fits no tagging scheme: expected O or B-, I-, E-, "
                "S-, L- or U- followed by a type, such as B-PER"
            ),
        ),
        (
            [["B_PER", "O"]],
            (
                "tag 'B_PER' (sentence 1, token 1) fits no tagging scheme: expected O or B-, I-, E-, "
                "S-, L- or U- followed by a type, such as B-PER"
            ),
        ),
        (
            [["O", "B-"]],
            (
                "tag 'B-' (sentence 1, token 2) fits no tagging scheme: expected O or B-, I-, E-, "
                "S-, L- or U- followed by a type, such as B-PER"
            ),
        ),
        (
            [["O", "S-PER"], ["B-LOC", "L-LOC"]],
            (
                "mixed tagging schemes: 'S-PER' (IOBES) in sentence 1 and 'L-LOC' (BILOU) in "
                "sentence 2; expected the tags of one scheme"
            ),
        ),
        (
            [["NOUN", "VERB"], ["-LRB-"]],
            (
                "detect_scheme: the tags are not entity tags (expected O or B-, I-, E-, S-, L- or U- "
                "followed by a type), got '-LRB-', 'NOUN', 'VERB'"
            ),
        ),
    ],
)
def test_detect_scheme_errors(sentences, message):
    with pytest.raises(RnnkitError) as info:
        detect_scheme(sentences)
    assert str(info.value) == message


def test_entity_tagsets():
    assert is_entity_tagset(["O", "B-PER", "I-creative-work", "U-X"])
    assert is_entity_tagset(["O"])
    assert not is_entity_tagset(["O", "X-PER"])
    assert not is_entity_tagset(["NOUN", "VERB"])
    assert not looks_like_entity_tags(["NOUN", "VERB", "-LRB-", "O", "X"])
    assert looks_like_entity_tags(["NOUN", "B_PER"])


def test_bad_input_messages():
    with pytest.raises(RnnkitError) as info:
        spans(["O", "E-PER"], "iob2")
    assert str(info.value) == (
        "tag 'E-PER' (token 2) is not a iob2 tag: expected O or B-, I- followed by a type"
    )
    with pytest.raises(RnnkitError) as info:
        spans(["O"], "bio")
    assert str(info.value) == "scheme: expected one of iob1, iob2, iobes, bilou, got 'bio'"
    with pytest.raises(RnnkitError) as info:
        convert(["O"], "iob2", "IOBES")
    assert str(info.value) == "target: expected one of iob1, iob2, iobes, bilou, got 'IOBES'"
    with pytest.raises(RnnkitError) as info:
        to_tags([("PER", 0, 2), ("LOC", 1, 3)], 4, "iob2")
    assert str(info.value) == "entities ('PER', 0, 2) and ('LOC', 1, 3) overlap"
    with pytest.raises(RnnkitError) as info:
        to_tags([("PER", 2, 5)], 4, "iob2")
    assert str(info.value) == (
        "entity ('PER', 2, 5): expected (type, start, end) with a non-empty type and "
        "0 <= start < end <= 4"
    )
    with pytest.raises(RnnkitError) as info:
        allowed_transitions(["O", "B-PER", "<pad>"], "iob2")
    assert str(info.value) == (
        "tag '<pad>' (tag name 3) is not a iob2 tag: expected O or B-, I- followed by a type"
    )


def test_allowed_transitions_by_hand():
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    start, trans, end = allowed_transitions(names, "iob2")
    assert start.dtype == trans.dtype == end.dtype == torch.bool
    assert start.tolist() == [True, True, False, True, False]
    assert end.tolist() == [True] * 5
    assert trans.tolist() == [
        [True, True, False, True, False],  # O -> I-X forbidden
        [True, True, True, True, False],  # B-PER -> I-LOC forbidden
        [True, True, True, True, False],
        [True, True, False, True, True],
        [True, True, False, True, True],
    ]
    start, trans, end = allowed_transitions(names, "iob1")
    assert start.tolist() == [True, False, True, False, True]
    assert trans[0].tolist() == [True, False, True, False, True]  # O -> I-X allowed, B-X not
    assert trans[2].tolist() == [True, True, True, False, True]  # I-PER -> B-PER only
    names = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    start, trans, end = allowed_transitions(names, "iobes")
    assert start.tolist() == [True, True, False, False, True]
    assert end.tolist() == [True, False, False, True, True]
    assert trans[4].tolist() == [True, True, False, False, True]  # S-X -> E-X forbidden
    assert trans[1].tolist() == [False, False, True, True, False]


@pytest.mark.parametrize("scheme", SCHEMES)
@given(drawn=entity_spans())
@settings(max_examples=60, deadline=None)
def test_well_formed_sequences_use_allowed_transitions(scheme, drawn):
    names = all_tags(scheme)
    start, trans, end = allowed_transitions(names, scheme)
    ids = [names.index(t) for t in to_tags(*drawn, scheme)]
    if ids:
        assert start[ids[0]] and end[ids[-1]]
    assert all(trans[a, b] for a, b in itertools.pairwise(ids))


@pytest.mark.parametrize("scheme", SCHEMES)
@given(data=st.data())
@settings(max_examples=60, deadline=None)
def test_allowed_paths_are_well_formed(scheme, data):
    names = all_tags(scheme, types=("PER", "LOC"))
    start, trans, end = allowed_transitions(names, scheme)
    length = data.draw(st.integers(1, 10))
    ids: list[int] = []
    while len(ids) < length:
        allowed = trans[ids[-1]] if ids else start
        if len(ids) == length - 1:  # the last tag must be able to end the sentence
            allowed = allowed & end
        ids.append(data.draw(st.sampled_from(torch.nonzero(allowed).flatten().tolist())))
    tags = [names[i] for i in ids]
    assert end[ids[-1]]
    assert to_tags(spans(tags, scheme), len(tags), scheme) == tags
