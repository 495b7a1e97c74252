"""Forward+backward speed of rnnkit's layers against torch.nn, as a ratio measured in the same run.

For RNN, LSTM and GRU at three shapes, times torch.nn, rnnkit with backend ``auto`` and rnnkit with
backend ``reference`` (the from-scratch loop) on the same weights. The three are run in turn within each
repetition, so a slow moment of the machine slows all three alike; the table gives medians and each
median's ratio to torch.nn's.

    python benchmarks/layers.py                 # CPU, all shapes
    python benchmarks/layers.py --device cuda   # on a GPU (cuDNN is then the native backend)
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import rnnkit
from rnnkit.nn import GRU, LSTM, RNN

SHAPES = {
    # name: (N, L, H_in, H)
    "small": (32, 50, 16, 64),
    "language model": (64, 128, 64, 512),
    "long": (16, 1000, 32, 128),
}
CELLS = {"RNN": (nn.RNN, RNN), "LSTM": (nn.LSTM, LSTM), "GRU": (nn.GRU, GRU)}
TARGETS = {"auto": 1.05, "reference": 1.3}  # reference's target holds at the language-model shape


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _step(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        output, _ = module(x)
        output.sum().backward()
        module.zero_grad(set_to_none=True)

    return run


def measure(cell: str, shape: str, reps: int, device: torch.device) -> dict[str, float]:
    """Median seconds of one forward+backward for torch.nn, rnnkit auto and rnnkit reference."""
    n, length, h_in, hidden = SHAPES[shape]
    torch_class, rnnkit_class = CELLS[cell]
    torch.manual_seed(0)
    baseline = torch_class(h_in, hidden).to(device)
    auto = rnnkit_class(h_in, hidden, backend="auto").to(device)
    reference = rnnkit_class(h_in, hidden, backend="reference").to(device)
    auto.load_state_dict(baseline.state_dict())
    reference.load_state_dict(baseline.state_dict())
    x = torch.randn(length, n, h_in, device=device)
    runs = {
        "torch.nn": _step(baseline, x),
        "auto": _step(auto, x),
        "reference": _step(reference, x),
    }
    for run in runs.values():  # warm-up: allocator, oneDNN/cuDNN plans
        run()
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            _synchronize(device)
            start = time.perf_counter()
            run()
            _synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=15, help="timed repetitions per implementation")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--shapes", nargs="*", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--cells", nargs="*", default=list(CELLS), choices=list(CELLS))
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available on this machine: nothing measured")
        return 0

    where = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    print(
        f"rnnkit {rnnkit.__version__}, torch {torch.__version__}, {device.type} ({where or 'cpu'}), "
        f"{torch.get_num_threads()} threads, median of {args.reps} forward+backward passes, float32"
    )
    print()
    print(
        "| cell | shape (N, L, H_in, H) | torch.nn ms | auto ms | auto / torch | reference ms "
        "| reference / torch |"
    )
    print("|---|---|---:|---:|---:|---:|---:|")
    misses = []
    for shape in args.shapes:
        for cell in args.cells:
            t = measure(cell, shape, args.reps, device)
            auto_ratio, ref_ratio = t["auto"] / t["torch.nn"], t["reference"] / t["torch.nn"]
            print(
                f"| {cell} | {shape} {SHAPES[shape]} | {t['torch.nn'] * 1e3:.2f} | {t['auto'] * 1e3:.2f} "
                f"| {auto_ratio:.3f}x | {t['reference'] * 1e3:.2f} | {ref_ratio:.2f}x |",
                flush=True,
            )
            if auto_ratio > TARGETS["auto"]:
                misses.append(f"{cell} {shape}: auto {auto_ratio:.3f}x > {TARGETS['auto']}x")
            if shape == "language model" and ref_ratio > TARGETS["reference"]:
                misses.append(
                    f"{cell} {shape}: reference {ref_ratio:.2f}x > {TARGETS['reference']}x"
                )
    print()
    print(
        "targets: auto <= 1.05x torch.nn at every shape; reference <= 1.3x at the language-model shape"
    )
    print("missed: " + ("; ".join(misses) if misses else "none"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
