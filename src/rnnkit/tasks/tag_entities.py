"""Entity tags in the tag task: schemes, entity reports and entities out of ``predict``.

When every training tag is ``O`` or ``P-TYPE`` (:func:`~rnnkit.data.schemes.is_entity_tagset`),
the tag task is a named-entity tagger. The input's scheme (IOB1, IOB2, IOBES or BILOU) is detected
from the training tags (``data.scheme = "auto"``) or forced; the model trains and decodes in one
internal scheme (``data.internal_scheme``, IOBES by default), and what it outputs is written back
in the input's scheme. Decoding without a CRF repairs ill-formed spans
(:func:`~rnnkit.data.schemes.repair`: the spans conlleval reads); with ``--crf`` the CRF is
constrained to the scheme's allowed transitions, so its paths are well formed.

Reports score exact-match entity precision, recall and F1 (micro overall and per type, in the
input's scheme) beside the most-frequent-tag baseline (its tags repaired) and the memorisation
baseline (:class:`~rnnkit.metrics.entities.Memoriser`: each training entity string tagged wherever
it appears, longest match first); token accuracy stays as a secondary row.

An entity's ``score`` in ``predict`` is the model's probability of the entity's tags: without a CRF
the product of the per-token softmax probabilities of those tags; with a CRF the probability,
under the CRF, of that span's tag sequence (from forward-backward marginals).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch

from rnnkit.config import ConfigError
from rnnkit.data.labelled import batch_order
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
)
from rnnkit.metrics.entities import Memoriser
from rnnkit.tasks.tag_inputs import tag_in_windows
from rnnkit.training.devices import model_device

ILL_FORMED_SHARE = 0.01  # of the training sentences a forced scheme may find ill-formed

__all__ = [
    "INTERNAL",
    "EntityTags",
    "add_gold",
    "check_top_k",
    "conll_lines",
    "tag_sentences",
]

INTERNAL = "iobes"  # the scheme the model trains in unless data.internal_scheme says otherwise


@dataclass
class EntityTags:
    """The schemes of an entity tagger: ``scheme`` (the input's) and ``internal`` (the
    model's), and ``memory``: the training entities ``[tokens, type, count]`` that the
    memorisation baseline tags (saved with the run)."""

    scheme: str
    internal: str
    memory: list[list[Any]]

    @classmethod
    def detect(
        cls, tag_sentences: Sequence[Sequence[str]], scheme: str, internal: str, where: str
    ) -> EntityTags | None:
        """The schemes of the training tags, or ``None`` when they are not entity tags (with
        ``scheme="auto"``; a forced scheme on tags that are not entity tags is an error)."""
        tags = sorted({t for sentence in tag_sentences for t in sentence})
        if not is_entity_tagset(tags):
            if looks_like_entity_tags(tags):
                detect_scheme(tag_sentences)  # says which tag fits no scheme, and where
            if scheme == "auto":
                return None
            odd = next(t for t in tags if t != "O" and not is_entity_tagset([t]))
            raise ConfigError(
                "data.scheme",
                f"expected entity tags (O, or B-/I-/E-/S-/L-/U- and a type) in {where} for "
                f"scheme {scheme!r}, got the tag {odd!r}",
            )
        found = detect_scheme(tag_sentences) if scheme == "auto" else scheme
        prefixes = PREFIXES[found]
        odd = next((t for t in tags if t != "O" and t[0] not in prefixes), None)
        if odd is not None:
            raise ConfigError(
                "data.scheme", f"the tag {odd!r} of {where} is not a tag of scheme {found!r}"
            )
        if scheme != "auto":
            _check_well_formed(tag_sentences, found, where)
        return cls(found, internal, [])

    def remember(self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> None:
        """Keep the training entities (input-scheme ``tags``) for the memorisation baseline."""
        counts: Counter[tuple[tuple[str, ...], str]] = Counter()
        for words, sentence in zip(tokens, tags):
            for kind, start, end in spans(sentence, self.scheme):
                counts[tuple(words[start:end]), kind] += 1
        self.memory = [[list(words), kind, n] for (words, kind), n in counts.items()]

    def memoriser(self) -> Memoriser:
        """The memorisation baseline fitted on the remembered entities, in the input's scheme."""
        tokens, tags = [], []
        for words, kind, n in self.memory:
            entity = convert(["I-" + kind] * len(words), "iob1", self.scheme)
            tokens += [list(words)] * int(n)
            tags += [entity] * int(n)
        return Memoriser().fit(tokens, tags, self.scheme)

    def tag_set(self, tag_sentences: Sequence[Sequence[str]]) -> list[str]:
        """Every tag of the internal scheme for the types in ``tag_sentences`` (internal tags),
        so that any well-formed entity of a known type can be output."""
        kinds = {t[2:] for sentence in tag_sentences for t in sentence if t != "O"}
        prefixes = PREFIXES[self.internal]
        return sorted({"O", *(f"{p}-{kind}" for kind in kinds for p in prefixes)})

    def to_internal(self, tags: Sequence[str]) -> list[str]:
        return convert(list(tags), self.scheme, self.internal)

    def to_input(self, tags: Sequence[str]) -> list[str]:
        """Model tags (internal scheme) in the input's scheme, ill-formed spans repaired."""
        return convert(repair(list(tags), self.internal), self.internal, self.scheme)

    def repaired(self, tags: Sequence[str]) -> list[str]:
        """Tags in the input's scheme, ill-formed spans repaired."""
        return repair(list(tags), self.scheme)

    def to_dict(self) -> dict[str, Any]:
        return {"scheme": self.scheme, "internal": self.internal, "memory": self.memory}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> EntityTags | None:
        if not data:
            return None
        return cls(str(data["scheme"]), str(data["internal"]), list(data.get("memory", [])))

    def constrain(self, model: torch.nn.Module, tag_names: Sequence[str]) -> None:
        """Forbid the internal scheme's impossible transitions in the model's CRF (if any)."""
        crf = getattr(model, "crf", None)
        if crf is not None and hasattr(crf, "constrain"):
            crf.constrain(*allowed_transitions(list(tag_names), self.internal))


def scheme_option() -> tuple[str, ...]:
    """The choices of ``data.scheme``."""
    return ("auto", *SCHEMES)


# --------------------------------------------------------------------------- predict
@torch.no_grad()
def _token_items(model: Any, state: Any, sentences: list[list[str]], batch_size: int = 128):
    """Per sentence, per token ``(tag id, probability, span)``: the model's tag (Viterbi with a
    CRF, else the most probable), its probability (CRF marginal, else softmax), and on the first
    token of an entity of a CRF's path ``(length, probability of the entity's tags)`` (exact, from
    :meth:`~rnnkit.models.crf.CRF.span_probability`), else ``None``."""
    out: list[list[tuple[int, float, Any]]] = [[] for _ in sentences]
    for batch in batch_order([len(s) for s in sentences], batch_size, shuffle=False):
        inputs = state.batch([sentences[i] for i in batch], model_device(model))
        emissions = model(*inputs)  # (N, L, T)
        mask = model.mask(*inputs[:2])  # (N, L)
        sizes = mask.sum(dim=1).tolist()
        found: dict[tuple[int, int], tuple[int, float]] = {}  # (row, start) -> (length, p)
        if model.crf is None:
            probabilities = emissions.softmax(dim=-1)
            paths = probabilities.argmax(dim=-1)  # (N, L)
        else:
            probabilities = model.crf.marginals(emissions, mask)  # (N, L, T)
            paths = model.crf.decode(emissions, mask)  # (N, L)
            if state.entities is not None:
                found = _span_probabilities(model.crf, emissions, mask, paths, sizes, state)
        chosen = probabilities.gather(2, paths.unsqueeze(2)).squeeze(2)  # (N, L)
        for row, index in enumerate(batch):
            ids, ps = paths[row, : sizes[row]].tolist(), chosen[row, : sizes[row]].tolist()
            out[index] = [(i, p, found.get((row, t))) for t, (i, p) in enumerate(zip(ids, ps))]
    return out


def _span_probabilities(crf, emissions, mask, paths, sizes, state) -> dict:
    """``(row, start) -> (length, probability)`` of the entities of the CRF's ``paths`` (a
    length, not an end: the items of a long input's windows are put together again)."""
    rows = []
    for row, size in enumerate(sizes):
        names = [state.tags.itos[i] for i in paths[row, :size].tolist()]
        rows += [(row, start, end) for _, start, end in spans(names, state.entities.internal)]
    if not rows:
        return {}
    scores = crf.span_probability(emissions, mask, paths, rows).tolist()
    return {(row, start): (end - start, p) for (row, start, end), p in zip(rows, scores)}


@torch.no_grad()
def _nbest(model: Any, state: Any, sentences: list[list[str]], k: int, batch_size: int = 64):
    """Per sentence, the ``k`` best tag paths ``(ids, log-probability)`` of the model's CRF."""
    out: list[list[tuple[list[int], float]]] = [[] for _ in sentences]
    for batch in batch_order([len(s) for s in sentences], batch_size, shuffle=False):
        inputs = state.batch([sentences[i] for i in batch], model_device(model))
        emissions = model(*inputs)  # (N, L, T)
        found = model.crf.nbest(emissions, model.mask(*inputs[:2]), k)
        for row, index in enumerate(batch):
            out[index] = found[row]
    return out


def tag_sentences(
    model: Any, state: Any, kept: Sequence[tuple[int, list[str], str | None]], top_k: int | None
) -> dict[int, dict[str, Any]]:
    """The records of the non-blank inputs ``kept`` (``(line number, tokens, text)``, text the
    raw line the tokens were split from, else ``None``), by line number: ``tokens``, ``tags`` (in
    the input's scheme), for an entity tagger ``entities``, with ``top_k`` also ``top_k``."""
    was_training = model.training
    model.eval()
    try:
        sentences = [tokens for _, tokens, _ in kept]
        # a long input in windows (see tag_inputs); the N best paths read whole sentences
        items = tag_in_windows(lambda pieces: _token_items(model, state, pieces), sentences)
        best = _nbest(model, state, sentences, top_k) if top_k is not None else None
    finally:
        model.train(was_training)
    records = {}
    for index, (n, tokens, text) in enumerate(kept):
        ids = [item[0] for item in items[index]]
        record: dict[str, Any] = {"tokens": tokens, "tags": state.output_tags(ids)}
        if state.entities is not None:
            crf = model.crf is not None
            record["entities"] = _entities(state, tokens, items[index], text, crf)
        if best is not None:
            record["top_k"] = [
                {"tags": state.output_tags(path), "log_probability": round(value, 6)}
                for path, value in best[index]
            ]
        records[n] = record
    return records


def _entities(
    state: Any,
    tokens: Sequence[str],
    items: Sequence[tuple[int, float, Any]],
    text: str | None,
    crf: bool,
) -> list[dict[str, Any]]:
    """The entities of one sentence from its model tags and their probabilities ``items``;
    ``text``: the raw line its tokens were split from (character offsets), or ``None``."""
    internal = state.entities.internal
    names = repair([state.tags.itos[item[0]] for item in items], internal)
    offsets = _offsets(text, tokens) if text is not None else None
    found = []
    for kind, start, end in spans(names, internal):
        exact = items[start][2]
        # a repaired token (not the model's own tag) counts as uncertain: probability 0
        chosen = [
            item[1] if state.tags.itos[item[0]] == name else 0.0
            for item, name in zip(items[start:end], names[start:end])
        ]
        if exact is not None and exact[0] == end - start:
            score = exact[1]
        else:  # a CRF entity across the windows of a long input: the lowest marginal
            score = min(chosen) if crf else math.prod(chosen)
        record = {
            "type": kind,
            "start": start,
            "end": end,
            "text": " ".join(tokens[start:end]),
            "score": round(score, 6),
        }
        if offsets is not None:
            record["char_start"], record["char_end"] = offsets[start][0], offsets[end - 1][1]
            record["text"] = text[record["char_start"] : record["char_end"]]
        found.append(record)
    return found


def _offsets(text: str, tokens: Sequence[str]) -> list[tuple[int, int]] | None:
    """Each token's ``(start, end)`` characters in ``text`` (found in order), or ``None`` when
    a token is not in the text as written."""
    offsets, position = [], 0
    for token in tokens:
        start = text.find(token, position)
        if start < 0:
            return None
        position = start + len(token)
        offsets.append((start, position))
    return offsets


def add_gold(
    records: dict[int, dict[str, Any]],
    kept: Sequence[tuple[int, Any, Any]],
    gold: Sequence[Sequence[str]] | None,
) -> None:
    """Put each sentence's gold tags (``"gold"``, those of a tagged input file) in its record."""
    if gold is None:
        return
    for (n, *_), tags in zip(kept, gold):
        records[n]["gold"] = list(tags)


def _check_well_formed(tag_sentences: Sequence[Sequence[str]], scheme: str, where: str) -> None:
    """A forced ``scheme`` must read the training tags as they are written: more than
    :data:`ILL_FORMED_SHARE` of sentences that it would rewrite means another scheme (IOB2 tags
    forced as IOBES: a one-token entity is ``B-X``, not ``S-X``). A few ill-formed sentences are
    allowed: real data has them (WNUT-17's dev set has one)."""
    bad = [n for n, tags in enumerate(tag_sentences, 1) if repair(list(tags), scheme) != list(tags)]
    if len(bad) > ILL_FORMED_SHARE * len(tag_sentences):
        first = bad[0]
        shown = list(tag_sentences[first - 1])
        shown = shown[:12] + ["..."] if len(shown) > 12 else shown
        raise ConfigError(
            "data.scheme",
            f"expected the tags of {where} to be well-formed in scheme {scheme!r}, got "
            f"{len(bad):,} of {len(tag_sentences):,} sentences that are not (the first: sentence "
            f"{first}, {' '.join(shown)}); the detected scheme is "
            f"{detect_scheme(tag_sentences)!r}",
        )


def check_top_k(top_k: Any, has_crf: bool) -> int | None:
    """``top_k`` checked: ``None`` or an int >= 1, and only for a model with a CRF."""
    if top_k is None:
        return None
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ConfigError("top_k", f"expected a whole number >= 1, got {top_k!r}")
    if not has_crf:
        raise ConfigError(
            "top_k", "the N best tag sequences need a CRF: this run was trained without --crf"
        )
    return top_k


def conll_lines(records: Sequence[Mapping[str, Any]]) -> str:
    """Predictions as a CoNLL column file: ``token<TAB>tag`` a line (``token<TAB>gold<TAB>tag``
    when the records hold gold tags: the columns conlleval reads), a blank line after each
    sentence; skipped (blank) inputs write nothing."""
    out = []
    for record in records:
        tokens, tags = record.get("tokens") or [], record.get("tags") or []
        if not tokens:
            continue
        gold = record.get("gold")
        columns = [tokens, gold, tags] if gold is not None else [tokens, tags]
        out += ["\t".join(row) for row in zip(*columns)] + [""]
    return "".join(line + "\n" for line in out)
