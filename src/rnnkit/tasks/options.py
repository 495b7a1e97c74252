"""Settings that several tasks share, declared once (and the input helpers of
:mod:`rnnkit.data.inputs`, re-exported for the tasks).

:class:`RecurrentOptions` is the recurrent layer's part of every task's model section (``cell``,
``hidden_size``, ``num_layers`` and the regularisers): a task's section inherits it, adds its own
settings (``dropout`` and ``bidirectional`` where the task has them, with the task's own help) and
may give a setting another default by declaring it again with :func:`cell`, :func:`hidden` or
:func:`layers`. The other functions return a config field (see :func:`rnnkit.config.option`) with
the same name, help and checks in every task that uses it, so ``--cell``, ``--hidden`` or
``--data`` mean the same thing everywhere. The cell choices come from the layer registry, so a
cell registered later is accepted by every task.

Pretrained word vectors (``--embeddings FILE``, ``--embeddings-vocab``, ``--freeze-embeddings``):
a task declares :func:`embeddings_file` and :func:`embeddings_vocab` in its data section and
:func:`freeze_embeddings` in its model section, sets the embedding size's default to the file's
dimension in its ``defaults`` (:func:`vector_defaults`), extends its vocabulary where it builds it
(:func:`pretrained_vectors`) and puts the vectors into the new model (:func:`use_vectors`).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from torch import nn

from rnnkit.config import Config, ConfigError, at_least, fraction, is_in_memory, option
from rnnkit.data import embeddings as vectors_file
from rnnkit.data.inputs import held_out, numbered_lines, numbered_texts, records_for
from rnnkit.data.tokenizers import EOS, WordTokenizer
from rnnkit.data.vocab import Vocabulary
from rnnkit.formatting import count
from rnnkit.models.recurrent import RecurrentConfig
from rnnkit.nn import CELLS
from rnnkit.training.settings import TrainConfig

__all__ = [
    "RecurrentOptions",
    "cell",
    "data_file",
    "dropout",
    "embedding",
    "embeddings_file",
    "embeddings_vocab",
    "freeze_embeddings",
    "held_out",
    "hidden",
    "layers",
    "max_vocab",
    "min_freq",
    "numbered_lines",
    "numbered_texts",
    "pretrained_vectors",
    "records_for",
    "recurrent_dropout",
    "select_on",
    "selection",
    "training",
    "use_vectors",
    "val_file",
    "val_fraction",
    "vector_defaults",
    "weight_drop",
    "word_vectors",
    "zoneout",
]


def data_file(help: str, *, required: bool = True, aliases: tuple[str, ...] = ()) -> Any:
    """The training data file, ``data.train`` in every task (``--data`` on the command line);
    ``aliases`` are the task's older names of it, still accepted."""
    return option(
        None,
        help,
        flag="data",
        aliases=("train", *aliases),
        metavar="FILE",
        required=required,
        file=True,
    )


def val_file(help: str) -> Any:
    return option(None, help, metavar="FILE", file=True)


def val_fraction(what: str) -> Any:
    return option(
        0.1,
        f"share of the {what} held out for validation without a validation file",
        metavar="F",
        check=(lambda v: 0 < v < 1, "in (0, 1)"),
    )


def min_freq() -> Any:
    return option(
        1, "tokens seen fewer than N times in training map to <unk>", metavar="N", check=at_least(1)
    )


def max_vocab() -> Any:
    return option(
        50_000,
        "keep the N most frequent tokens, specials included (none: all)",
        metavar="N",
        check=at_least(2),
    )


def cell(default: str = "lstm") -> Any:
    return option(default, "recurrent cell", choices=lambda: tuple(CELLS))


def hidden(default: int) -> Any:
    return option(
        default, "hidden size (of each direction)", flag="hidden", metavar="H", check=at_least(1)
    )


def layers(default: int = 1) -> Any:
    return option(
        default, "stacked recurrent layers", flag="layers", metavar="N", check=at_least(1)
    )


def embedding(default: int) -> Any:
    return option(default, "embedding size", flag="embedding", metavar="E", check=at_least(1))


def dropout(default: float, where: str) -> Any:
    return option(default, f"dropout {where}", metavar="P", check=fraction())


