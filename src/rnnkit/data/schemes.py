"""Entity tagging schemes: reading spans out of tags, writing tags from spans, converting,
repairing, detecting the scheme of a training set, and the transitions each scheme allows.

An entity is a run of tokens with one type (``PER``, ``LOC``...); a tag is ``O`` (outside any
entity) or a one-letter prefix, a hyphen and the type (``B-PER``; the type may hold hyphens
itself: ``B-creative-work``). The schemes differ in the prefixes and where they go. For the
tokens ``Ada Lovelace met Charles Babbage Ada in London`` with the entities ``Ada Lovelace``
(PER), ``Charles Babbage`` (PER), ``Ada`` (PER, directly after the previous one) and ``London``
(LOC):

========  ========  ========  =====  ========  ========  ========  =====  ========
scheme    Ada       Lovelace  met    Charles   Babbage   Ada       in     London
========  ========  ========  =====  ========  ========  ========  =====  ========
iob1      I-PER     I-PER     O      I-PER     I-PER     B-PER     O      I-LOC
iob2      B-PER     I-PER     O      B-PER     I-PER     B-PER     O      B-LOC
iobes     B-PER     E-PER     O      B-PER     E-PER     S-PER     O      S-LOC
bilou     B-PER     L-PER     O      B-PER     L-PER     U-PER     O      U-LOC
========  ========  ========  =====  ========  ========  ========  =====  ========

- ``iob1`` (CoNLL-2003's original files): every entity token is ``I-``; ``B-`` only opens an
  entity that directly follows another entity of the same type, where ``I-`` would merge them.
- ``iob2`` (also called BIO): every entity opens on ``B-``, its other tokens are ``I-``.
- ``iobes``: ``S-`` a single-token entity; longer ones ``B-``, ``I-``... and ``E-`` (end).
- ``bilou``: IOBES under other letters: ``U-`` (unit) for ``S-``, ``L-`` (last) for ``E-``.

A sequence is *well-formed* in a scheme when writing its spans back gives the same tags
(``to_tags(spans(t), len(t), scheme) == t``). An ill-formed one (``O I-PER``, ``B-PER I-LOC``)
is read with the chunk rules of conlleval, the CoNLL shared tasks' scorer, which seqeval's
default mode follows too: an entity starts at ``B-``/``S-``/``U-``, at an ``I-``/``E-``/``L-``
after ``O``, after an entity's end (``E-``/``S-``/``L-``/``U-``) or after another type; it ends
before ``O``, ``B-``, ``S-``/``U-``, a type change and after ``E-``/``S-``/``L-``/``U-``.
:func:`repair` writes the well-formed tags of what those rules read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch

from rnnkit.errors import RnnkitError, shown

__all__ = [
    "SCHEMES",
    "allowed_transitions",
    "convert",
    "detect_scheme",
    "is_entity_tagset",
    "looks_like_entity_tags",
    "repair",
    "spans",
    "to_tags",
]

SCHEMES = ("iob1", "iob2", "iobes", "bilou")
PREFIXES = {"iob1": "BI", "iob2": "BI", "iobes": "BIES", "bilou": "BILU"}
ALL_PREFIXES = "BIESLU"
EXPECTED_TAG = "O or B-, I-, E-, S-, L- or U- followed by a type, such as B-PER"
Span = tuple[str, int, int]


def _check_scheme(scheme: str, argument: str = "scheme") -> str:
    if scheme not in SCHEMES:
        raise RnnkitError(f"{argument}: expected one of {', '.join(SCHEMES)}, got {shown(scheme)}")
    return scheme


def _parse(tag: object) -> tuple[str, str] | None:
    """``(prefix, type)`` of an entity tag, ``("O", "")`` for ``O``, None for anything else."""
    if tag == "O":
        return ("O", "")
    if isinstance(tag, str) and len(tag) > 2 and tag[0] in ALL_PREFIXES and tag[1] == "-":
        return (tag[0], tag[2:])
    return None


def is_entity_tagset(tags: Iterable[str]) -> bool:
    """True when every tag is ``O`` or an entity tag ``P-TYPE`` (P one of B, I, E, S, L, U):
    named-entity or chunk tags rather than part-of-speech tags."""
    return all(_parse(tag) is not None for tag in tags)


def looks_like_entity_tags(tags: Iterable[str]) -> bool:
    """True when some tag starts with an entity prefix (``B-``, ``I_``...; even a malformed
    ``B_PER``): tags meant as entity tags, which :func:`detect_scheme` then checks one by one.
    Part-of-speech tagsets (``NOUN``, ``NN``, ``-LRB-``) give False."""
    return any(
        isinstance(tag, str) and len(tag) > 1 and tag[0] in ALL_PREFIXES and tag[1] in "-_"
        for tag in tags
    )


def detect_scheme(tag_sentences: Sequence[Sequence[str]]) -> str:
    """The scheme of a training set's tags, one of :data:`SCHEMES`, from all its sentences.

    ``E-``/``S-`` give ``iobes``, ``L-``/``U-`` ``bilou``; with only ``B-``/``I-``, the tags are
    ``iob1`` when every ``B-X`` directly follows an entity of type X and some entity opens on
    ``I-``, else ``iob2`` (as are tags that are all ``O``). Raises :class:`RnnkitError` for a tag
    that fits no scheme (``X-PER``, ``B_PER``, ``B-``: named with its sentence and token,
    counted from 1), for ``E-``/``S-`` and ``L-``/``U-`` in one set (mixed schemes), and for tags
    with no entity prefix at all (part-of-speech tags: check :func:`looks_like_entity_tags` or
    :func:`is_entity_tagset` first to tell them apart).

    >>> detect_scheme([["B-PER", "I-PER", "O"], ["S-LOC"]])
    'iobes'
    """
    if not any(tag == "O" for s in tag_sentences for tag in s) and not looks_like_entity_tags(
        tag for s in tag_sentences for tag in s
    ):
        first = sorted({tag for s in tag_sentences for tag in s}, key=str)[:5]
        raise RnnkitError(
            "detect_scheme: the tags are not entity tags (expected O or B-, I-, E-, S-, L- or U- "
            f"followed by a type), got {', '.join(shown(t) for t in first) or 'no tags'}"
        )
    first_seen: dict[str, tuple[int, str]] = {}  # prefix -> (sentence, tag) where first seen
    b_opens, i_opens = False, False
    for n, sentence in enumerate(tag_sentences, start=1):
        previous = ("O", "")
        for position, tag in enumerate(sentence, start=1):
            parsed = _parse(tag)
            if parsed is None:
                raise RnnkitError(
                    f"tag {shown(tag)} (sentence {n}, token {position}) fits no tagging scheme: "
                    f"expected {EXPECTED_TAG}"
                )
            prefix, kind = parsed
            first_seen.setdefault(prefix, (n, tag))
            inside = previous[0] != "O" and previous[1] == kind
            b_opens |= prefix == "B" and not inside
            i_opens |= prefix == "I" and not inside
            previous = parsed
    ends = [p for p in "ES" if p in first_seen]
    last = [p for p in "LU" if p in first_seen]
    if ends and last:
        (n1, t1), (n2, t2) = first_seen[ends[0]], first_seen[last[0]]
        raise RnnkitError(
            f"mixed tagging schemes: {shown(t1)} (IOBES) in sentence {n1} and {shown(t2)} "
            f"(BILOU) in sentence {n2}; expected the tags of one scheme"
        )
    if ends:
        return "iobes"
    if last:
        return "bilou"
    return "iob1" if i_opens and not b_opens else "iob2"


def _parsed_sentence(
    tags: Sequence[str], scheme: str, where: str = "token {}"
) -> list[tuple[str, str]]:
    """Each tag as ``(prefix, type)`` with ``L``/``U`` read as ``E``/``S`` (conlleval's
    letters), checked against the scheme's prefixes; ``where`` names a tag's place in a message."""
    allowed = PREFIXES[_check_scheme(scheme)]
    out = []
    for position, tag in enumerate(tags, start=1):
        parsed = _parse(tag)
        if parsed is None or (parsed[0] != "O" and parsed[0] not in allowed):
            letters = ", ".join(f"{p}-" for p in allowed)
            raise RnnkitError(
                f"tag {shown(tag)} ({where.format(position)}) is not a {scheme} tag: expected O or "
                f"{letters} followed by a type"
            )
        prefix, kind = parsed
        out.append(({"L": "E", "U": "S"}.get(prefix, prefix), kind))
    return out


def _ends(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """conlleval's ``endOfChunk``: the entity holding ``previous`` ends before ``current``."""
    (p, pt), (c, ct) = previous, current
    if p == "O":
        return False
    return p in "ES" or c in "BSO" or pt != ct


