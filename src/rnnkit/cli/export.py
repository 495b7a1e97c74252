"""``rnnkit export RUN --format onnx|torchscript --out FILE``: the trained model as one file.

The checkpoint's task says what is exported (:meth:`rnnkit.tasks.Task.export_spec`): a language
model's generation step with its state in and out, a classifier's logits, a tagger's emissions, a
forecaster's forecast in original units; batch size and sequence length stay free. The file is
checked against PyTorch at two other input shapes before it is written (atomically), and the
command prints its inputs and outputs. See docs/export.md.
"""

from __future__ import annotations

import argparse
from typing import Any

from rnnkit.cli._options import new_parser
from rnnkit.export import FORMATS, export
from rnnkit.tasks import load

__all__ = ["add_parser", "export_command"]

EXAMPLES = """examples:
  rnnkit export runs/lm --format onnx --out lm.onnx
  rnnkit export runs/classify --format torchscript --out classify.pt
  rnnkit export runs/forecast/best.pt --format onnx --out forecast.onnx"""


def add_parser(subparsers: Any) -> None:
    parser = new_parser(
        subparsers,
        "export",
        "write a trained model as an ONNX or TorchScript file",
        "Write the model of a run as one ONNX or TorchScript file with dynamic batch size and "
        "sequence length: a language model as one generation step with its recurrent state in "
        "and out (its vocabulary in the file's metadata), the other tasks' models from their "
        "inputs to their outputs. The file is checked against PyTorch before it is written. "
        'ONNX needs the extra: pip install "rnnkit[onnx]".\n\n' + EXAMPLES,
    )
    parser.add_argument(
        "checkpoint",
        metavar="RUN",
        help="run directory (uses best.pt, else last.pt) or checkpoint file",
    )
    parser.add_argument(
        "--format", required=True, choices=FORMATS, help="onnx or torchscript (traced)"
    )
    parser.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    parser.add_argument(
        "--device",
        default="cpu",
        help="where to trace the model: cpu (default) or cuda (TorchScript files keep it)",
    )
    parser.set_defaults(func=export_command)


def export_command(args: argparse.Namespace) -> int:
    trained = load(args.checkpoint, args.device)
    done = export(trained, args.format, args.out)
    print(
        f"wrote {done.path} ({done.format}, {done.size / 1024:,.0f} KB), the {trained.task} model"
    )
    print(f"  inputs:  {'; '.join(done.inputs)}")
    print(f"  outputs: {'; '.join(done.outputs)}")
    if done.note:
        print(f"  {done.note}")
    print(f"  checked against PyTorch: largest difference {done.max_difference:.1e}")
    return 0
