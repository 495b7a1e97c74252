"""Forecasting and synthetic-task benchmark: model scores beside the naive baselines.

Run from the project root::

    python benchmarks/tasks_series.py                 # everything, about 15 minutes on 2 cores
    python benchmarks/tasks_series.py --only adding --adding-steps 500

Every run uses the defaults of its ``rnnkit train`` command: only the data (file, target column,
forecast horizon and test period) and the budgets are given here. Sections (the real series are
read from ../shared/data; without it those sections are skipped with a message):

1. Melbourne daily minimum temperatures, last 20% as test: 1-day-ahead MAE (target <= 1.85;
   persistence 1.953, seasonal naive 2.965) and 7-day-ahead MAE against persistence.
2. Airline passengers, last 24 months as test: 1-month-ahead MAPE against seasonal naive.
3. The synthetic tasks of the tutorials, each with the plain ``rnnkit train synthetic --task NAME``:
   sine, mean-sign, sentence, adding (length 50) and copy, each against its goal.
4. Adding problem, sequence lengths 50, 100, 200, 400: does RNN / LSTM / GRU reach MSE < 0.01
   within a fixed step budget? (The plain tanh RNN's gradients vanish over long sequences.) The
   cell and the length are what this grid studies; everything else is the task's default.

Every model runs with one intra-op thread (tiny models gain nothing from more, and lose a lot
when the cores are shared); the adding grid runs ``--workers`` trainings side by side.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import time
from collections.abc import Sequence
from pathlib import Path

import torch

import rnnkit

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "timeseries"
SYNTHETIC = ("sine", "mean-sign", "sentence", "adding", "copy")
SECTIONS = ("melbourne", "airline", "synthetic", "adding")
LENGTHS = (50, 100, 200, 400)
CELLS = ("rnn", "lstm", "gru")


def quiet(_: str) -> None:
    pass


def forecast(csv: Path, target: str, **data) -> tuple[dict, float, str]:
    """Test rows of the default forecaster on ``csv``, the seconds it took and the model."""
    start = time.perf_counter()
    run = rnnkit.train(
        "forecast",
        {
            "data": {"csv": str(csv), "target": target, **data},
            "train": {"out_dir": None, "progress": False},
        },
        log=quiet,
    )
    m = run.config.model
    model = (
        f"{m.cell.upper()} {m.hidden_size}, inputs {', '.join(run.trained.state.input_names)}, "
        f"{m.mode} head, {run.train.step:,} steps of {run.config.train.batch_size}; "
        f"scored: {run.weights}"
    )
    return run.reports[-1].rows, time.perf_counter() - start, model


def melbourne() -> None:
    path = DATA / "daily-min-temperatures.csv"
    if not path.is_file():
        print(f"melbourne: skipped, {path} not found")
        return
    print("\n== Melbourne daily minimum temperatures (last 20% = 730 days as test) ==")
    print(
        f"{'horizon':<22} {'model MAE':>10} {'persistence':>12} {'seasonal naive':>15} {'target':>8} {'time s':>7}"
    )
    for horizon in (1, 7):
        rows, seconds, model = forecast(path, "Temp", horizon=horizon)
        wanted = [("MAE", "1-day ahead" if horizon == 1 else "days 1-7 (mean)")]
        if horizon > 1:
            wanted.append((f"MAE step {horizon}", f"day {horizon} ahead"))
        for key, label in wanted:
            values = rows[key]
            target = "<= 1.85" if horizon == 1 else "< pers."
            print(
                f"{label:<22} {values['model']:>10.3f} {values['persistence']:>12.3f} "
                f"{values['seasonal naive']:>15.3f} {target:>8} {seconds:>7.0f}"
            )
    print(f"model: {model}")


def airline() -> None:
    path = DATA / "airline-passengers.csv"
    if not path.is_file():
        print(f"airline: skipped, {path} not found")
        return
    print("\n== Airline passengers (last 24 months as test, 12 before as validation) ==")
    rows, seconds, model = forecast(path, "Passengers", val_size=12, test_size=24)
    print(
        f"{'1-month ahead':<22} {'model':>10} {'persistence':>12} {'seasonal naive':>15} {'time s':>7}"
    )
    for key in ("MAPE %", "MAE"):
        values = rows[key]
        print(
            f"{key:<22} {values['model']:>10.3f} {values['persistence']:>12.3f} "
            f"{values['seasonal naive']:>15.3f} {seconds:>7.0f}"
        )
    print(f"model: {model}")


def synthetic(name: str) -> None:
    """``rnnkit train synthetic --task NAME`` with nothing else, scored on its test draw."""
    start = time.perf_counter()
    run = rnnkit.train(
        "synthetic",
        {"data": {"task": name}, "train": {"out_dir": None, "progress": False}},
        log=quiet,
    )
    parameters = sum(p.numel() for p in run.trained.model.parameters())
    m, t = run.config.model, run.config.train
    print(
        f"\n== {name}: {m.cell.upper()} {m.hidden_size} x {m.num_layers} ({parameters:,} parameters), "
        f"{run.train.step:,} steps of {t.batch_size}, lr {t.lr:g}, {time.perf_counter() - start:.0f} s; "
        f"scored: {run.weights} =="
    )
    print(run.reports[-1].format())


def adding_job(job: tuple[str, int, int | None]) -> tuple[str, int, float, int | None, float]:
    """One adding run ``(cell, length, steps)`` (steps None: the task's default), on one thread:
    ``(cell, length, test MSE, first step validated below 0.01 or None, seconds)``."""
    cell, length, steps = job
    torch.set_num_threads(1)
    reached: list[int] = []

    def watch(trainer, event: str, info: dict) -> None:
        if event == "eval" and info.get("val_loss", 1.0) < 0.01 and not reached:
            reached.append(int(info["step"]))

    start = time.perf_counter()
    run = rnnkit.train(
        "synthetic",
        {
            "data": {"task": "adding", "seq_len": length},
            "model": {"cell": cell},
            "train": {"out_dir": None, "progress": False}
            | ({} if steps is None else {"max_steps": steps}),
        },
        log=quiet,
        callbacks=[watch],
    )
    mse = next(iter(run.reports[-1].rows.values()))["model"]
    return cell, length, mse, (reached[0] if reached else None), time.perf_counter() - start


def run_adding(
    jobs: Sequence[tuple[str, int, int | None]], workers: int
) -> list[tuple[str, int, float, int | None, float]]:
    """:func:`adding_job` of every job, ``workers`` side by side (each in its own process)."""
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            return pool.map(adding_job, jobs, chunksize=1)
    return [adding_job(job) for job in jobs]


def adding(steps: int, workers: int) -> None:
    print(
        f"\n== Adding problem: MSE < 0.01 within a budget of {steps} steps (the task's other "
        f"defaults; predicting 1 always gives ~0.167) =="
    )
    jobs = [(cell, length, steps) for length in reversed(LENGTHS) for cell in CELLS]
    start = time.perf_counter()
    results = run_adding(jobs, workers)
    table = {(cell, length): (mse, step, secs) for cell, length, mse, step, secs in results}
    header = "".join(f"{cell.upper() + ' test MSE':>16}{'first <0.01':>13}" for cell in CELLS)
    print(f"{'length':>6}{header}")
    for length in LENGTHS:
        cells = ""
        for cell in CELLS:
            mse, step, _ = table[(cell, length)]
            mark = "yes" if mse < 0.01 else "no"
            cells += f"{mse:>12.4f} {mark:>3}{('step ' + str(step)) if step else '-':>13}"
        print(f"{length:>6}{cells}")
    total = sum(secs for _, _, secs in table.values())
    print(
        f"({len(jobs)} runs, {total:.0f} s of training in {time.perf_counter() - start:.0f} s wall "
        f"with {workers} worker(s); 'first <0.01' = the first validation check (every eval_every steps of the task's defaults) "
        "below 0.01)"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument(
        "--adding-steps", type=int, default=1000, help="step budget of each adding run"
    )
    parser.add_argument("--workers", type=int, default=2, help="adding runs trained side by side")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)
    sections = args.only or list(SECTIONS)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"rnnkit forecasting + synthetic benchmark: torch {torch.__version__}, {os.cpu_count()} CPU(s), "
        f"1 thread per run, load average {load:.2f} at start"
    )
    start = time.perf_counter()
    if "melbourne" in sections:
        melbourne()
    if "airline" in sections:
        airline()
    if "synthetic" in sections:
        for name in SYNTHETIC:
            synthetic(name)
    if "adding" in sections:
        adding(args.adding_steps, args.workers)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\ntotal {time.perf_counter() - start:.0f} s wall; load average {load:.2f} at the end")


if __name__ == "__main__":
    main()
