"""Forecasting and synthetic-task benchmark: model scores beside the naive baselines.

Run from the project root::

    python benchmarks/tasks_series.py                 # everything, about 15 minutes on 2 cores
    python benchmarks/tasks_series.py --only adding --adding-steps 500

Sections (the real series are read from ../shared/data; without it those sections are skipped
with a message):

1. Melbourne daily minimum temperatures, last 20% as test: 1-day-ahead MAE (target <= 1.85;
   persistence 1.953, seasonal naive 2.965) and 7-day-ahead MAE against persistence.
2. Airline passengers, last 24 months as test: 1-month-ahead MAPE against seasonal naive.
3. Sine wave (the Elman tutorial, 6 tanh units): test MSE on unseen phase offsets (< 1e-3).
4. Mean-sign (2-layer tanh RNN, 64 units, 13,314 parameters): test accuracy (>= 97%).
5. Adding problem, sequence lengths 50, 100, 200, 400: does RNN / LSTM / GRU reach MSE < 0.01
   within a fixed step budget? (The plain tanh RNN's gradients vanish over long sequences.)

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

from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.tasks.forecast import ForecastTaskConfig, train_forecast
from rnnkit.tasks.synthetic import SyntheticTaskConfig, train_synthetic
from rnnkit.training import TrainConfig

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "timeseries"
SECTIONS = ("melbourne", "airline", "sine", "mean-sign", "adding")
LENGTHS = (50, 100, 200, 400)
CELLS = ("rnn", "lstm", "gru")


def quiet(_: str) -> None:
    pass


def melbourne(seed: int) -> None:
    path = DATA / "daily-min-temperatures.csv"
    if not path.is_file():
        print(f"melbourne: skipped, {path} not found")
        return
    print("\n== Melbourne daily minimum temperatures (last 20% = 730 days as test) ==")
    print("model: GRU 32 units, lookback 30 days + day-of-year sin/cos, direct head, 1500 steps of 64 windows")
    print(f"{'horizon':<22} {'model MAE':>10} {'persistence':>12} {'seasonal naive':>15} {'target':>8} {'time s':>7}")
    for horizon in (1, 7):
        start = time.perf_counter()
        task = ForecastTaskConfig(csv=str(path), target="Temp", lookback=30, horizon=horizon, calendar=True,
                                  val_size=0.1, test_size=0.2, period=365)
        train = TrainConfig(max_steps=1500, batch_size=64, lr=3e-3, warmup_steps=20, eval_every=100,
                            progress=False, seed=seed)
        run = train_forecast(task, ForecasterConfig(cell="gru", hidden_size=32), train, log=quiet)
        seconds = time.perf_counter() - start
        rows = run.test.rows
        wanted = [("MAE", "1-day ahead" if horizon == 1 else "days 1-7 (mean)")]
        if horizon > 1:
            wanted.append((f"MAE step {horizon}", f"day {horizon} ahead"))
        for key, label in wanted:
            values = rows[key]
            target = "<= 1.85" if horizon == 1 else "< pers."
            print(f"{label:<22} {values['model']:>10.3f} {values['persistence']:>12.3f} "
                  f"{values['seasonal naive']:>15.3f} {target:>8} {seconds:>7.0f}")


def airline(seed: int) -> None:
    path = DATA / "airline-passengers.csv"
    if not path.is_file():
        print(f"airline: skipped, {path} not found")
        return
    print("\n== Airline passengers (last 24 months as test, 12 before as validation) ==")
    print("model: GRU 32 units, lookback 24 months + month-of-year sin/cos, residual (forecasts the change), "
          "600 steps of 32 windows")
    start = time.perf_counter()
    task = ForecastTaskConfig(csv=str(path), target="Passengers", lookback=24, horizon=1, calendar=True,
                              val_size=12, test_size=24, period=12)
    train = TrainConfig(max_steps=600, batch_size=32, lr=3e-3, warmup_steps=20, eval_every=50,
                        progress=False, seed=seed)
    run = train_forecast(task, ForecasterConfig(cell="gru", hidden_size=32, residual=True), train, log=quiet)
    seconds = time.perf_counter() - start
    print(f"{'1-month ahead':<22} {'model':>10} {'persistence':>12} {'seasonal naive':>15} {'time s':>7}")
    for key in ("MAPE %", "MAE"):
        values = run.test.rows[key]
        print(f"{key:<22} {values['model']:>10.3f} {values['persistence']:>12.3f} "
              f"{values['seasonal naive']:>15.3f} {seconds:>7.0f}")


def synthetic(name: str, seed: int) -> None:
    if name == "sine":
        print("\n== Sine wave, next value (Elman tutorial: 20 points, 6 tanh units; test on unseen phases) ==")
        task = SyntheticTaskConfig(task="sine", n_test=1000)
        train = TrainConfig(max_steps=3000, batch_size=32, lr=3e-2, warmup_steps=50, eval_every=500,
                            progress=False, seed=seed)
    else:
        print("\n== Mean-sign (Gaussian sequences 20 x 10; 2-layer tanh RNN, 64 units) ==")
        task = SyntheticTaskConfig(task="mean-sign", n_test=2000)
        train = TrainConfig(max_steps=1500, batch_size=64, lr=1e-3, warmup_steps=50, eval_every=250,
                            progress=False, seed=seed)
    start = time.perf_counter()
    run = train_synthetic(task, train, log=quiet)
    parameters = sum(p.numel() for p in run.model.parameters())
    print(f"{parameters:,} parameters, {train.max_steps} steps of {train.batch_size}, "
          f"{time.perf_counter() - start:.0f} s")
    print(run.test.format())


def _adding_job(job: tuple[str, int, int, int]) -> tuple[str, int, float, int | None, float]:
    cell, length, steps, seed = job
    torch.set_num_threads(1)
    reached: list[int] = []

    def watch(trainer, event: str, info: dict) -> None:
        if event == "eval" and info.get("val_loss", 1.0) < 0.01 and not reached:
            reached.append(int(info["step"]))

    start = time.perf_counter()
    task = SyntheticTaskConfig(task="adding", seq_len=length, cell=cell, hidden_size=64, n_val=512, n_test=1000)
    train = TrainConfig(max_steps=steps, batch_size=32, lr=1e-2, warmup_steps=50, eval_every=100,
                        progress=False, seed=seed)
    run = train_synthetic(task, train, log=quiet, callbacks=[watch])
    return cell, length, run.test.model, (reached[0] if reached else None), time.perf_counter() - start


def adding(steps: int, workers: int, seed: int) -> None:
    print(f"\n== Adding problem: MSE < 0.01 within a budget of {steps} steps of 32 sequences "
          f"(hidden 64, AdamW lr 1e-2 warmup+cosine, clip 1.0; predicting 1 always gives ~0.167) ==")
    jobs = [(cell, length, steps, seed) for length in reversed(LENGTHS) for cell in CELLS]
    start = time.perf_counter()
    if workers > 1:
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            results = pool.map(_adding_job, jobs, chunksize=1)
    else:
        results = [_adding_job(job) for job in jobs]
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
    print(f"({len(jobs)} runs, {total:.0f} s of training in {time.perf_counter() - start:.0f} s wall "
          f"with {workers} worker(s); 'first <0.01' = first validation check, every 100 steps, "
          "below 0.01)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only these sections")
    parser.add_argument("--adding-steps", type=int, default=1000, help="step budget of each adding run")
    parser.add_argument("--workers", type=int, default=2, help="adding runs trained side by side")
    parser.add_argument("--seed", type=int, default=0, help="seed of every run")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    torch.set_num_threads(1)
    sections = args.only or list(SECTIONS)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"rnnkit forecasting + synthetic benchmark: torch {torch.__version__}, {os.cpu_count()} CPU(s), "
          f"1 thread per run, load average {load:.2f} at start")
    start = time.perf_counter()
    if "melbourne" in sections:
        melbourne(args.seed)
    if "airline" in sections:
        airline(args.seed)
    for name in ("sine", "mean-sign"):
        if name in sections:
            synthetic(name, args.seed)
    if "adding" in sections:
        adding(args.adding_steps, args.workers, args.seed)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"\ntotal {time.perf_counter() - start:.0f} s wall; load average {load:.2f} at the end")


if __name__ == "__main__":
    main()
