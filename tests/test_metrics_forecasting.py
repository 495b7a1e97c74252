"""Forecasting metrics and baselines: exact values on hand-computed examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.metrics.forecasting import (
    _seasonal_indices,
    forecast_report,
    m4_mase,
    m4_smape,
    mae,
    mape,
    mase,
    naive2_panel,
    naive_panel,
    owa,
    panel,
    persistence_forecast,
    rmse,
    seasonal_naive_forecast,
    seasonal_naive_panel,
    seasonal_naive_quantiles,
    seasonal_scale,
    seasonality_test,
    smape,
)
from rnnkit.metrics.probabilistic import DEFAULT_LEVELS, interval_scores, wql

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


# ---------------------------------------------------------------- many series, M4 measures

HISTORY = [[1.0, 2.0, 3.0, 5.0], [4.0, 2.0]]  # two series of different lengths


def test_panel_pads_with_nan_and_refuses_gaps():
    x, lengths = panel(HISTORY)
    assert np.array_equal(x, [[1, 2, 3, 5], [4, 2, np.nan, np.nan]], equal_nan=True)
    assert lengths.tolist() == [4, 2]
    assert np.array_equal(panel(x)[0], x, equal_nan=True)
    with pytest.raises(ValueError, match=r"^series 1 has a missing value before its end"):
        panel(np.array([[1.0, 2.0], [np.nan, 1.0]]))


def test_panel_baselines_hand_computed():
    assert naive_panel(HISTORY, 3).tolist() == [[5, 5, 5], [2, 2, 2]]
    assert seasonal_naive_panel(HISTORY, 3, 2).tolist() == [[3, 5, 3], [4, 2, 4]]
    with pytest.raises(ValueError, match=r"needs series of at least 3 steps, series 1 has 2$"):
        seasonal_naive_panel(HISTORY, 3, 3)


def test_m4_smape_mase_owa_hand_computed():
    y = np.array([[4.0, 6.0], [2.0, 2.0]])
    f = np.array([[5.0, 5.0], [1.0, 2.0]])
    # sMAPE per series: mean(200/9, 200/11) and mean(200/3, 0), then their mean
    expected = np.mean([(200 / 9 + 200 / 11) / 2, (200 / 3) / 2])
    assert m4_smape(y, f) == pytest.approx(expected, abs=1e-12)
    # scales (period 1): mean(1, 1, 2) = 4/3 and |2 - 4| = 2; MAE 1 and 0.5
    assert seasonal_scale(HISTORY, 1).tolist() == pytest.approx([4 / 3, 2.0])
    assert m4_mase(y, f, HISTORY, 1) == pytest.approx((1 / (4 / 3) + 0.5 / 2) / 2)
    assert owa(10.0, 1.0, 20.0, 4.0) == pytest.approx((0.5 + 0.25) / 2)
    with pytest.raises(ValueError, match="MASE is undefined: series 0 does not change"):
        seasonal_scale([[3.0, 3.0, 3.0]], 1)


def test_seasonal_indices_hand_computed():
    # period 2: centred moving average with weights 1/4, 1/2, 1/4 at t = 1..6 is
    # 2, 2, 2.25, 3.25, 4, 4; the ratios x / trend average to 0.53846 (even t) and 1.44444 (odd t)
    x = np.array([[1.0, 3.0, 1.0, 3.0, 2.0, 6.0, 2.0, 6.0]])
    even = (1 / 2 + 2 / 3.25 + 2 / 4) / 3
    odd = (3 / 2 + 3 / 2.25 + 6 / 4) / 3
    expected = np.array([even, odd]) / ((even + odd) / 2)
    assert np.allclose(_seasonal_indices(x, 2), [expected], atol=1e-12)


def test_naive2_hand_computed():
    seasonal = [1.0, 3.0] * 10  # trend 2, indices 0.5 and 1.5: adjusted last value 3 / 1.5 = 2
    # noise (rounded N(10, 1) draws): |r_2| = 0.10, under its 90% limit 0.39: not seasonal
    flat = [10.13, 9.87, 10.64, 10.1, 9.46, 10.36, 11.3, 10.95, 9.3, 8.73]
    flat += [9.38, 10.04, 7.67, 9.78, 8.75, 9.27, 9.46, 9.68, 10.41, 11.04]
    short = [1.0, 3.0] * 2  # fewer than 3 periods: not seasonal
    assert seasonality_test([seasonal, flat, short], 2).tolist() == [True, False, False]
    forecast = naive2_panel([seasonal, flat, short], 3, 2)
    assert np.allclose(forecast, [[1, 3, 1], [11.04] * 3, [3, 3, 3]], atol=1e-12)
    assert seasonality_test([seasonal], 1).tolist() == [False]
    # R's acf stops at lag floor(10 log10 T): with T = 200 that is 23, so a period of 52 is never
    # tested (M4's weekly series) however seasonal the data
    weekly = np.tile(np.r_[np.ones(26), 3 * np.ones(26)], 4)[:200]
    assert seasonality_test([weekly], 52).tolist() == [False]
    quarterly = np.tile([1.0, 2.0, 3.0, 9.0], 50)  # the same length, period 4 <= 23: tested
    assert seasonality_test([quarterly], 4).tolist() == [True]


def test_seasonal_naive_quantiles_hand_computed():
    history = [[1.0, 2.0, 3.0, 5.0, 6.0, 8.0]]  # period 2: residuals 2, 3, 3, 3
    sigma = math.sqrt((4 + 9 + 9 + 9) / 4)
    q = seasonal_naive_quantiles(history, 3, 2, (0.1, 0.5, 0.9))  # (1, 3, 3)
    z = 1.2815515655446004  # standard normal 0.9 quantile
    growth = np.array([1.0, 1.0, math.sqrt(2)])  # sqrt(floor(k / 2) + 1)
    assert np.allclose(q[0, :, 1], [6, 8, 6])
    assert np.allclose(q[0, :, 2] - q[0, :, 1], z * sigma * growth, atol=1e-9)
    assert np.allclose(q[0, :, 0] - q[0, :, 1], -z * sigma * growth, atol=1e-9)


def _m4_wide(path) -> list[np.ndarray]:
    import csv

    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))[1:]
    return [np.array([float(v) for v in row[1:] if v != ""]) for row in rows]


def test_shared_m4_hourly_published_figures(shared_data):
    folder = shared_data / "m4-hourly"
    history = panel(_m4_wide(folder / "Hourly-train.csv"))[0]
    actual = np.array(_m4_wide(folder / "Hourly-test.csv"))
    assert history.shape == (414, 960) and actual.shape == (414, 48)
    naive1 = naive_panel(history, 48)
    snaive = seasonal_naive_panel(history, 48, 24)
    naive2 = naive2_panel(history, 48, 24)
    # M4's published Hourly benchmarks (Naive1 43.003 / 11.608, sNaive 13.912 / 1.193,
    # Naive2 18.383 / 2.395), three decimals
    for forecast, published in [
        (naive1, (43.003, 11.608)),
        (snaive, (13.912, 1.193)),
        (naive2, (18.383, 2.395)),
    ]:
        got = (m4_smape(actual, forecast), m4_mase(actual, forecast, history, 24))
        assert tuple(round(v, 3) for v in got) == published
    s2, m2 = m4_smape(actual, naive2), m4_mase(actual, naive2, history, 24)
    assert owa(s2, m2, s2, m2) == 1.0
    # statsforecast's SeasonalNaive with Gaussian residual intervals: wQL 0.0376, 80% coverage
    # 84.1% (issue 19); its point forecast at every level: 0.048 (gluonts' published figure)
    quantiles = seasonal_naive_quantiles(history, 48, 24, DEFAULT_LEVELS)
    assert round(wql(actual, quantiles), 4) == 0.0376
    assert round(interval_scores(actual, quantiles, DEFAULT_LEVELS)["coverage_80"], 3) == 0.841
    point = np.repeat(snaive[..., None], 9, axis=2)
    assert round(wql(actual, point), 3) == 0.048