def _starts(previous: tuple[str, str], current: tuple[str, str]) -> bool:
    """conlleval's ``startOfChunk``: an entity starts at ``current``."""
    (p, pt), (c, ct) = previous, current
    if c == "O":
        return False
    return c in "BS" or p in "OES" or pt != ct


def spans(tags: Sequence[str], scheme: str) -> list[Span]:
    """The entities of one tag sequence as ``(type, start, end)``, ``end`` exclusive, in order,
    read with conlleval's rules (see the module's docstring) so that ill-formed input gives
    what conlleval and seqeval count.

    >>> spans(["B-PER", "I-PER", "O", "I-LOC", "B-ORG", "I-PER"], "iob2")
    [('PER', 0, 2), ('LOC', 3, 4), ('ORG', 4, 5), ('PER', 5, 6)]
    """
    parsed = _parsed_sentence(tags, scheme)
    found: list[Span] = []
    previous, start = ("O", ""), 0
    for i, current in enumerate([*parsed, ("O", "")]):
        if _ends(previous, current):
            found.append((previous[1], start, i))
        if _starts(previous, current):
            start = i
        previous = current
    return found


def _span_tags(length: int, scheme: str, adjacent: bool) -> list[str]:
    """The prefixes of one entity of ``length`` tokens (``adjacent``: it directly follows an
    entity of its type, the one case where IOB1 writes ``B-``)."""
    if scheme == "iob1":
        return ["B" if adjacent else "I"] + ["I"] * (length - 1)
    if scheme == "iob2":
        return ["B"] + ["I"] * (length - 1)
    single, last = ("S", "E") if scheme == "iobes" else ("U", "L")
    return [single] if length == 1 else ["B"] + ["I"] * (length - 2) + [last]


