"""The forecast task's settings: the data section (one series or many), the model section (the
single-series forecaster's and the global probabilistic model's options) and the defaults that
differ when a run learns many series (:func:`panel_defaults`).

A run is a *many-series* run (one global model over a panel, :mod:`rnnkit.tasks.forecast_panel`)
when it names a series column or a wide file, a test file, known or static features, a
likelihood other than ``none`` or quantiles; otherwise it is the single-series forecaster of
earlier releases, unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rnnkit.config import Config, ConfigError, at_least, option
from rnnkit.errors import RnnkitError
from rnnkit.metrics.probabilistic import check_levels
from rnnkit.tasks import options as o
from rnnkit.training.settings import TrainConfig

__all__ = ["ForecastConfig", "ForecastData", "ForecastModel", "is_panel", "panel_defaults"]

SIZE = (
    lambda v: v >= 0 and (v < 1 or (math.isfinite(v) and v == int(v))),
    "a fraction in [0, 1) or a whole number of steps",
)


@dataclass
class ForecastData(Config):
    train: str | None = o.data_file(
        "the series: a CSV file with a header line, a date column and numeric value columns",
        aliases=("csv",),
    )
    target: str | None = option(
        None, "the column to forecast (required)", metavar="COL", required=True
    )
    features: list[str] = option(
        [],
        "other value columns fed as inputs, comma-separated; their future is unknown, so one "
        "series needs mode direct for them, and the many-series model never reads it",
        metavar="COLS",
    )
    date_col: str | None = option(
        None,
        "the date column (none: the first column; many series in a long file: the first column "
        "that is no other setting's; a wide file: none, steps 1, 2, ...); dates or integer steps",
        metavar="COL",
        aliases=("date_column",),
    )
    fill: str | None = option(
        None,
        "fill missing values by carrying the last one forward or by "
        "linear interpolation (none: a missing value is an error)",
        choices=("ffill", "interpolate"),
    )
    lookback: int | None = option(
        30,
        "input window length in steps (many series: none by default, chosen from the data: "
        "max(2 x horizon, 7 x period), at most the median training part less the horizon)",
        metavar="N",
        check=at_least(1),
    )
    horizon: int = option(1, "steps forecast at once", metavar="N", check=at_least(1))
    calendar: bool | None = option(
        None,
        "add the hour of the day (hourly timestamps), the day of the year (daily dates) or the "
        "month of the year (monthly dates) as sin/cos inputs (none: when the dates are hourly, "
        "daily, weekly or monthly)",
    )
    val_size: float = option(
        0.1,
        "validation steps before the test part: a fraction below 1 or a number of steps",
        metavar="S",
        check=SIZE,
    )
    test_size: float = option(
        0.2,
        "test steps at the end: a fraction below 1 or a number of steps",
        metavar="S",
        check=SIZE,
    )
    period: int = option(
        0,
        "season length of the seasonal naive baseline, e.g. 365 for daily "
        "temperatures, 12 for monthly data (0: from the dates)",
        metavar="M",
        check=at_least(0),
    )

    series_col: str | None = option(
        None,
        "many series in one long file: the column of series ids (one global model learns "
        "them all; with --date-col the time column, dates or an integer step)",
        metavar="COL",
    )
    wide: bool = option(
        False,
        "many series in one wide file: one column per series, rows are times (--date-col "
        "names the time column, or there is none: steps 1, 2, ...)",
    )
    test_data: str | None = option(
        None,
        "many series: a file continuing each series (the same layout), whose steps are the "
        "test part, as M4's test files (none: each series' last test-size steps)",
        metavar="FILE",
        file=True,
    )
    known_features: list[str] = option(
        [],
        "many series: columns whose future is known (prices, holidays), comma-separated; the "
        "model reads them over the horizon, so predict needs them there (--future)",
        metavar="COLS",
    )
    static_features: list[str] = option(
        [],
        "many series: per-series category columns (store, region), comma-separated, embedded",
        metavar="COLS",
    )
    scaler: str = option(
        "mean",
        "many series: each series' scaling, fitted on its training part: mean (divide by the "
        "mean absolute value, DeepAR's) or standard (subtract the mean, divide by the std)",
        choices=("mean", "standard"),
    )
    weighting: str = option(
        "windows",
        "many series: windows: every training window once an epoch (long series count more); "
        "series: each series drawn equally often",
        choices=("windows", "series"),
    )

    def validate(self) -> None:
        columns = [self.target, *self.features, *self.known_features]
        if self.target in self.features:
            raise ConfigError(
                "features",
                f"the target {self.target!r} is always an input; do not list it among the features",
            )
        if len(set(columns)) != len(columns):
            listed = ", ".join([*self.features, *self.known_features])
            raise ConfigError("features", f"a column is listed twice: {listed}")
        if self.wide and self.series_col:
            raise ConfigError(
                "wide",
                f"expected either --wide (one column per series) or --series-col (a long file), "
                f"got both (series_col {self.series_col!r})",
            )
        if self.wide and (self.features or self.known_features or self.static_features):
            raise ConfigError(
                "wide",
                "a wide file holds values only: expected no features, known features or static "
                "features with it; use a long file with --series-col",
            )


@dataclass
class ForecastModel(o.RecurrentOptions):
    mode: str = option(
        "direct",
        "direct: one head forecasts all horizon steps; autoregressive: a one-step model rolled out",
        choices=("direct", "autoregressive"),
    )
    residual: bool = option(False, "forecast the change from the last observed value")
    likelihood: str = option(
        "none",
        "a probabilistic forecast trained by maximum likelihood: gaussian, studentt, or negbin "
        "for counts (none: a point forecast; many series default to studentt)",
        choices=("none", "gaussian", "studentt", "negbin"),
    )
    quantiles: list[float] = option(
        [],
        "forecast these quantiles, trained by pinball loss, e.g. 0.1,0.5,0.9 (with likelihood "
        "none; a likelihood gives every quantile from its samples)",
        metavar="Q",
    )
    samples: int = option(
        200,
        "sample paths drawn a forecast with a likelihood (each carries its own values forward)",
        metavar="N",
        check=at_least(1),
    )
    lags: list[int] = option(
        [],
        "many series: also feed the value this many steps back, e.g. 24,168 for hourly data "
        "(none given: the seasonal period, when above 1)",
        metavar="N",
    )
    series_dim: int = option(
        8,
        "many series: size of the learned embedding of each training series (0: none; a "
        "series unseen in training is forecast without one)",
        metavar="N",
        check=at_least(0),
    )
    static_dim: int = option(
        4, "many series: size of each static feature's embedding", metavar="N", check=at_least(1)
    )

    def validate(self) -> None:
        if self.quantiles:
            try:
                check_levels(self.quantiles)
            except RnnkitError as error:
                raise ConfigError("quantiles", str(error).split(": ", 1)[-1]) from None
            if self.likelihood != "none":
                raise ConfigError(
                    "quantiles",
                    f"expected quantiles with likelihood none (trained by pinball loss), got "
                    f"likelihood {self.likelihood!r}, whose samples give every quantile",
                )
        bad = [lag for lag in self.lags if lag < 1]
        if bad:
            raise ConfigError("lags", f"expected lags of 1 step or more, got {bad[0]}")

    # GRU 32 with the calendar inputs: Melbourne test MAE 1.692 against 1.719 for LSTM 32 without
    # (benchmarks/tasks_series.py, 1,500 steps).
    cell: str = o.cell("gru")
    hidden_size: int = o.hidden(32)
    dropout: float = o.dropout(0.0, "between layers and before the head")


@dataclass
class ForecastConfig(Config):
    data: ForecastData = option(factory=ForecastData)
    model: ForecastModel = option(factory=ForecastModel)
    train: TrainConfig = o.training(
        "forecast", max_steps=1500, batch_size=64, lr=3e-3, warmup_steps=50, eval_every=100
    )

    def validate(self) -> None:
        if is_panel(self):
            if self.model.mode != "autoregressive":
                raise ConfigError(
                    "model.mode",
                    "the many-series model is autoregressive (DeepAR): expected mode "
                    f"autoregressive, got {self.model.mode!r}",
                )
            for name in ("val_size", "test_size"):
                value = getattr(self.data, name)
                if value != int(value) or 0 < value < 1:
                    raise ConfigError(
                        f"data.{name}",
                        f"expected a whole number of steps in each series with many series, "
                        f"got {value:g}",
                    )
            if self.model.likelihood == "negbin" and self.data.scaler != "mean":
                raise ConfigError(
                    "data.scaler",
                    "negbin models counts scaled by their mean (DeepAR): expected scaler mean, "
                    f"got {self.data.scaler!r}",
                )
            if self.model.residual:
                raise ConfigError(
                    "model.residual", "expected no residual with many series (DeepAR's scaling)"
                )
            return
        if self.data.lookback is None:
            raise ConfigError(
                "data.lookback", "expected a number of steps for one series, got none"
            )
        if self.data.features and self.model.mode == "autoregressive":
            raise ConfigError(
                "model.mode",
                "autoregressive mode feeds its own forecasts back and "
                "cannot know the future of the features (data.features: "
                f"{', '.join(self.data.features)}); use mode direct or no features",
            )


def is_panel(config: ForecastConfig) -> bool:
    """Whether ``config`` trains the global many-series model (see the module's docstring)."""
    return _panel_settings(config.data.to_dict(), config.model.to_dict())


def _panel_settings(data: Mapping[str, Any], model: Mapping[str, Any]) -> bool:
    return bool(
        data.get("series_col")
        or data.get("wide")
        or data.get("test_data")
        or data.get("known_features")
        or data.get("static_features")
        or model.get("likelihood", "none") != "none"
        or model.get("quantiles")
    )


# The global model's defaults (benchmarks/forecast_many.py): DeepAR's autoregressive network
# with a Student-t likelihood; validation and test are the last horizon steps of every series.
PANEL_MODEL = {"mode": "autoregressive", "likelihood": "studentt"}
# a validation also fits the interval's spread from sample paths (M4 Hourly: about 1.5 s)
PANEL_TRAIN = {"eval_every": 500}


def panel_defaults(defaults: dict[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """The many-series defaults over ``defaults`` when the ``given`` settings ask for many
    series (a likelihood given as ``none`` with quantiles keeps ``none``)."""
    data = given.get("data") if isinstance(given.get("data"), Mapping) else {}
    model = given.get("model") if isinstance(given.get("model"), Mapping) else {}
    if not _panel_settings(data, model):
        return defaults
    horizon = data.get("horizon", defaults["data"]["horizon"])
    horizon = horizon if isinstance(horizon, int) and horizon >= 1 else 1
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in defaults.items()}
    out["model"].update(PANEL_MODEL)
    if model.get("quantiles"):
        out["model"]["likelihood"] = "none"
    out["data"].update({"val_size": horizon, "test_size": horizon, "lookback": None})
    out["train"].update(PANEL_TRAIN)
    return out
