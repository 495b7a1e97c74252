"""``rnnkit train forecast``: a recurrent forecaster on a CSV time series of your own."""

from __future__ import annotations

import argparse
import sys

from rnnkit.cli._common import (
    HelpFormatter,
    add_trainer_options,
    load_resume_checkpoint,
    train_config_from_args,
)
from rnnkit.models.forecaster import ForecasterConfig
from rnnkit.tasks.forecast import ForecastTaskConfig, format_evaluation, train_forecast
from rnnkit.training import TrainConfig

__all__ = ["DEFAULTS", "add_parser", "forecast_command"]

DEFAULTS = TrainConfig(max_steps=1500, batch_size=64, lr=3e-3, warmup_steps=50, eval_every=100,
                       save_every=250, out_dir="runs/forecast")
_T = ForecastTaskConfig(csv="", target="")
_M = ForecasterConfig()

EXAMPLES = """examples:
  rnnkit train forecast --csv daily-min-temperatures.csv --target Temp --lookback 30 --calendar
  rnnkit train forecast --csv airline-passengers.csv --target Passengers --lookback 24 \\
      --test-size 24 --val-size 12 --residual
  rnnkit evaluate runs/forecast --data recent.csv
  rnnkit predict runs/forecast --input recent.csv       # the next --horizon values, with dates
"""


def _columns(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(f"expected comma-separated column names, got {text!r}")
    return names


def _size(text: str) -> float:
    try:
        value = float(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"expected a fraction or a number of steps, got {text!r}") from error
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a value >= 0, got {text}")
    return value


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser(
        "forecast", help="train a forecaster on a CSV time series",
        description="Train a recurrent forecaster on a CSV file with a header: a date column (the "
        "first unless --date-col) and value columns. The series is split by time (train, "
        "validation, then the last --test-size steps as test; nothing shuffled across time), "
        "scaled with training statistics only, and the test period is scored with MAE, RMSE, "
        "MAPE, sMAPE and MASE beside persistence and seasonal naive. Saves OUT/best.pt and "
        "OUT/last.pt.\n\n" + EXAMPLES,
        formatter_class=HelpFormatter,
    )
    data = parser.add_argument_group("data")
    data.add_argument("--csv", required=True, metavar="FILE", help="the series file (required)")
    data.add_argument("--target", required=True, metavar="COL", help="the column to forecast (required)")
    data.add_argument("--features", type=_columns, default=[], metavar="COLS",
                      help="other value columns fed as inputs, comma-separated (default: none)")
    data.add_argument("--date-col", default=None, metavar="COL",
                      help="the date column (default: the first column)")
    data.add_argument("--fill", choices=("ffill", "interpolate"), default=None,
                      help="fill missing values by carrying the last one forward or by linear "
                      "interpolation (default: a missing value is an error)")
    data.add_argument("--lookback", type=int, default=_T.lookback, metavar="N",
                      help=f"input window length in steps (default: {_T.lookback})")
    data.add_argument("--horizon", type=int, default=_T.horizon, metavar="N",
                      help=f"steps forecast at once (default: {_T.horizon})")
    data.add_argument("--calendar", action=argparse.BooleanOptionalAction, default=_T.calendar,
                      help="add the day of the year (daily dates) or month of the year (monthly "
                      "dates) as sin/cos inputs (default: no)")
    data.add_argument("--val-size", type=_size, default=_T.val_size, metavar="S",
                      help=f"validation steps before the test part: a fraction below 1 or a number "
                      f"of steps (default: {_T.val_size})")
    data.add_argument("--test-size", type=_size, default=_T.test_size, metavar="S",
                      help=f"test steps at the end: a fraction below 1 or a number of steps "
                      f"(default: {_T.test_size})")
    data.add_argument("--period", type=int, default=_T.period, metavar="M",
                      help="season length of the seasonal naive baseline, e.g. 365 for daily "
                      "temperatures or 12 for monthly data (default: 0 = from the dates)")
    model = parser.add_argument_group("model")
    model.add_argument("--mode", choices=("direct", "autoregressive"), default=_M.mode,
                       help=f"direct: one head forecasts all --horizon steps; autoregressive: a "
                       f"one-step model rolled out (default: {_M.mode})")
    model.add_argument("--residual", action=argparse.BooleanOptionalAction, default=_M.residual,
                       help="forecast the change from the last observed value (default: no)")
    model.add_argument("--cell", choices=("rnn", "lstm", "gru"), default=_M.cell,
                       help=f"recurrent cell (default: {_M.cell})")
    model.add_argument("--hidden", type=int, default=_M.hidden_size, metavar="H",
                       help=f"hidden size (default: {_M.hidden_size})")
    model.add_argument("--layers", type=int, default=_M.num_layers, metavar="N",
                       help=f"stacked recurrent layers (default: {_M.num_layers})")
    model.add_argument("--dropout", type=float, default=_M.dropout, metavar="P",
                       help=f"dropout between layers and before the head (default: {_M.dropout})")
    add_trainer_options(parser, DEFAULTS, item="window")
    parser.set_defaults(func=forecast_command)


def forecast_command(args: argparse.Namespace) -> int:
    """Build the configs from ``args``, train, and print the test table beside the baselines."""
    checkpoint = load_resume_checkpoint(args, DEFAULTS, task="forecast")
    train_config = train_config_from_args(args, DEFAULTS, checkpoint)
    task = ForecastTaskConfig(
        csv=args.csv, target=args.target, features=list(args.features), date_column=args.date_col,
        fill=args.fill, lookback=args.lookback, horizon=args.horizon, calendar=args.calendar,
        val_size=args.val_size, test_size=args.test_size, period=args.period,
    )
    model = ForecasterConfig(mode=args.mode, residual=args.residual, cell=args.cell,
                             hidden_size=args.hidden, num_layers=args.layers, dropout=args.dropout)
    run = train_forecast(task, model, train_config, resume=checkpoint)
    if run.validation is not None:
        print(format_evaluation(run.validation, "validation"))
    if run.test is not None:
        print(format_evaluation(run.test, "test"))
    else:
        print("test: no complete window in the test part", file=sys.stderr)
    if train_config.out_dir:
        print(f"saved {train_config.out_dir}/best.pt and last.pt")
    return 0
