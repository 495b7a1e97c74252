"""Writing an :class:`~rnnkit.export.spec.ExportSpec` as one ONNX or TorchScript file
(:func:`export`), checked against PyTorch at other input shapes before it is written.

The ONNX file is made by PyTorch's TorchScript-based exporter (``dynamo=False``): the newer one
goes through ``torch.export``, which (for torch.nn's recurrent layers as for rnnkit's) decomposes
the recurrent operator into a loop over a fixed sequence length. TorchScript files are traced
(``torch.jit.trace``); see docs/export.md for why the layers cannot be scripted.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError, short
from rnnkit.export.spec import ExportSpec, to_json
from rnnkit.extras import require
from rnnkit.training.checkpoint import atomic_write

__all__ = ["FORMATS", "Exported", "Exporting", "export", "run_exported"]

FORMATS = ("onnx", "torchscript")
TOLERANCE = 1e-4  # the largest difference from PyTorch's outputs that the check accepts
OPSET = 17


class Exporting(Protocol):
    """What :func:`export` needs of a trained model (a :class:`~rnnkit.tasks.TrainedModel`)."""

    task: str  # the task's name, for messages

    @property
    def device(self) -> torch.device: ...

    def export_spec(self) -> ExportSpec:
        """What is traced; an ``RnnkitError`` if the model cannot be exported."""
        ...


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
    extra = {"rnnkit.json": to_json(spec.metadata)}
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


def export(trained: Exporting, format: str, path: str | Path, *, check: bool = True) -> Exported:
    """Write ``trained``'s model (see its task's ``export_spec``) to
    ``path`` as ``format`` (``"onnx"`` or ``"torchscript"``), with dynamic batch size and
    sequence length. ``check`` runs the file at two other input shapes against PyTorch first.
    The file is written atomically: on any failure there is no file (or the old one)."""
    if format not in FORMATS:
        raise RnnkitError(f"format: expected one of {', '.join(FORMATS)}, got {format!r}")
    if format == "onnx":
        require("onnx", "rnnkit export --format onnx", module="onnx")
    spec = trained.export_spec()
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
