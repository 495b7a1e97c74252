"""Forecasting metrics and baselines: exact values on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.metrics.forecasting import (
    forecast_report,
    mae,
    mape,
    mase,
    persistence_forecast,
    rmse,
    seasonal_naive_forecast,
    smape,
)

ACTUAL = [1.0, 2.0, 4.0]
FORECAST = [2.0, 2.0, 2.0]  # errors 1, 0, 2


def test_mae_rmse():
    assert mae(ACTUAL, FORECAST) == 1.0
    assert rmse(ACTUAL, FORECAST) == math.sqrt(5 / 3)


def test_mape_smape():
    assert mape(ACTUAL, FORECAST) == pytest.approx(100 * (1 / 1 + 0 + 2 / 4) / 3, abs=1e-12)  # 50
    assert mape(ACTUAL, FORECAST) == pytest.approx(50.0, abs=1e-12)
    # 2|y-f|/(|y|+|f|): 2/3, 0, 4/6
    assert smape(ACTUAL, FORECAST) == pytest.approx(100 * (2 / 3 + 0 + 2 / 3) / 3, abs=1e-12)
    assert smape([0.0, 1.0], [0.0, 1.0]) == 0.0  # 0/0 counts as a perfect forecast
    assert smape([1.0], [-1.0]) == 200.0
    with pytest.raises(
        ValueError, match=r"MAPE is undefined when an actual value is 0 \(1 of 2 are\)"
    ):
        mape([0.0, 1.0], [1.0, 1.0])


def test_mase():
    train = [1.0, 3.0, 2.0, 5.0]  # |diffs| 2, 1, 3 -> scale 2; seasonal (m=2) |2-1|, |5-3| -> 1.5
    assert mase(ACTUAL, FORECAST, train) == 0.5
    assert mase(ACTUAL, FORECAST, train, period=2) == pytest.approx(1 / 1.5, abs=1e-15)
    with pytest.raises(ValueError, match="does not change over one period"):
        mase(ACTUAL, FORECAST, [2.0, 2.0, 2.0])
    with pytest.raises(ValueError, match="longer than the period 12, got 4 values"):
        mase(ACTUAL, FORECAST, train, period=12)


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"same shape, got \(2,\) and \(3,\)"):
        mae([1.0, 2.0], [1.0, 2.0, 3.0])


def test_persistence():
    series = [10.0, 11.0, 12.0, 13.0, 14.0]
    np.testing.assert_array_equal(
        persistence_forecast(series, [2, 3], horizon=2), [[11, 11], [12, 12]]
    )
    with pytest.raises(ValueError, match="forecast steps must lie in"):
        persistence_forecast(series, [0])


def test_seasonal_naive():
    series = np.arange(1.0, 8.0)  # 1..7
    # start 4, period 2: step 4 <- 2 (value 3), step 5 <- 3 (4), step 6 <- 2 (3: never a step >= 4)
    np.testing.assert_array_equal(
        seasonal_naive_forecast(series, [4], horizon=3, period=2), [[3, 4, 3]]
    )
    np.testing.assert_array_equal(
        seasonal_naive_forecast(series, [4, 5], horizon=1, period=1),
        persistence_forecast(series, [4, 5]),
    )
    with pytest.raises(ValueError, match="needs 12 steps of history"):
        seasonal_naive_forecast(series, [3], horizon=1, period=12)


def test_report_skips_undefined():
    report = forecast_report([0.0, 2.0], [1.0, 2.0], train=[1.0, 2.0, 4.0])
    assert report == {"mae": 0.5, "rmse": math.sqrt(0.5), "smape": 100.0, "mase": 0.5 / 1.5}


def test_melbourne_baselines_match_reference(shared_data):
    from rnnkit.data.timeseries import read_series

    y = read_series(shared_data / "timeseries" / "daily-min-temperatures.csv").column("Temp")
    test = np.arange(len(y) - 730, len(y))  # last 20%
    assert round(mae(y[test], persistence_forecast(y, test)[:, 0]), 3) == 1.953
    assert round(rmse(y[test], persistence_forecast(y, test)[:, 0]), 3) == 2.481
    assert round(mae(y[test], seasonal_naive_forecast(y, test, 1, 365)[:, 0]), 3) == 2.965


def test_seasonal_naive_with_a_period_longer_than_the_history_is_a_value_error():
    """Found by fuzzing: ``--period 10**30`` overflowed numpy's int64 (OverflowError) in the
    final report, after training, instead of leaving out seasonal naive as too little history."""
    series = np.arange(20.0)
    with pytest.raises(ValueError, match="needs 1000000000000000000000000000000 steps"):
        seasonal_naive_forecast(series, np.array([5, 6]), 1, 10**30)
    with pytest.raises(ValueError, match="period 6 needs 6 steps of history"):
        seasonal_naive_forecast(series, np.array([5, 6]), 1, 6)
