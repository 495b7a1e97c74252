"""Where a run computes: device names and their resolution, autocast precision, moving batches.

``device`` is ``auto`` (CUDA, else MPS, else the CPU), ``cpu``, ``cuda``, ``cuda:N`` or ``mps``
(:func:`resolve_device`). ``precision`` ``"bf16"`` runs the forward pass and the loss under
``torch.autocast`` to bfloat16; ``"16-mixed"`` (CUDA only) to float16 with a gradient scaler.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from rnnkit.config import ConfigError
from rnnkit.errors import RnnkitError

if TYPE_CHECKING:
    from rnnkit.training.settings import TrainConfig

__all__ = [
    "DEVICE_FORMS",
    "DEVICE_HELP",
    "PRECISIONS",
    "autocast",
    "check_device_name",
    "model_device",
    "resolve_device",
    "run_device",
    "to_device",
]

PRECISIONS = ("32", "bf16", "16-mixed")
DEVICE_FORMS = "auto, cpu, cuda, cuda:N (N a GPU's index) or mps"
DEVICE_HELP = (
    "where to run: auto (a CUDA GPU when there is one, else Apple's MPS, else the CPU), cpu, "
    "cuda, cuda:N (GPU number N) or mps"
)
_DEVICE_NAME = re.compile(r"auto|cpu|mps|cuda(:\d+)?")


def check_device_name(name: str) -> str:
    """``name`` in its plain form (``" CUDA:1"`` -> ``"cuda:1"``) when it is one of the device
    forms (:data:`DEVICE_FORMS`), else a :class:`ConfigError` for ``device``. Whether that device
    is here is :func:`resolve_device`'s question."""
    text = str(name).strip().lower()
    if not _DEVICE_NAME.fullmatch(text):
        raise ConfigError("device", f"expected {DEVICE_FORMS}, got {name!r}")
    return text


def _gpus(count: int) -> str:
    """``cuda:0``, ``cuda:0, cuda:1``..., or ``cuda:0 to cuda:7`` for more than four."""
    if count > 4:
        return f"cuda:0 to cuda:{count - 1}"
    return ", ".join(f"cuda:{index}" for index in range(count))


def _devices_here() -> str:
    """What this machine has, as the device names that reach it: ``cpu, cuda:0, mps``."""
    found = ["cpu"]
    if torch.cuda.is_available() and torch.cuda.device_count() > 0:
        found.append(_gpus(torch.cuda.device_count()))
    if torch.backends.mps.is_available():
        found.append("mps")
    return ", ".join(found)


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """The device called ``name``, after checking that this machine has it.

    ``"auto"``: a CUDA GPU when there is one, else Apple's MPS, else the CPU; ``"cuda"``,
    ``"cuda:N"`` (N below the number of GPUs), ``"mps"`` and ``"cpu"`` as torch names them. A
    device this machine lacks is an :class:`RnnkitError` naming what was asked for and what is
    here; a name of no device form a :class:`ConfigError` listing the forms.
    """
    if isinstance(name, torch.device):
        name = name.type if name.index is None or name.type != "cuda" else str(name)
    text = check_device_name(name)
    cuda = torch.cuda.is_available()
    count = torch.cuda.device_count() if cuda else 0
    if text == "auto":
        if cuda and count > 0:
            return torch.device("cuda")
        return torch.device("mps" if torch.backends.mps.is_available() else "cpu")
    if text.startswith("cuda"):
        index = int(text.partition(":")[2] or 0)
        if count == 0:
            raise RnnkitError(
                f"device {text!r} was asked for, but this machine has no CUDA GPU "
                f"(devices here: {_devices_here()})"
            )
        if index >= count:
            plural = "s" if count > 1 else ""
            raise RnnkitError(
                f"device {text!r} was asked for, but this machine has {count} CUDA GPU{plural} "
                f"({_gpus(count)})"
            )
        return torch.device(text)
    if text == "mps" and not torch.backends.mps.is_available():
        raise RnnkitError(
            "device 'mps' was asked for, but this machine has no Apple MPS device "
            f"(devices here: {_devices_here()})"
        )
    return torch.device(text)


def autocast(device: torch.device | str, precision: str) -> contextlib.AbstractContextManager:
    """The context a forward pass of ``precision`` runs in on ``device``: none for ``"32"``,
    ``torch.autocast`` to bfloat16 for ``"bf16"`` and to float16 for ``"16-mixed"``."""
    if precision == "32":
        return contextlib.nullcontext()
    if precision not in PRECISIONS:
        raise ValueError(f"precision: expected one of {', '.join(PRECISIONS)}, got {precision!r}")
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(torch.device(device).type, dtype=dtype)


def run_device(config: TrainConfig) -> torch.device:
    """The device a run of ``config`` trains on, after checking that this machine has it
    (:func:`resolve_device`) and that ``config.precision`` runs there (16-mixed: CUDA only)."""
    device = resolve_device(config.device)
    if config.precision == "16-mixed" and device.type != "cuda":
        where = "the CPU" if device.type == "cpu" else device.type.upper()
        raise ConfigError("precision", f"16-mixed needs a CUDA GPU; on {where} use bf16")
    return device


def to_device(obj: Any, device: torch.device) -> Any:
    """Move every tensor in ``obj`` (tensors, tuples, lists, dicts of them) to ``device``."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device, non_blocking=True)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # namedtuple
        return type(obj)(*(to_device(v, device) for v in obj))
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device) for v in obj)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.replace(
            obj,
            **{
                f.name: to_device(getattr(obj, f.name), device)
                for f in dataclasses.fields(obj)
                if f.init
            },
        )
    return obj


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (CPU for a model without parameters)."""
    for parameter in model.parameters():
        return parameter.device
    return torch.device("cpu")
