"""The cells of rnnkit side by side: speed against torch.nn, and what they learn.

Run from the project root::

    python benchmarks/cells.py                          # every section (about an hour on 2 cores)
    python benchmarks/cells.py --only speed --reps 9
    python benchmarks/cells.py --only adding --workers 2
    python benchmarks/cells.py --only shakespeare --lm-cells lstm lnlstm
    python benchmarks/cells.py --only sst2 --minutes 10

Sections (the data sets are read from ../shared/data; a section whose data is absent is skipped):

1. ``speed``: median forward+backward time of every registered cell's layer (``build_layer``,
   backend ``auto``) at the three shapes of ``benchmarks/layers.py`` and, for the scan cells, at
   L=4096, each with its ratio to ``nn.LSTM`` and to ``nn.GRU`` timed in the same repetitions
   (interleaved, so a slow moment of the machine slows all alike). The plain LSTM on the reference
   path is one more row, with the range of its per-repetition ratio beside the median. Targets:
   lnlstm <= 1.5x nn.LSTM at the language-model shape and <= 3x at the small one; mingru and minlstm
   >= 4x faster than nn.GRU at the long shape; the reference LSTM <= 1.3x nn.LSTM at the
   language-model shape.
2. ``adding``: the adding problem at lengths 200, 400 and 1000 with ``rnnkit train synthetic --task
   adding --seq-len L --cell C`` and nothing else (the task's defaults: hidden 64, 1,000 steps of
   32); "yes" where the test MSE < 0.01 (always predicting 1 gives ~0.167).
3. ``shakespeare``: ``rnnkit train lm`` on tiny Shakespeare with ``--cell C`` and otherwise its
   defaults (the same step budget for every cell): validation loss on the last 10% and training
   chars/s. The 20-minute run of the defaults is ``benchmarks/shakespeare.py --seconds 1200``.
4. ``sst2``: ``rnnkit train classify`` on SST-2 with ``--recurrent-dropout`` and ``--weight-drop``
   (the regularisers are what is studied; everything else is the default) within a time budget:
   dev accuracy (target >= 86%; the defaults alone gave 84.40-84.75%).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
from shakespeare import load_average  # benchmarks/ is the script's folder, first on sys.path
from tasks_series import quiet, run_adding
from torch import nn

import rnnkit
from rnnkit.nn import CELLS, LSTM, build_layer

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SECTIONS = ("speed", "adding", "shakespeare", "sst2")
SHAPES = {
    # name: (N, L, H_in, H), the shapes of benchmarks/layers.py, then a long one for the scans
    "small": (32, 50, 16, 64),
    "language model": (64, 128, 64, 512),
    "long": (16, 1000, 32, 128),
    "very long": (16, 4096, 32, 128),
}
SCAN_CELLS = ("mingru", "minlstm")
ADDING_CELLS = ("lstm", "gru", "lnlstm", "indrnn", "mingru", "minlstm")
ADDING_LENGTHS = (200, 400, 1000)
LM_CELLS = ("lstm", "gru", "lnlstm", "mingru", "minlstm")


# -- 1. speed ----------------------------------------------------------------------------------------


def _pass(module: nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        output, _ = module(x)
        output.sum().backward()
        module.zero_grad(set_to_none=True)

    return run


def measure(shape: str, cells: Sequence[str], reps: int) -> dict[str, list[float]]:
    """Seconds of each forward+backward pass, per implementation, interleaved repetition by
    repetition: ``nn.LSTM``, ``nn.GRU``, the reference LSTM and every cell in ``cells``."""
    n, length, h_in, hidden = SHAPES[shape]
    torch.manual_seed(0)
    x = torch.randn(length, n, h_in)
    modules: dict[str, nn.Module] = {
        "nn.LSTM": nn.LSTM(h_in, hidden),
        "nn.GRU": nn.GRU(h_in, hidden),
    }
    if "lstm" in cells:
        modules["lstm (reference)"] = LSTM(h_in, hidden, backend="reference")
    for cell in cells:
        modules[cell] = build_layer(cell, h_in, hidden, batch_first=False)
    runs = {name: _pass(module, x) for name, module in modules.items()}
    for run in runs.values():  # warm-up: allocator, oneDNN plans
        run()
        run()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    return times


def speed(reps: int) -> None:
    print(
        f"\n== Speed: median of {reps} forward+backward passes, float32, "
        f"{torch.get_num_threads()} threads, load {load_average()} at start =="
    )
    print("| cell | shape (N, L, H_in, H) | ms | / nn.LSTM | / nn.GRU | per-repetition / nn.LSTM |")
    print("|---|---|---:|---:|---:|---|")
    for shape, sizes in SHAPES.items():
        cells = [c for c in CELLS if shape != "very long" or c in SCAN_CELLS]
        if not cells:
            continue
        times = measure(shape, cells, reps)
        lstm, gru = statistics.median(times["nn.LSTM"]), statistics.median(times["nn.GRU"])
        for name, values in times.items():
            median = statistics.median(values)
            ratios = [t / b for t, b in zip(values, times["nn.LSTM"])]
            spread = f"{min(ratios):.2f}-{max(ratios):.2f}x" if name == "lstm (reference)" else ""
            print(
                f"| {name} | {shape} {sizes} | {median * 1e3:.1f} | {median / lstm:.2f}x "
                f"| {median / gru:.2f}x | {spread} |",
                flush=True,
            )
    print(f"load {load_average()} at the end")


# -- 2. the adding problem ---------------------------------------------------------------------------


def adding(cells: Sequence[str], workers: int) -> None:
    cells = [c for c in cells if c in CELLS]
    print(
        "\n== Adding problem: test MSE of `rnnkit train synthetic --task adding --seq-len L --cell C`"
        f" (defaults: hidden 64, 1,000 steps of 32); yes = MSE < 0.01; load {load_average()} =="
    )
    jobs = [(cell, length, None) for length in reversed(ADDING_LENGTHS) for cell in cells]
    start = time.perf_counter()
    results = run_adding(jobs, workers)
    table = {(cell, length): (mse, secs) for cell, length, mse, _, secs in results}
    print("| cell | " + " | ".join(f"L={length}" for length in ADDING_LENGTHS) + " | seconds |")
    print("|---|" + "---:|" * (len(ADDING_LENGTHS) + 1))
    for cell in cells:
        marks = [table[(cell, length)] for length in ADDING_LENGTHS]
        text = " | ".join(f"{mse:.4f} {'yes' if mse < 0.01 else 'no'}" for mse, _ in marks)
        print(f"| {cell} | {text} | {sum(s for _, s in marks):.0f} |", flush=True)
    print(f"({len(jobs)} runs in {time.perf_counter() - start:.0f} s wall, {workers} worker(s))")


# -- 3. tiny Shakespeare -----------------------------------------------------------------------------


def shakespeare(cells: Sequence[str], steps: int | None) -> None:
    text = DATA / "tinyshakespeare.txt"
    if not text.is_file():
        print(f"shakespeare: skipped, {text} not found")
        return
    budget = "the default step budget" if steps is None else f"{steps:,} steps"
    print(f"\n== Tiny Shakespeare: `rnnkit train lm --cell C`, {budget}, other settings default ==")
    print("| cell | parameters | steps | validation nats/char | chars/s | load at the end |")
    print("|---|---:|---:|---:|---:|---|")
    for cell in cells:
        train = {"out_dir": None, "progress": False}
        if steps is not None:
            train["max_steps"] = steps
        run = rnnkit.train(
            "lm", {"data": {"text": str(text)}, "model": {"cell": cell}, "train": train}, log=quiet
        )
        loss = run.reports[0].rows["loss (nats/char)"]["model"]
        parameters = sum(p.numel() for p in run.trained.model.parameters())
        print(
            f"| {cell} | {parameters:,} | {run.train.step:,} | {loss:.4f} "
            f"| {run.train.items_per_second:,.0f} | {load_average()} |",
            flush=True,
        )


# -- 4. SST-2 with the regularisers ------------------------------------------------------------------


def sst2(minutes: float, recurrent_dropout: float, weight_drop: float) -> None:
    folder = DATA / "sst2"
    if not (folder / "train.tsv").is_file():
        print(f"sst2: skipped, data not found in {folder}")
        return
    print(
        f"\n== SST-2: `rnnkit train classify --recurrent-dropout {recurrent_dropout} --weight-drop "
        f"{weight_drop}`, {minutes:g} minutes, other settings default =="
    )
    with tempfile.TemporaryDirectory() as out_dir:
        run = rnnkit.train(
            "classify",
            {
                "data": {"train": str(folder / "train.tsv"), "val": str(folder / "dev.tsv")},
                "model": {"recurrent_dropout": recurrent_dropout, "weight_drop": weight_drop},
                "train": {"max_minutes": minutes, "out_dir": out_dir, "progress": False},
            },
            log=quiet,
        )
    accuracy = run.reports[-1].rows["accuracy"]["model"]
    m = run.config.model
    print(
        f"dev accuracy {accuracy:.2%} ({run.weights}; target >= 86%), {m.cell.upper()} "
        f"{m.hidden_size}, {run.train.step:,} steps, load {load_average()}"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument("--reps", type=int, default=7, help="timed passes per implementation")
    parser.add_argument("--workers", type=int, default=2, help="adding runs trained side by side")
    parser.add_argument("--adding-cells", nargs="*", default=list(ADDING_CELLS))
    parser.add_argument("--lm-cells", nargs="*", default=list(LM_CELLS))
    parser.add_argument(
        "--lm-steps", type=int, default=None, help="step budget of each lm run (default: lm's)"
    )
    parser.add_argument("--minutes", type=float, default=10.0, help="time budget of the SST-2 run")
    parser.add_argument("--recurrent-dropout", type=float, default=0.25)
    parser.add_argument("--weight-drop", type=float, default=0.25)
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    sections = args.only or list(SECTIONS)
    print(
        f"rnnkit {rnnkit.__version__} cells benchmark: torch {torch.__version__}, "
        f"{platform.machine()} {os.cpu_count()} CPU(s), load {load_average()}"
    )
    start = time.perf_counter()
    if "speed" in sections:
        speed(args.reps)
    if "adding" in sections:
        adding(args.adding_cells, args.workers)
    if "shakespeare" in sections:
        shakespeare(args.lm_cells, args.lm_steps)
    if "sst2" in sections:
        sst2(args.minutes, args.recurrent_dropout, args.weight_drop)
    print(f"\ntotal {time.perf_counter() - start:.0f} s wall")


if __name__ == "__main__":
    main()