def _probability(help: str) -> Any:
    return option(0.0, help, metavar="P", check=fraction())


def recurrent_dropout() -> Any:
    return _probability(
        "variational dropout of the state fed back into the recurrent layer: one mask per "
        "sequence, the same at every step (training only)"
    )


def weight_drop() -> Any:
    return _probability(
        "DropConnect on the recurrent weights weight_hh: one mask per forward pass, the same at "
        "every step (training only; AWD-LSTM)"
    )


def zoneout() -> Any:
    return _probability(
        "probability that each recurrent unit keeps its previous value at a step (h, and c in "
        "LSTMs; the expectation in evaluation)"
    )


@dataclass
class RecurrentOptions(Config):
    """The recurrent layer's settings in a task's model section (flat keys: ``model.cell``,
    ``model.hidden_size``...); what a :class:`~rnnkit.models.recurrent.RecurrentConfig` takes from
    the section is :meth:`recurrent`."""

    cell: str = cell()
    hidden_size: int = hidden(128)
    num_layers: int = layers()
    recurrent_dropout: float = recurrent_dropout()
    weight_drop: float = weight_drop()
    zoneout: float = zoneout()

    def recurrent(self) -> dict[str, Any]:
        """The settings of this section that a :class:`RecurrentConfig` takes (``dropout`` and
        ``bidirectional`` too, in the sections that have them)."""
        names = [f.name for f in dataclasses.fields(RecurrentConfig)]
        return {name: getattr(self, name) for name in names if hasattr(self, name)}


def training(task: str, **defaults: Any) -> Any:
    """The ``train`` section with the task's defaults; the output directory is ``runs/<task>``."""
    return option(factory=functools.partial(TrainConfig, out_dir=f"runs/{task}", **defaults))


def select_on() -> Any:
    # The cross-entropy keeps rising with the model's confidence after its accuracy stops improving
    # (SST-2: best by loss 82.0%, by accuracy 84.1%; UD EWT: 90.97% by loss, 91.68% at best).
    return option(
        "accuracy",
        "validation score that picks best.pt and drives early stopping: accuracy, or the loss",
        choices=("accuracy", "loss"),
    )


def selection(select_on: str) -> dict[str, Any]:
    """The ``select`` and ``maximize`` of :class:`~rnnkit.tasks.base.Setup` for ``select_on``."""
    return {"select": select_on, "maximize": select_on == "accuracy"}


# --------------------------------------------------------------------------- pretrained vectors
def embeddings_file() -> Any:
    """``data.embeddings``: pretrained word vectors (see :mod:`rnnkit.data.embeddings`)."""
    return option(
        None,
        "pretrained word vectors: a GloVe or word2vec text file (gzipped too); their dimension "
        "sets the embedding size (none: a random embedding)",
        metavar="FILE",
        file=True,
    )


def embeddings_vocab() -> Any:
    return option(
        "data",
        "words of the embeddings file added to the vocabulary: those in the training or "
        "validation data (data), or all of them (all)",
        choices=("data", "all"),
    )


def freeze_embeddings() -> Any:
    return option(False, "keep the pretrained word vectors fixed in training")


def vector_defaults(defaults: dict[str, Any], given: Mapping[str, Any], size: str) -> dict:
    """A task's ``defaults`` with the model's embedding size ``size`` (the field's name) set to
    the dimension of the vectors file that the settings ``given`` name in ``data.embeddings``
    (read from its first line): an embedding size given too then wins, and disagrees."""
    data = given.get("data")
    path = data.get("embeddings") if isinstance(data, Mapping) else None
    if not isinstance(path, (str, os.PathLike)) or path == "none":
        return defaults
    model = {**defaults.get("model", {}), size: vectors_file.vector_dimension(path)}
    return {**defaults, "model": model}


