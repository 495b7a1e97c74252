"""Turning files into batches: vocabularies, word and character tokenizers, text corpora with
batches for truncated back-propagation through time, labelled text (TSV/CSV), tagged text
(CoNLL-U and 2-column CoNLL), time series (CSV reading, missing values, chronological splits,
sliding windows, scaling fitted on the training split), panels of many series (long and wide
files, frequencies and calendars, per-series scaling, window sampling) and the seeded synthetic tasks of the
tutorials (sine wave, mean sign, sentence completion, adding problem, copy task).
"""

from rnnkit.data.conll import (
    TaggedCorpus,
    read_conll,
    read_conllu,
    read_tagged,
    read_tokens,
    split_sentences,
)
from rnnkit.data.inputs import held_out, numbered_lines, numbered_texts, read_source, records_for
from rnnkit.data.labelled import (
    BucketedBatches,
    LabelledText,
    Tokenizer,
    batch_order,
    build_label_vocab,
    encode_labels,
    pad_sequences,
    read_labelled,
)
from rnnkit.data.panel import Panel, concat_panels, read_panel
from rnnkit.data.panel_time import Frequency
from rnnkit.data.panel_windows import WindowSampler
from rnnkit.data.synthetic import (
    SineWave,
    adding_problem,
    copy_task,
    mean_sign,
    sentence_completion,
    sine_wave,
)
from rnnkit.data.text import (
    Corpus,
    TBPTTBatch,
    TBPTTBatches,
    builtin_corpus,
    char_vocabulary,
    encode_text,
    load_corpus,
    read_text,
    split_text,
)
from rnnkit.data.timeseries import (
    Split,
    StandardScaler,
    TimeSeries,
    calendar_features,
    chronological_split,
    fill_missing,
    make_windows,
    next_dates,
    read_series,
    window_starts,
)
from rnnkit.data.vocab import PAD, UNK, Vocabulary

__all__ = [
    "PAD",
    "UNK",
    "BucketedBatches",
    "Corpus",
    "Frequency",
    "LabelledText",
    "Panel",
    "SineWave",
    "Split",
    "StandardScaler",
    "TBPTTBatch",
    "TBPTTBatches",
    "TaggedCorpus",
    "TimeSeries",
    "Tokenizer",
    "Vocabulary",
    "WindowSampler",
    "adding_problem",
    "batch_order",
    "build_label_vocab",
    "builtin_corpus",
    "calendar_features",
    "char_vocabulary",
    "chronological_split",
    "concat_panels",
    "copy_task",
    "encode_labels",
    "encode_text",
    "fill_missing",
    "held_out",
    "load_corpus",
    "make_windows",
    "mean_sign",
    "next_dates",
    "numbered_lines",
    "numbered_texts",
    "pad_sequences",
    "read_conll",
    "read_conllu",
    "read_labelled",
    "read_panel",
    "read_series",
    "read_source",
    "read_tagged",
    "read_text",
    "read_tokens",
    "records_for",
    "sentence_completion",
    "sine_wave",
    "split_sentences",
    "split_text",
    "window_starts",
]
