"""The language model's defaults for each tokenizer.

A character model and a word model want different settings: a word model over a 10,000-word
vocabulary needs dropout, tied embeddings and a different learning rate to generalise, while the
character defaults were chosen for many small, fast updates. :data:`TOKENIZER_DEFAULTS` holds, for
each ``data.tokenizer``, the settings that differ from the character defaults, as nested tables
(``{"model": {...}, "train": {...}, "data": {...}}``). A user's own settings always win.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TOKENIZER_DEFAULTS"]

TOKENIZER_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "char": {},
    "word": {},
    "bpe": {},
    "unigram": {},
}
