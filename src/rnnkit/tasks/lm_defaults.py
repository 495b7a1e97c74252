"""The language model's defaults for each tokenizer.

A character model and a word model want different settings: a word model over a 10,000-word
vocabulary needs dropout, tied embeddings and a different learning rate to generalise, while the
character defaults were chosen for many small, fast updates. :data:`TOKENIZER_DEFAULTS` holds, for
each ``data.tokenizer``, the settings that differ from the character defaults, as nested tables
(``{"model": {...}, "train": {...}, "data": {...}}``). A user's own settings always win.
"""

from __future__ import annotations

from typing import Any

__all__ = ["TOKENIZER_DEFAULTS", "WORD_DEFAULTS"]

# The word model (docs/language-model.md, "Word-level models"; benchmarks/word_lm.py): the
# recipe of the small LSTM of Zaremba et al. (2 x 200, sequences of 35 words) with the field's
# later gains (tied embeddings, Press & Wolf 2017; AdamW with a cosine schedule) and an exact
# adaptive softmax, which on 2 CPU cores more than doubles the words per second: the 10,000-word
# output layer is most of a step's work. Batches of 32 streams: more, smaller updates beat
# larger batches within minutes (validation perplexity 417 against 557 after the same CPU time).
WORD_DEFAULTS: dict[str, dict[str, Any]] = {
    "model": {
        "cell": "lstm",
        "num_layers": 2,
        "hidden_size": 200,
        "embedding_size": 200,
        "tie_weights": True,
        "dropout": 0.2,
        "adaptive_cutoffs": [1000, 4000, 20000],
    },
    "train": {
        "max_steps": 12000,
        "batch_size": 32,
        "lr": 6e-3,
        "warmup_steps": 100,
        "min_lr_ratio": 0.01,
        "weight_decay": 0.01,
        "clip_value": 0.5,
        "eval_every": 1000,
    },
    "data": {"seq_len": 35},
}

TOKENIZER_DEFAULTS: dict[str, dict[str, dict[str, Any]]] = {
    "char": {},
    "word": WORD_DEFAULTS,
    "bpe": {},
    "unigram": {},
}
