"""``rnnkit export``: a trained model as one ONNX or TorchScript file, for every task.

A task that can be exported (:class:`~rnnkit.tasks.capabilities.Exportable`) says what to export
with ``export_spec``, built from the helpers here, one per kind of model:

- :func:`language_model_spec`: one step of generation, ``(ids (N, L), h, [c]) -> (logits, h, [c])``
  with the recurrent state in and out, so that a program generates text with the file alone;
- :func:`classifier_spec`: ``(tokens or features, lengths) -> logits``;
- :func:`tagger_spec`: ``(words, lengths, [chars]) -> emissions``; a CRF's Viterbi decoding runs
  outside the file, from the transition scores stored in its metadata;
- :func:`forecaster_spec`: ``(window, [future]) -> forecast``, in the data's original units.

The exported copy runs its recurrent layer on PyTorch's fused kernels (``backend="native"``), which
both exporters turn into one recurrent operator (ONNX ``LSTM``/``GRU``/``RNN``, ``aten::lstm``...)
whose batch size and sequence length stay free. A layer without a kernel (the extended cells) or
with ``zoneout`` (its expectation acts at every step in evaluation, which the kernels cannot do)
runs rnnkit's reference loop, which tracing unrolls into a fixed number of steps: such a model is
refused, except for a language model's step, whose single step needs no loop.

The ONNX file is made by PyTorch's TorchScript-based exporter (``dynamo=False``): the newer one
goes through ``torch.export``, which (for torch.nn's recurrent layers as for rnnkit's) decomposes
the recurrent operator into a loop over a fixed sequence length. TorchScript files are traced
(``torch.jit.trace``); see docs/export.md for why the layers cannot be scripted.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.data.labelled import _WORD_RE as WORD_RE
from rnnkit.errors import RnnkitError
from rnnkit.extras import require
from rnnkit.nn.layers import Recurrent
from rnnkit.tasks.base import TrainedModel, get_task, short
from rnnkit.tasks.capabilities import ExportSpec, exportable
from rnnkit.training.checkpoint import atomic_write

__all__ = [
    "FORMATS",
    "Exported",
    "classifier_spec",
    "export",
    "forecaster_spec",
    "language_model_spec",
    "tagger_spec",
    "tokenizer_metadata",
]

FORMATS = ("onnx", "torchscript")
TOLERANCE = 1e-4  # the largest difference from PyTorch's outputs that the check accepts
OPSET = 17


@dataclass
class Exported:
    """What :func:`export` wrote."""

    path: Path
    format: str
    size: int  # bytes
    inputs: list[str]  # "name dtype (N, L, 16)" for each input
    outputs: list[str]
    max_difference: float  # the check: largest |exported - PyTorch| at two other input shapes
    note: str = ""


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
    layer.recurrent_dropout = 0.0
    layer.weight_drop = 0.0
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


def _json(value: Any) -> str:
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
        {"vocab": _json(list(vocab.itos)), "banned_ids": _json(list(vocab.special_ids))},
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
    return {key: _json(value) for key, value in {**rules, "unk_id": unk_id, **extra}.items()}


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

    def forward(self, words: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        return self.model(words, lengths, chars)  # (N, L, T)


def tagger_spec(model: nn.Module, task: str, metadata: dict[str, str]) -> ExportSpec:
    """A :class:`~rnnkit.models.SequenceTagger`: ``(words (N, L), lengths (N,)[, chars (N, L, W)])
    -> emissions (N, L, T)``. With a CRF, the best tag path is its Viterbi decoding of the
    emissions, a loop over the steps that runs outside the file: the metadata key ``crf`` holds
    its scores (``transitions`` (T, T) from tag i to tag j, ``start`` (T,), ``end`` (T,))."""
    copy_ = _exportable_copy(model, f"{task} model")
    config = copy_.config
    chars = copy_.char_embedding is not None
    metadata = dict(metadata)
    note = "tag scores per word: the best tag is the argmax of each word's emissions"
    if copy_.crf is not None:
        crf = copy_.crf
        metadata["crf"] = _json(
            {
                "transitions": crf.transitions.tolist(),
                "start": crf.start_transitions.tolist(),
                "end": crf.end_transitions.tolist(),
            }
        )
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
            inputs += (
                torch.randint(0, config.char_vocab_size, (batch, length, width), generator=g),
            )
        return inputs

    names = ["words", "lengths", *(["chars"] if chars else [])]
    axes = {"words": {0: "N", 1: "L"}, "lengths": {0: "N"}, "emissions": {0: "N", 1: "L"}}
    if chars:
        axes["chars"] = {0: "N", 1: "L", 2: "W"}
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


# --------------------------------------------------------------------------- writing the file
# What PyTorch's C++ side prints to the process's stderr (no Python warning to filter) for every
# packed sequence it exports: ONNX has no shape rule for these two ops, yet the recurrent operator
# around them gives every output its shape, which the check of the file confirms.
KNOWN_NOISE = re.compile(r"shape inference of prim::(PackPadded|PadPacked) type is missing")


@contextlib.contextmanager
def _known_warnings_quiet() -> Iterator[None]:
    """Drop the lines of :data:`KNOWN_NOISE` written to file descriptor 2 inside the block; every
    other line is written back to ``sys.stderr`` after it."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as caught:
        os.dup2(caught.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            text = caught.read().decode("utf-8", "replace")
            kept = [line for line in text.splitlines(True) if not KNOWN_NOISE.search(line)]
            if kept:
                sys.stderr.write("".join(kept))


def _trace_onnx(spec: ExportSpec, inputs: tuple[Tensor, ...]) -> bytes:
    onnx = require("onnx", "rnnkit export --format onnx", module="onnx")
    buffer = io.BytesIO()
    with _known_warnings_quiet():
        _onnx_export(spec, inputs, buffer)
    proto = onnx.load_from_string(buffer.getvalue())
    for key, value in spec.metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return proto.SerializeToString()


def _onnx_export(spec: ExportSpec, inputs: tuple[Tensor, ...], buffer: io.BytesIO) -> None:
    torch.onnx.export(
        spec.module,
        inputs,
        buffer,
        dynamo=False,  # see the module docstring
        input_names=spec.input_names,
        output_names=spec.output_names,
        dynamic_axes=spec.dynamic_axes,
        opset_version=OPSET,
    )


def _trace_torchscript(spec: ExportSpec, inputs: tuple[Tensor, ...]) -> bytes:
    traced = torch.jit.trace(spec.module, inputs, check_trace=False)
    buffer = io.BytesIO()
    extra = {"rnnkit.json": _json(spec.metadata)}
    torch.jit.save(traced, buffer, _extra_files=extra)
    return buffer.getvalue()


def run_exported(data: bytes, format: str, inputs: tuple[Tensor, ...], names: list[str]) -> list:
    """The outputs (numpy arrays) of an exported file's bytes on ``inputs``."""
    if format == "onnx":
        ort = require("onnx", "checking an ONNX export")
        session = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
        return session.run(None, {n: x.cpu().numpy() for n, x in zip(names, inputs)})
    loaded = torch.jit.load(io.BytesIO(data), map_location=inputs[0].device)
    with torch.no_grad():
        outputs = loaded(*inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return [o.cpu().numpy() for o in outputs]


def _check(data: bytes, format: str, spec: ExportSpec, device: torch.device) -> float:
    """The largest difference between the file's outputs and PyTorch's at two input shapes other
    than the traced one; more than :data:`TOLERANCE` is an ``RnnkitError``."""
    worst = 0.0
    for batch, length in ((3, 7), (1, 2)):
        inputs = tuple(x.to(device) for x in spec.make_inputs(batch, spec.length or length))
        with torch.no_grad():
            expected = spec.module(*inputs)
        expected = expected if isinstance(expected, tuple) else (expected,)
        got = run_exported(data, format, inputs, spec.input_names)
        for name, e, g in zip(spec.output_names, expected, got):
            if tuple(g.shape) != tuple(e.shape):
                raise RnnkitError(
                    f"the exported {name} has shape {tuple(g.shape)} for inputs of batch {batch} "
                    f"and length {length}, expected {tuple(e.shape)}"
                )
            worst = max(worst, float(abs(g - e.cpu().numpy()).max(initial=0.0)))
    if worst > TOLERANCE:
        raise RnnkitError(
            f"the exported model differs from PyTorch's by up to {worst:.2e} "
            f"(expected at most {TOLERANCE:g})"
        )
    return worst


def _describe(names: list[str], tensors: Any, axes: dict[str, dict[int, str]]) -> list[str]:
    lines = []
    for name, tensor in zip(names, tensors):
        dims = [axes.get(name, {}).get(i, str(size)) for i, size in enumerate(tensor.shape)]
        dtype = str(tensor.dtype).replace("torch.", "")
        lines.append(f"{name} {dtype} ({', '.join(dims)})")
    return lines


def export(trained: TrainedModel, format: str, path: str | Path, *, check: bool = True) -> Exported:
    """Write ``trained``'s model (see its task's ``export_spec``) to
    ``path`` as ``format`` (``"onnx"`` or ``"torchscript"``), with dynamic batch size and
    sequence length. ``check`` runs the file at two other input shapes against PyTorch first.
    The file is written atomically: on any failure there is no file (or the old one)."""
    if format not in FORMATS:
        raise RnnkitError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    if format == "onnx":
        require("onnx", "rnnkit export --format onnx", module="onnx")
    spec = exportable(get_task(trained.task)).export_spec(trained)
    device = trained.device
    module = spec.module.to(device).eval()
    inputs = tuple(x.to(device) for x in spec.make_inputs(2, spec.length or 5))
    trace: Callable[[ExportSpec, tuple[Tensor, ...]], bytes]
    trace = _trace_onnx if format == "onnx" else _trace_torchscript
    with torch.no_grad(), warnings.catch_warnings():
        # the exporters warn about every Python-level check of a shape they record as traced
        warnings.simplefilter("ignore")
        try:
            data = trace(spec, inputs)
        except RnnkitError:
            raise
        except Exception as error:
            raise RnnkitError(
                f"exporting the {trained.task} model failed: {short(error)}"
            ) from error
        outputs = module(*inputs)
    difference = _check(data, format, spec, device) if check else float("nan")
    path = Path(path)
    atomic_write(path, lambda file: file.write(data))
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    return Exported(
        path,
        format,
        len(data),
        _describe(spec.input_names, inputs, spec.dynamic_axes),
        _describe(spec.output_names, outputs, spec.dynamic_axes),
        difference,
        spec.note,
    )
