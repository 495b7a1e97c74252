"""The tagger's defaults for entity tags (``B-PER``, ``I-LOC``, ``O``...).

Part-of-speech tags and entity tags want different settings: an entity is a span whose tags must
agree (``I-PER`` never follows ``B-LOC``), and most test entities are unseen capitalised words.
:data:`ENTITY_DEFAULTS` holds the settings that differ from the tagger's defaults when the
training tags are entity tags, as nested tables (``{"model": {...}, "data": {...}}``) in the
shape of :data:`rnnkit.tasks.lm_defaults.TOKENIZER_DEFAULTS`. A user's own settings always win.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ENTITY_DEFAULTS"]

# Measured on WikiANN English (docs/ner.md, "Features for entities"): dev entity F1 (seqeval)
# after 2,000 steps, one CPU thread, seed 1. The CRF is most of the gain (61.0 -> 70.6) at no cost
# a step; the word shapes add a little (71.0) at no cost a step; lr 4e-3 added 2.0 points at 2,000
# steps (measured with --no-lower: 70.8 -> 72.8). Kept as they were: lower-cased words (--no-lower
# scored 0.3-0.7 lower) and the character CNN (the character BiLSTM scored the same, 70.9 against
# 70.8, for 6-10% more CPU time a step).
ENTITY_DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {"use_crf": True, "casing": True},
    "train": {"lr": 4e-3},
}
