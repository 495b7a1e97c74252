"""``rnnkit export``: a trained model as one ONNX or TorchScript file, for every task.

- :mod:`rnnkit.export.spec`: what is traced (:class:`ExportSpec`), built by one helper per kind
  of model (language model, classifier, tagger, forecaster) that the tasks' ``export_spec`` call;
- :mod:`rnnkit.export.writer`: tracing it to ONNX or TorchScript, the metadata, the check against
  PyTorch and the atomic write (:func:`export`).

This package sits below :mod:`rnnkit.tasks`: it knows models, not tasks; :func:`export` asks the
trained model for its spec (:meth:`rnnkit.tasks.TrainedModel.export_spec`).
"""

from __future__ import annotations

from rnnkit.export.spec import (
    ExportSpec,
    classifier_spec,
    forecaster_spec,
    language_model_spec,
    tagger_spec,
    tokenizer_metadata,
)
from rnnkit.export.writer import FORMATS, Exported, Exporting, export

__all__ = [
    "FORMATS",
    "ExportSpec",
    "Exported",
    "Exporting",
    "classifier_spec",
    "export",
    "forecaster_spec",
    "language_model_spec",
    "tagger_spec",
    "tokenizer_metadata",
]
