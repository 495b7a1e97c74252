"""The optional extras: field libraries that some features use and the core does not need.

``pip install "rnnkit[plot]"`` adds matplotlib (``rnnkit plot``, ``inspect --gradients``),
``[tensorboard]`` TensorBoard's writer (``--logger tensorboard``), ``[onnx]`` onnx and onnxruntime
(``rnnkit export --format onnx`` writes the file with onnx and checks it with onnxruntime),
``[text]`` the subword tokenizers (``tokenizers``; ``sentencepiece`` to read a ``.model`` file),
``[pandas]`` pandas and pyarrow (DataFrames, ``.parquet`` files), ``[datasets]`` Hugging Face
``datasets`` and ``[forecast]`` statsmodels (the ETS and Theta baselines of
:mod:`rnnkit.metrics.classical`). :func:`require` imports one where a feature needs it, so a
missing extra is a one-line :class:`~rnnkit.errors.RnnkitError` naming it, not an
``ImportError`` from deep inside.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from rnnkit.errors import RnnkitError

__all__ = ["EXTRAS", "require"]

# extra -> (the module a feature imports, the package that provides it)
EXTRAS = {
    "plot": ("matplotlib", "matplotlib"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "onnx": ("onnxruntime", "onnx and onnxruntime"),
    "text": ("tokenizers", "tokenizers"),
    "pandas": ("pandas", "pandas"),
    "datasets": ("datasets", "datasets"),
    "forecast": ("statsmodels", "statsmodels"),
}


def require(extra: str, purpose: str, module: str | None = None) -> ModuleType:
    """Import ``module`` (default: the extra's own module) for ``purpose``, e.g. ``"rnnkit plot"``;
    if it is not installed, raise an :class:`RnnkitError` that says which extra to install."""
    if extra not in EXTRAS:
        raise ValueError(f"extra: expected one of {', '.join(EXTRAS)}, got {extra!r}")
    name, package = EXTRAS[extra]
    try:
        return importlib.import_module(module or name)
    except ImportError as error:
        verb = "are" if " and " in package else "is"
        raise RnnkitError(
            f"{purpose} needs {package}, which {verb} not installed: "
            f'pip install "rnnkit[{extra}]" ({error})'
        ) from error
