"""TEMPORARY stand-ins for rnnkit.data.schemes / rnnkit.metrics.entities (issue 18, helper
``schemes``), removed when theirs land on main."""

from __future__ import annotations

from collections import Counter, defaultdict

import torch

from rnnkit.errors import RnnkitError

__all__: list[str] = []

SCHEMES = ("iob1", "iob2", "iobes", "bilou")
_PREFIXES = {"iob1": "BI", "iob2": "BI", "iobes": "BIES", "bilou": "BILU"}


def _split(tag: str) -> tuple[str, str]:
    if tag == "O":
        return "O", ""
    return tag[0], tag[2:]


def is_entity_tagset(tags) -> bool:
    tags = set(tags)
    return bool(tags) and all(
        t == "O" or (len(t) > 2 and t[0] in "BIESLU" and t[1] == "-") for t in tags
    )


def detect_scheme(tag_sentences) -> str:
    prefixes = {t[0] for s in tag_sentences for t in s if t != "O"}
    if prefixes & set("LU"):
        return "bilou"
    if prefixes & set("ES"):
        return "iobes"
    for sentence in tag_sentences:
        previous = "O"
        for tag in sentence:
            p, kind = _split(tag)
            if p == "I" and (previous == "O" or _split(previous)[1] != kind):
                return "iob1"
            previous = tag
    return "iob2"


def spans(tags, scheme):
    out, start, kind = [], None, None
    for i, tag in enumerate([*tags, "O"]):
        p, k = _split(tag)
        p = {"L": "E", "U": "S"}.get(p, p)
        ends_before = start is not None and (
            p in "OBS" or k != kind or (scheme == "iob1" and p == "B")
        )
        if scheme in ("iobes", "bilou") and start is not None and p in "IE" and k == kind:
            ends_before = False
        if ends_before:
            out.append((kind, start, i))
            start, kind = None, None
        if (p in "BIS" or p == "E") and start is None:
            start, kind = i, k
        if p in "SE" and start is not None:
            out.append((kind, start, i + 1))
            start, kind = None, None
    return out


def to_tags(entities, length, scheme):
    tags = ["O"] * length
    previous_end, previous_kind = -1, None
    for kind, start, end in entities:
        for i in range(start, end):
            tags[i] = f"I-{kind}"
        if scheme == "iob1":
            if start == previous_end and kind == previous_kind:
                tags[start] = f"B-{kind}"
        elif scheme == "iob2":
            tags[start] = f"B-{kind}"
        else:
            single, last = ("S", "E") if scheme == "iobes" else ("U", "L")
            if end - start == 1:
                tags[start] = f"{single}-{kind}"
            else:
                tags[start], tags[end - 1] = f"B-{kind}", f"{last}-{kind}"
            if scheme == "bilou":
                for i in range(start + 1, end - 1):
                    tags[i] = f"I-{kind}"
        previous_end, previous_kind = end, kind
    return tags


def convert(tags, source, target):
    return to_tags(spans(tags, source), len(tags), target)


def repair(tags, scheme):
    return convert(tags, scheme, scheme)


def allowed_transitions(tag_names, scheme):
    n = len(tag_names)
    start, end = torch.ones(n, dtype=torch.bool), torch.ones(n, dtype=torch.bool)
    trans = torch.ones(n, n, dtype=torch.bool)
    for j, b in enumerate(tag_names):
        pb, kb = _split(b)
        pb = {"L": "E", "U": "S"}.get(pb, pb)
        if scheme != "iob1":
            start[j] = pb in "OBS"
        if scheme in ("iobes", "bilou"):
            end[j] = pb in "OES"
        for i, a in enumerate(tag_names):
            pa, ka = _split(a)
            pa = {"L": "E", "U": "S"}.get(pa, pa)
            if scheme in ("iobes", "bilou"):
                inside = pa in "BI"
                ok = (pb in "IE" and ka == kb) if inside else pb in "OBS"
            elif scheme == "iob2":
                ok = pb != "I" or (pa in "BI" and ka == kb)
            else:
                ok = not (pb == "B" and (pa == "O" or ka != kb))
            trans[i, j] = ok
    return start, trans, end


def entity_scores(gold, predicted, scheme):
    g_all = {(n, *s) for n, sentence in enumerate(gold) for s in spans(sentence, scheme)}
    p_all = {(n, *s) for n, sentence in enumerate(predicted) for s in spans(sentence, scheme)}

    def prf(g, p):
        tp = len(g & p)
        precision = tp / len(p) if p else 0.0
        recall = tp / len(g) if g else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": len(g),
            "predicted": len(p),
        }

    out = prf(g_all, p_all)
    kinds = sorted({s[1] for s in g_all | p_all})
    out["types"] = {
        k: prf({s for s in g_all if s[1] == k}, {s for s in p_all if s[1] == k}) for k in kinds
    }
    return out


class Memoriser:
    def fit(self, tokens, tags, scheme):
        counts = defaultdict(Counter)
        for words, sentence in zip(tokens, tags):
            for kind, start, end in spans(sentence, scheme):
                counts[tuple(words[start:end])][kind] += 1
        self.entities = {k: c.most_common(1)[0][0] for k, c in counts.items()}
        self.longest = max(map(len, self.entities), default=0)
        self.scheme = scheme
        return self

    def tag(self, tokens):
        found, i = [], 0
        while i < len(tokens):
            for n in range(min(self.longest, len(tokens) - i), 0, -1):
                kind = self.entities.get(tuple(tokens[i : i + n]))
                if kind is not None:
                    found.append((kind, i, i + n))
                    i += n
                    break
            else:
                i += 1
        return to_tags(found, len(tokens), self.scheme)


def _unused() -> None:
    raise RnnkitError("unused")