def to_tags(entities: Iterable[Span], length: int, scheme: str) -> list[str]:
    """The well-formed tags of ``length`` tokens holding ``entities`` (``(type, start, end)``,
    end exclusive, not overlapping) in ``scheme``: the inverse of :func:`spans`.

    >>> to_tags([("PER", 0, 2), ("PER", 2, 3)], 4, "iob1")
    ['I-PER', 'I-PER', 'B-PER', 'O']
    """
    _check_scheme(scheme)
    tags = ["O"] * length
    previous: Span = ("", -1, -1)
    for entity in sorted(entities, key=lambda e: (e[1], e[2])):
        kind, start, end = entity
        if not (isinstance(kind, str) and kind and 0 <= start < end <= length):
            raise RnnkitError(
                f"entity {shown(entity)}: expected (type, start, end) with a non-empty type and "
                f"0 <= start < end <= {length}"
            )
        if start < previous[2]:
            raise RnnkitError(f"entities {shown(previous)} and {shown(entity)} overlap")
        adjacent = previous[2] == start and previous[0] == kind
        for i, prefix in enumerate(_span_tags(end - start, scheme, adjacent)):
            tags[start + i] = f"{prefix}-{kind}"
        previous = entity
    return tags


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """``tags`` of scheme ``source`` written in scheme ``target`` (the same entities).
    Well-formed tags round-trip: ``convert(convert(t, a, b), b, a) == t``.

    >>> convert(["B-PER", "I-PER", "O", "B-LOC"], "iob2", "iobes")
    ['B-PER', 'E-PER', 'O', 'S-LOC']
    """
    _check_scheme(target, "target")
    return to_tags(spans(tags, source), len(tags), target)


def repair(tags: Sequence[str], scheme: str) -> list[str]:
    """The well-formed tags of the entities conlleval reads in ``tags`` (how decoding without a
    CRF mends an ill-formed prediction: ``O I-PER`` becomes ``O B-PER`` in iob2).

    >>> repair(["O", "I-PER", "I-LOC", "E-LOC"], "iobes")
    ['O', 'S-PER', 'B-LOC', 'E-LOC']
    """
    return convert(tags, scheme, scheme)


def _may_follow(previous: tuple[str, str], current: tuple[str, str], scheme: str) -> bool:
    """Whether ``current`` may directly follow ``previous`` in a well-formed sequence (``("O",
    "")`` stands for the sentence's start or end)."""
    (p, pt), (c, ct) = previous, current
    same = p != "O" and pt == ct
    if scheme == "iob1":
        # I-X opens or continues anything; B-X only right after an entity of type X
        return c in "OI" or same
    if scheme == "iob2":
        return c in "OB" or same
    # iobes and bilou alike: the tags come here with L/U read as E/S
    if p in "BI":  # inside an entity: it goes on or ends, with its own type
        return c in "IE" and same
    return c in "OBS"


def allowed_transitions(
    tag_names: Sequence[str], scheme: str
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Which tags may start a sentence, follow one another and end it in well-formed tags of
    ``scheme``, as bool masks over ``tag_names`` (the tag vocabulary, every name a tag of the
    scheme): ``start`` (T,), ``trans`` (T, T) with ``trans[i, j]`` true when tag i may be followed
    by tag j, and ``end`` (T,). A sequence is well-formed exactly when it uses allowed ones only.

    Forbidden, for instance: ``O`` -> ``I-X`` (allowed in iob1), ``B-X`` -> ``I-Y``, ``S-X`` ->
    ``E-X``, ``O`` -> ``B-X`` in iob1, a start on ``I-``/``E-``/``L-`` (iob2, iobes, bilou) and an
    end on ``B-``/``I-`` (iobes, bilou).
    """
    parsed = _parsed_sentence(tag_names, scheme, "tag name {}")
    outside = ("O", "")
    # in iobes/bilou the sentence's end acts as an "O" that must follow a finished entity
    start = torch.tensor([_may_follow(outside, t, scheme) for t in parsed], dtype=torch.bool)
    trans = torch.tensor(
        [[_may_follow(a, b, scheme) for b in parsed] for a in parsed], dtype=torch.bool
    ).reshape(len(parsed), len(parsed))
    end = torch.tensor([_may_follow(t, outside, scheme) for t in parsed], dtype=torch.bool)
    return start, trans, end
