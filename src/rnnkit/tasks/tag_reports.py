"""The tag task's reports: token accuracy and per-tag F1 of plain tags (part of speech...),
entity precision, recall and F1 of entity tags (see :mod:`~rnnkit.tasks.tag_entities`), each beside
its baselines, and the validation score that picks ``best.pt``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rnnkit.metrics.classification import per_tag_f1, token_accuracy
from rnnkit.metrics.entities import entity_scores
from rnnkit.tasks import base
from rnnkit.tasks.tag_entities import EntityTags

__all__ = [
    "BASELINE",
    "MEMORISER",
    "baseline_tags",
    "entity_report",
    "entity_task_scores",
    "names",
    "selection",
    "tag_report",
    "tag_scores",
]

BASELINE, MEMORISER = "most-frequent-tag", "memoriser"


def tag_scores(
    predicted: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], tags: Sequence[str]
) -> tuple[dict[str, dict[str, float]], float]:
    """Per-tag precision/recall/F1/support and their macro-F1, over the tags (in ``tags`` order)
    that occur in ``gold`` or ``predicted``: a tag absent from both does not count."""
    seen = {t for sentence in [*predicted, *gold] for t in sentence}
    scores = per_tag_f1(predicted, gold, [t for t in tags if t in seen])
    return scores, sum(s["f1"] for s in scores.values()) / max(len(scores), 1)


def entity_metrics(
    entities: EntityTags, predicted: list[list[str]], gold: list[list[str]]
) -> dict[str, Any]:
    """Token accuracy and entity F1 of model tags ``predicted`` against ``gold`` (both in the
    internal scheme), scored in the input's scheme."""
    pred = [entities.to_input(s) for s in predicted]
    truth = [entities.to_input(s) for s in gold]
    return _scored(pred, truth, entities.scheme)


def _scored(pred: list[list[str]], truth: list[list[str]], scheme: str) -> dict[str, Any]:
    right = sum(p == t for ps, ts in zip(pred, truth) for p, t in zip(ps, ts))
    total = max(sum(map(len, truth)), 1)
    return {"accuracy": right / total, **entity_scores(truth, pred, scheme)}


def entity_report(
    entities: EntityTags,
    tokens: Sequence[Sequence[str]],
    model_tags: list[list[str]],
    baseline_tags: list[list[str]],
    gold: list[list[str]],
    title: str,
) -> base.Report:
    """Entity precision/recall/F1 and token accuracy of the model, the most-frequent-tag
    baseline and the memoriser, and the model's per-type scores (``model_tags`` and ``gold`` in
    the internal scheme, ``baseline_tags`` in the input's)."""
    truth = [entities.to_input(s) for s in gold]
    memoriser = entities.memoriser()
    columns = {
        "model": _scored([entities.to_input(s) for s in model_tags], truth, entities.scheme),
        BASELINE: _scored([entities.repaired(s) for s in baseline_tags], truth, entities.scheme),
        MEMORISER: _scored(memoriser.tag([list(s) for s in tokens]), truth, entities.scheme),
    }
    rows = {
        f"entity {label}": {name: scores[key] for name, scores in columns.items()}
        for key, label in (("f1", "F1"), ("precision", "precision"), ("recall", "recall"))
    }
    rows["token accuracy"] = {name: scores["accuracy"] for name, scores in columns.items()}
    model = columns["model"]
    width = max(12, *(len(kind) + 2 for kind in model["types"]))
    details = [
        (
            f"entities: {int(model['support']):,} in the data, {int(model['predicted']):,} "
            f"predicted (scheme {entities.scheme}; the model's {entities.internal})"
        ),
        "per-type scores of the model:",
        f"{'type':<{width}}{'precision':>10}{'recall':>10}{'F1':>8}{'support':>9}",
    ]
    details += [
        f"{kind:<{width}}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>8.4f}"
        f"{int(s['support']):>9}"
        for kind, s in sorted(model["types"].items())
    ]
    return base.Report(title, rows, details=details)


def names(state: Any, rows: Sequence[Sequence[int]]) -> list[list[str]]:
    return [[state.tags.itos[i] for i in row] for row in rows]


def baseline_tags(state: Any, tokens: Sequence[Sequence[str]]) -> list[list[str]]:
    """The most-frequent-tag baseline's tags of every sentence."""
    return [[state.word_tag.get(w, state.default) for w in s] for s in tokens]


def tag_report(predicted, metrics: dict[str, float], state: Any, data, title: str) -> base.Report:
    """The model's tags (ids) and ``metrics`` beside the most-frequent-tag baseline on ``data``,
    ``(sentences, gold tag ids)``, and the model's per-tag scores."""
    tags, (tokens, gold_ids) = state.tags.itos, data
    model_tags, gold = names(state, predicted), names(state, gold_ids)
    base_tags = baseline_tags(state, tokens)
    per_tag, model_f1 = tag_scores(model_tags, gold, tags)
    rows = {
        "token accuracy": {
            "model": metrics["accuracy"],
            BASELINE: token_accuracy(base_tags, gold),
        },
        "macro-F1": {"model": model_f1, BASELINE: tag_scores(base_tags, gold, tags)[1]},
    }
    width = max(12, *(len(str(tag)) + 2 for tag in per_tag))
    details = [
        "per-tag F1 of the model:",
        f"{'tag':<{width}}{'precision':>10}{'recall':>10}{'F1':>8}{'support':>9}",
    ]
    details += [
        f"{tag!s:<{width}}{s['precision']:>10.4f}{s['recall']:>10.4f}{s['f1']:>8.4f}"
        f"{int(s['support']):>9}"
        for tag, s in per_tag.items()
    ]
    return base.Report(title, rows, details=details)


def selection(select_on: str, state: Any) -> dict[str, Any]:
    """The ``select`` and ``maximize`` of the setup: ``auto`` is entity F1 for entity tags."""
    if select_on == "auto":
        select_on = "f1" if state.entities is not None else "accuracy"
    return {"select": select_on, "maximize": select_on != "loss"}


def entity_task_scores(
    state: Any, tokens, predicted, gold, loss: float, title: str, baselines: bool
) -> base.Scores:
    """:meth:`TagTask.score` of an entity tagger: token accuracy and entity F1 (as ``f1``)."""
    model_tags, gold_tags = names(state, predicted), names(state, gold)
    scored = entity_metrics(state.entities, model_tags, gold_tags)
    metrics = {"loss": loss, "accuracy": scored["accuracy"], "f1": scored["f1"]}
    if not baselines:
        return base.Scores(metrics)
    base_tags = baseline_tags(state, tokens)
    report = entity_report(state.entities, tokens, model_tags, base_tags, gold_tags, title)
    return base.Scores(metrics, report)