def pretrained_vectors(
    config: Any,
    saved: Any,
    vocab: Vocabulary,
    data: tuple[Iterable[Iterable[str]], Iterable[Iterable[str]]],
    log: Callable[[str], None],
    *,
    size: str = "embedding_dim",
) -> tuple[Vocabulary, vectors_file.WordVectors | None]:
    """``vocab`` extended with the words of the vectors file ``config.data.embeddings`` and the
    vectors read (see :mod:`rnnkit.data.embeddings`): ``vocab`` and ``None`` without a file or
    when resuming (``saved``: the checkpoint's task state, whose vocabulary has them). ``data``:
    the training and validation texts as tokens (lower-cased here with ``config.data.lower``);
    the training tokens' coverage goes to ``log``. ``size``: the model's embedding size field,
    which must equal the vectors' dimension."""
    d, model = config.data, config.model
    _check_vectors(config)
    if d.embeddings is None or saved is not None:
        return vocab, None
    dim = vectors_file.vector_dimension(d.embeddings)
    if getattr(model, size) != dim:
        raise ConfigError(
            f"model.{size}",
            f"expected {dim}, the dimension of the vectors in embeddings file {d.embeddings}, "
            f"got {getattr(model, size)}",
        )
    lower, specials = getattr(d, "lower", False), {vocab.pad_token, vocab.unk_token}
    train, val = ((w.lower() if lower else w for s in part for w in s) for part in data)
    counts = Counter(w for w in train if w not in specials)  # words only, not <unk>
    wanted = None if d.embeddings_vocab == "all" else {*counts, *val}
    vectors = vectors_file.read_vectors(d.embeddings, wanted, lower=lower)
    extended = vectors_file.extend_vocabulary(vocab, vectors)
    log(
        f"{d.embeddings}: {len(vectors):,} of {count(vectors.rows, 'vector')} ({dim} dimensions) "
        f"used, {count(len(extended) - len(vocab), 'word')} added to the vocabulary"
    )
    log(vectors_file.coverage(counts, vectors))
    return extended, vectors


def word_vectors(
    config: Any, tokenizer: Any, texts: tuple[str, str], log: Callable[[str], None]
) -> tuple[Any, vectors_file.WordVectors | None]:
    """A new language model's tokenizer with the words of the vectors file in its vocabulary, and
    the vectors (see :func:`pretrained_vectors`; ``texts``: the training and validation text):
    only a word tokenizer takes them (``<eos>`` is not a word: not counted in the coverage)."""
    if not isinstance(tokenizer, WordTokenizer):
        _check_vectors(config)  # characters and subwords have none: one line if some were given
        return tokenizer, None
    train, val = (
        [(w for w in tokenizer.split(text, tokenizer.prose) if w != EOS)] for text in texts
    )
    vocab, vectors = pretrained_vectors(
        config, None, tokenizer.vocab, (train, val), log, size="embedding_size"
    )
    return (
        tokenizer if vocab is tokenizer.vocab else WordTokenizer(vocab, tokenizer.prose)
    ), vectors


def _check_vectors(config: Any) -> None:
    """Vectors need word tokens; freezing needs vectors."""
    d = config.data
    if is_in_memory(d.embeddings):  # a data-file setting takes objects; vectors come from files
        given = type(getattr(d.embeddings, "value", d.embeddings)).__name__
        raise ConfigError("data.embeddings", f"expected a path to a vectors file, got {given}")
    if d.embeddings is None and config.model.freeze_embeddings:
        raise ConfigError(
            "model.freeze_embeddings", "needs pretrained vectors (data.embeddings), got none"
        )
    if d.embeddings is not None and getattr(d, "tokenizer", "word") != "word":
        raise ConfigError(
            "data.embeddings", f"word vectors need the word tokenizer, got {d.tokenizer!r}"
        )


def use_vectors(model: nn.Module, vocab: Vocabulary | None, vectors: Any, config: Any) -> None:
    """Put ``vectors`` (from :func:`pretrained_vectors`; ``None``: a resumed run, whose vectors
    are in its checkpoint) into the ``embedding`` of a new ``model``, fixed with
    ``model.freeze_embeddings``; the settings are checked here too (a task may extend its
    vocabulary only for some of its tokenizers, or build a model without a word embedding)."""
    _check_vectors(config)
    embedding = getattr(model, "embedding", None)
    if embedding is None:
        if config.data.embeddings is not None:
            raise ConfigError(
                "data.embeddings",
                f"this model has no word embedding to start from vectors ({type(model).__name__})",
            )
        return
    vectors_file.put_vectors(embedding, vocab, vectors, freeze=config.model.freeze_embeddings)
