"""What ``rnnkit export`` traces of a model (:class:`ExportSpec`), built by one helper per kind of
model; a task that can be exported (:class:`~rnnkit.tasks.capabilities.Exportable`) returns one
from its ``export_spec``:

- :func:`language_model_spec`: one step of generation, ``(ids (N, L), h, [c]) -> (logits, h, [c])``
  with the recurrent state in and out, so that a program generates text with the file alone;
- :func:`classifier_spec`: ``(tokens or features, lengths) -> logits``;
- :func:`tagger_spec`: ``(words, lengths, [chars]) -> emissions``; a CRF's Viterbi decoding runs
  outside the file, from the transition scores stored in its metadata;
- :func:`forecaster_spec`: ``(window, [future]) -> forecast``, in the data's original units;

and :func:`tokenizer_metadata`, the rules that turn a text into a classifier's or tagger's ids.

The exported copy runs its recurrent layer on PyTorch's fused kernels (``backend="native"``), which
both exporters turn into one recurrent operator (ONNX ``LSTM``/``GRU``/``RNN``, ``aten::lstm``...)
whose batch size and sequence length stay free. A layer without a kernel (the extended cells) or
with ``zoneout`` (its expectation acts at every step in evaluation, which the kernels cannot do)
runs rnnkit's reference loop, which tracing unrolls into a fixed number of steps: such a model is
refused, except for a language model's step, whose single step needs no loop.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.labelled import WORD_RE
from rnnkit.errors import RnnkitError
from rnnkit.nn import Recurrent

__all__ = [
    "ExportSpec",
    "classifier_spec",
    "forecaster_spec",
    "language_model_spec",
    "tagger_spec",
    "tokenizer_metadata",
]


@dataclass
class ExportSpec:
    """What :meth:`Task.export_spec` hands ``rnnkit export`` (see :mod:`rnnkit.export`).

    ``module`` is what is traced: a copy of the task's model in evaluation mode, its layers on the
    native backend where they have a kernel, taking and returning tensors only. ``make_inputs(N,
    L)`` gives valid example inputs of batch size N and sequence length L (``length``, if set, is
    the one length the export takes: a language model's step on a layer without a native kernel).
    ``dynamic_axes`` maps an input or output name to ``{dim: symbol}`` of its dimensions that vary
    (``"N"``, ``"L"``...); ``metadata`` holds plain strings stored in the file (vocabularies...).
    """

    module: nn.Module
    make_inputs: Callable[[int, int], tuple[torch.Tensor, ...]]
    input_names: list[str]
    output_names: list[str]
    dynamic_axes: dict[str, dict[int, str]]
    metadata: dict[str, str] = field(default_factory=dict)
    length: int | None = None
    note: str = ""  # a line for the user: what the file computes, what runs outside it


# --------------------------------------------------------------------------- preparing the copy
def _exportable_copy(model: nn.Module, what: str, step: bool = False) -> nn.Module:
    """A copy of ``model`` in evaluation mode whose recurrent layer runs on the native backend.

    The regularisers that are the identity in evaluation (recurrent dropout, weight drop) are
    switched off on the copy. ``step``: the copy only ever runs one step (a language model's
    generation step), so a layer without a kernel may run its reference loop, which then has a
    single step to unroll."""
    model = copy.deepcopy(model).eval()
    layer = getattr(model, "rnn", None)
    if not isinstance(layer, Recurrent):
        raise RnnkitError(f"cannot export this {what}: it has no rnnkit recurrent layer")
    layer.recurrent_dropout = layer.weight_drop = 0.0
    cell = type(layer.cells[0]).__name__
    name = getattr(getattr(model, "config", None), "cell", None)
    cell = f"cell {name!r}: {cell}" if name else cell
    reason = None
    if layer.native_mode() is None:
        reason = f"{cell} has no fused PyTorch kernel, so it runs rnnkit's reference loop"
    elif layer.zoneout:
        reason = (
            f"zoneout={layer.zoneout} acts at every step in evaluation (its expectation), which "
            "PyTorch's fused kernels cannot do, so it runs rnnkit's reference loop"
        )
    if reason is None:
        layer.backend = "native"
        for inner in model.modules():  # a tagger's character BiLSTM: plain lstm, no regulariser
            if isinstance(inner, Recurrent) and inner is not layer and inner.native_mode():
                inner.backend = "native"
    elif step:
        layer.backend = "reference"
        layer.scan_mode = "step"
    else:
        raise RnnkitError(
            f"cannot export this {what}: its recurrent layer ({reason}, which tracing unrolls "
            "into a fixed number of steps: the file could not take other sequence lengths); the "
            "cells rnn, lstm and gru without zoneout export"
        )
    return model


def _lengths(batch: int, length: int, generator: torch.Generator) -> Tensor:
    """``(N,)`` lengths in [1, L] with the longest L and, for L > 1, a shorter one: tracing keeps
    the padded path only if the example has padding."""
    lengths = torch.randint(1, length + 1, (batch,), generator=generator)
    lengths[0] = length
    if batch > 1:
        lengths[-1] = max(1, length // 2)
    return lengths


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def to_json(value: Any) -> str:
    """``value`` as a metadata string (JSON, non-ASCII kept)."""
    return json.dumps(value, ensure_ascii=False)


# --------------------------------------------------------------------------- language models
class _LanguageModelStep(nn.Module):
    """``(ids (N, L), h (layers, N, H)[, c]) -> (logits (N, L, V), h, [c])``."""

    def __init__(self, model: nn.Module, lstm: bool) -> None:
        super().__init__()
        self.model = model
        self.lstm = lstm

    def forward(self, ids: Tensor, h: Tensor, c: Tensor | None = None):
        state = (h, c) if self.lstm else h
        logits, state = self.model(ids, state)  # (N, L, V)
        if self.lstm:
            return logits, state[0], state[1]
        return logits, state


def language_model_spec(model: nn.Module, vocab: Any, task: str) -> ExportSpec:
    """One step of a :class:`~rnnkit.models.LanguageModel` with its state in and out; the file's
    metadata holds the vocabulary (``vocab``: a JSON list, id -> character) and the ids never to
    generate (``banned_ids``: padding and unknown)."""
    copy_ = _exportable_copy(model, f"{task} model", step=True)
    config = copy_.config
    lstm = len(copy_.rnn.cells[0].state_sizes) == 2
    sizes = copy_.rnn.cells[0].state_sizes
    layers, vocab_size = config.num_layers, config.vocab_size
    fixed = copy_.rnn.backend != "native"

    def make_inputs(batch: int, length: int) -> tuple[Tensor, ...]:
        g = _generator(batch * 1000 + length)
        ids = torch.randint(0, vocab_size, (batch, 1 if fixed else length), generator=g)
        state = [0.5 * torch.randn(layers, batch, size, generator=g) for size in sizes]
        return (ids, *state)

    names = ["h", "c"] if lstm else ["h"]
    axes: dict[str, dict[int, str]] = {"ids": {0: "N"}, "logits": {0: "N"}}
    if not fixed:
        axes["ids"][1] = axes["logits"][1] = "L"
    for name in names:
        axes[name] = axes[f"{name}_out"] = {1: "N"}
    return ExportSpec(
        _LanguageModelStep(copy_, lstm),
        make_inputs,
        ["ids", *names],
        ["logits", *(f"{name}_out" for name in names)],
        axes,
        {"vocab": to_json(list(vocab.itos)), "banned_ids": to_json(list(vocab.special_ids))},
        length=1 if fixed else None,
        note="one step of generation: feed ids with the state, read the next character's logits "
        "and the new state (zeros to start)"
        + (
            f"; {type(copy_.rnn.cells[0]).__name__} runs one step at a time (L = 1)"
            if fixed
            else ""
        ),
    )


# --------------------------------------------------------------------------- tokenizer rules
def tokenizer_metadata(
    kind: str, lower: bool, tokens: list[str], pad_id: int, unk_id: int, **extra: Any
) -> dict[str, str]:
    """What a program needs to turn a text into the file's input ids without rnnkit, as metadata
    strings (JSON values): ``lower`` (lower-case the text first), ``split`` (``{"kind": "word",
    "findall": PATTERN}``: the tokens are Python ``re.findall(PATTERN, text)``, ``\\w`` Unicode;
    or ``{"kind": "char"}``: every character is a token), ``vocab`` (id -> token), ``pad_id`` and
    ``unk_id`` (the id of a token not in ``vocab``), and ``extra`` (``max_length``...)."""
    split = {"kind": "word", "findall": WORD_RE.pattern} if kind == "word" else {"kind": kind}
    rules = {"lower": lower, "split": split, "vocab": list(tokens), "pad_id": pad_id}
    return {key: to_json(value) for key, value in {**rules, "unk_id": unk_id, **extra}.items()}


# --------------------------------------------------------------------------- classifiers
class _Classifier(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        return self.model(x, lengths)  # (N, C)


def classifier_spec(model: nn.Module, task: str, metadata: dict[str, str]) -> ExportSpec:
    """A :class:`~rnnkit.models.SequenceClassifier`: ``(tokens (N, L) or features (N, L, F),
    lengths (N,)) -> logits (N, C)``; padded steps past a sequence's length change nothing."""
    copy_ = _exportable_copy(model, f"{task} model")
    config = copy_.config
    tokens = config.vocab_size > 0
    name = "tokens" if tokens else "features"

    def make_inputs(batch: int, length: int) -> tuple[Tensor, ...]:
        g = _generator(batch * 1000 + length)
        if tokens:
            x = torch.randint(0, config.vocab_size, (batch, length), generator=g)
        else:
            x = torch.randn(batch, length, config.input_size, generator=g)
        return x, _lengths(batch, length, g)

    axes = {name: {0: "N", 1: "L"}, "lengths": {0: "N"}, "logits": {0: "N"}}
    return ExportSpec(
        _Classifier(copy_), make_inputs, [name, "lengths"], ["logits"], axes, metadata
    )


# --------------------------------------------------------------------------- taggers
class _Tagger(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, words: Tensor, lengths: Tensor, *features: Tensor) -> Tensor:
        chars = features[0] if self.model.char_embedding is not None else None
        shapes = features[-1] if self.model.casing_embedding is not None else None
        return self.model(words, lengths, chars, shapes)  # (N, L, T)


def tagger_spec(model: nn.Module, task: str, metadata: dict[str, str]) -> ExportSpec:
    """A :class:`~rnnkit.models.SequenceTagger`: ``(words (N, L), lengths (N,)[, chars (N, L, W)]
    [, shapes (N, L)]) -> emissions (N, L, T)``. With a CRF, the best tag path is its Viterbi
    decoding of the emissions, a loop over the steps that runs outside the file: the metadata key
    ``crf`` holds its scores (``transitions`` (T, T) from tag i to tag j, ``start`` (T,), ``end``
    (T,)) and, when it is constrained, its bool masks ``allowed_start``, ``allowed_transitions``,
    ``allowed_end`` (False: forbidden, a score of -inf)."""
    copy_ = _exportable_copy(model, f"{task} model")
    config = copy_.config
    chars = copy_.char_embedding is not None
    metadata = dict(metadata)
    note = "tag scores per word: the best tag is the argmax of each word's emissions"
    if copy_.crf is not None:
        crf = copy_.crf
        scores = {
            "transitions": crf.transitions.tolist(),
            "start": crf.start_transitions.tolist(),
            "end": crf.end_transitions.tolist(),
        }
        if crf.constrained:  # what the scheme forbids: a consumer's Viterbi must skip it too
            masks = ("allowed_start", "allowed_transitions", "allowed_end")
            scores.update({name: getattr(crf, name).tolist() for name in masks})
        metadata["crf"] = to_json(scores)
        note = (
            "tag scores per word; the CRF's Viterbi decoding is a loop over the words that runs "
            "outside the file, with the transition scores in its metadata (key 'crf')"
        )

    def make_inputs(batch: int, length: int) -> tuple[Tensor, ...]:
        g = _generator(batch * 1000 + length)
        words = torch.randint(0, config.vocab_size, (batch, length), generator=g)
        inputs = (words, _lengths(batch, length, g))
        if chars:
            width = 2 + length % 4
            ids = torch.randint(1, config.char_vocab_size, (batch, length, width), generator=g)
            # words of every length up to W (a full one and a 1-character one): tracing a
            # character BiLSTM keeps the padded path only if the example has padding
            sizes = torch.randint(1, width + 1, (batch, length), generator=g)
            sizes.view(-1)[0], sizes.view(-1)[-1] = width, 1
            inputs += (ids.masked_fill(torch.arange(width) >= sizes.unsqueeze(-1), 0),)
        if config.casing:  # shape class ids (rnnkit.models.tagger_features.word_shape)
            inputs += (torch.randint(1, 9, (batch, length), generator=g),)
        return inputs

    names = [
        "words",
        "lengths",
        *(["chars"] if chars else []),
        *(["shapes"] if config.casing else []),
    ]
    axes = {"words": {0: "N", 1: "L"}, "lengths": {0: "N"}, "emissions": {0: "N", 1: "L"}}
    if chars:
        axes["chars"] = {0: "N", 1: "L", 2: "W"}
    if config.casing:
        axes["shapes"] = {0: "N", 1: "L"}
    return ExportSpec(_Tagger(copy_), make_inputs, names, ["emissions"], axes, metadata, note=note)


# --------------------------------------------------------------------------- forecasters
class _Forecast(nn.Module):
    """Original units in and out: ``(window - mean) / scale`` -> the model -> ``* std + mean``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        c = model.config
        features = c.input_size
        mean = c.input_mean or [0.0] * features
        std = c.input_std or [1.0] * features
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("scale", torch.tensor([s if s > 0 else 1.0 for s in std]))
        self.target_mean = float(c.target_mean)
        self.target_std = float(c.target_std) if c.input_std else 1.0

    def forward(self, window: Tensor, future: Tensor | None = None) -> Tensor:
        x = (window - self.mean) / self.scale  # (N, L, F), standardised
        if future is not None:
            future = (future - self.mean) / self.scale  # (N, K-1, F)
        return self.model(x, future) * self.target_std + self.target_mean  # (N, K)


def forecaster_spec(model: nn.Module, task: str, metadata: dict[str, str]) -> ExportSpec:
    """A :class:`~rnnkit.models.Forecaster`: ``window (N, L, F)`` in the data's original units ->
    ``forecast (N, K)``; an autoregressive model with several input variables also takes their
    values over the forecast period, ``future (N, K-1, F)`` (its target column is ignored)."""
    copy_ = _exportable_copy(model, f"{task} model")
    c = copy_.config
    future = c.mode == "autoregressive" and c.input_size > 1 and c.horizon > 1

    def make_inputs(batch: int, length: int) -> tuple[Tensor, ...]:
        g = _generator(batch * 1000 + length)
        mean = torch.tensor(c.input_mean or [0.0] * c.input_size)
        std = torch.tensor(c.input_std or [1.0] * c.input_size)
        window = mean + std * torch.randn(batch, length, c.input_size, generator=g)
        if not future:
            return (window,)
        return window, mean + std * torch.randn(batch, c.horizon - 1, c.input_size, generator=g)

    names = ["window", *(["future"] if future else [])]
    axes = {"window": {0: "N", 1: "L"}, "forecast": {0: "N"}}
    if future:
        axes["future"] = {0: "N"}
    return ExportSpec(_Forecast(copy_), make_inputs, names, ["forecast"], axes, metadata)
