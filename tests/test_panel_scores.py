"""The many-series report (rnnkit.metrics.panel_scores) and the classical baselines
(rnnkit.metrics.classical): hand-computed rows, the published M4 Hourly figures, statsmodels
parity on a few short series, fallbacks, the time limit and the missing extra."""

from __future__ import annotations

import importlib
import math
import subprocess
import sys
from statistics import NormalDist

import numpy as np
import pytest

from rnnkit.errors import RnnkitError
from rnnkit.metrics import classical
from rnnkit.metrics.classical import classical_candidates
from rnnkit.metrics.forecasting import panel
from rnnkit.metrics.panel_scores import Candidate, baseline_candidates, panel_rows, row_names

# two series of different lengths, period 2; MASE scales: |3-1|, |5-2| -> 2.5 and 4, 4, 4, 4 -> 4
HISTORY = [np.array([1.0, 2, 3, 5]), np.array([2.0, 4, 6, 8, 10, 12])]
ACTUAL = np.array([[4.0, 6, 5], [12, 14, 10]])
POINT = np.array([[4.0, 4, 4], [10, 10, 10]])  # errors 0 2 1 / 2 4 0
LEVELS = (0.1, 0.5, 0.9)
SPREAD = np.array([-1.0, 0.0, 1.0])  # quantiles: point - 1, point, point + 1


def _hand_candidates() -> dict[str, Candidate]:
    return {
        "a": Candidate(POINT, POINT[..., None] + SPREAD, LEVELS),
        "naive2": Candidate(np.array([[5.0, 5, 5], [12, 12, 12]])),  # errors 1 1 0 / 0 2 2
        "sampled": Candidate(POINT, samples=POINT[..., None] + np.array([-1.0, 1.0])),
    }


def test_rows_hand_computed():
    rows = panel_rows(ACTUAL, _hand_candidates(), HISTORY, 2)
    assert list(rows) == row_names() == [
        "sMAPE %", "MASE", "OWA", "MAE", "RMSE", "wQL", "CRPS", "coverage 80 %", "width 80",
    ]  # fmt: skip
    smape_a = 100 * ((0 + 4 / 10 + 2 / 9) / 3 + (4 / 22 + 8 / 24 + 0) / 3) / 2
    smape_2 = 100 * ((2 / 9 + 2 / 11 + 0) / 3 + (0 + 4 / 26 + 4 / 22) / 3) / 2
    mase_a, mase_2 = (1 / 2.5 + 2 / 4) / 2, ((2 / 3) / 2.5 + (4 / 3) / 4) / 2
    assert rows["sMAPE %"]["a"] == pytest.approx(smape_a)
    assert rows["sMAPE %"]["naive2"] == pytest.approx(smape_2)
    assert rows["MASE"]["a"] == pytest.approx(mase_a)
    assert rows["MASE"]["naive2"] == pytest.approx(mase_2)
    assert rows["OWA"]["a"] == pytest.approx((smape_a / smape_2 + mase_a / mase_2) / 2)
    assert rows["OWA"]["naive2"] == 1.0
    assert rows["MAE"]["a"] == pytest.approx(9 / 6)
    assert rows["RMSE"]["a"] == pytest.approx(math.sqrt(25 / 6))
    # pinball sums per level over the 6 values: 0.1 -> 1.5, 0.5 -> 4.5, 0.9 -> 4.7; sum |y| = 51
    assert rows["wQL"] == pytest.approx({"a": 2 * (1.5 + 4.5 + 4.7) / 3 / 51})
    # CRPS: from quantiles 2 mean_q rho (a); from the samples {f - 1, f + 1}:
    # E|X - y| = (1 + 2 + 1 + 2 + 4 + 1) / 6, E|X - X'| = 1
    assert rows["CRPS"] == pytest.approx({"a": 2 * 10.7 / 18, "sampled": 11 / 6 - 0.5})
    assert rows["coverage 80 %"] == pytest.approx({"a": 50.0})  # 4, 5 (a bound), 10 inside
    assert rows["width 80"] == pytest.approx({"a": 2.0})


def test_rows_leave_out_what_is_undefined():
    candidates = _hand_candidates()
    del candidates["naive2"]
    candidates["b"] = Candidate(POINT, POINT[..., None] + np.array([0.0, 1.0]), (0.5, 0.7))
    rows = panel_rows(ACTUAL, candidates, HISTORY, 5, intervals=(0.8, 0.4))
    assert rows["OWA"] == {} and rows["MASE"] == {}  # no naive2; series shorter than period 5
    assert set(rows["wQL"]) == {"a", "b"} and set(rows["coverage 80 %"]) == {"a"}
    assert rows["coverage 40 %"] == {}  # levels 0.3 and 0.7: b has 0.7 only, a neither


def test_bad_shapes_are_one_line():
    with pytest.raises(RnnkitError, match=r"^candidate 'x': expected forecasts of shape \(2, 3\), "
                       r"got \(2, 2\)$"):  # fmt: skip
        panel_rows(ACTUAL, {"x": Candidate(POINT[:, :2])}, HISTORY, 2)
    with pytest.raises(RnnkitError, match=r"^actual: expected complete values, got 1 NaN"):
        panel_rows(np.where(ACTUAL == 6, np.nan, ACTUAL), {}, HISTORY, 2)
    with pytest.raises(RnnkitError, match=r"^history: expected 2 series, got 1$"):
        panel_rows(ACTUAL, {}, HISTORY[:1], 2)
    with pytest.raises(RnnkitError, match=r"^quantiles: expected shape \(2, 3, 2\)"):
        Candidate(POINT, POINT[..., None] + SPREAD, (0.1, 0.9))
    with pytest.raises(RnnkitError, match="^levels: expected the quantile levels with quantiles"):
        Candidate(POINT, POINT[..., None] + SPREAD)


def test_baselines_hand_computed():
    history = [np.array([1.0, 2, 4]), np.array([3.0, 3, 5, 6])]
    found = baseline_candidates(history, 2, 2, LEVELS)
    assert list(found) == ["naive", "seasonal naive", "naive2"]
    naive = found["naive"]
    assert np.array_equal(naive.point, [[4, 4], [6, 6]])
    # statsforecast's Naive: sigma = sqrt(sum of squared one-step differences / (T - 1))
    z = NormalDist().inv_cdf(0.9)
    sigma = np.array([math.sqrt((1 + 4) / 2), math.sqrt((0 + 4 + 1) / 3)])
    width = z * sigma[:, None] * np.sqrt([1.0, 2.0])
    assert np.allclose(naive.quantiles[..., 2] - naive.point, width)
    assert np.allclose(naive.quantiles[..., 0] - naive.point, -width)
    assert np.array_equal(found["seasonal naive"].point, [[2, 4], [5, 6]])
    assert found["naive2"].quantiles is None
    # no seasonal naive with period 1, or a series of no more than one period: never an error
    assert list(baseline_candidates(history, 2, 1)) == ["naive", "naive2"]
    assert list(baseline_candidates(history, 2, 3)) == ["naive", "naive2"]
    assert baseline_candidates([np.array([7.0])], 2, 1)["naive"].quantiles is None


def test_shared_m4_hourly_published_figures(shared_data):
    from test_metrics_forecasting import _m4_wide  # the reading checked there

    folder = shared_data / "m4-hourly"
    history = _m4_wide(folder / "Hourly-train.csv")
    actual = np.array(_m4_wide(folder / "Hourly-test.csv"))
    rows = panel_rows(actual, baseline_candidates(history, 48, 24), history, 24)
    # M4's published Hourly figures (sMAPE / MASE), three decimals
    published = {"naive": (43.003, 11.608), "seasonal naive": (13.912, 1.193),
                 "naive2": (18.383, 2.395)}  # fmt: skip
    for name, figures in published.items():
        assert (round(rows["sMAPE %"][name], 3), round(rows["MASE"][name], 3)) == figures
    assert rows["OWA"]["naive2"] == 1.0
    assert round(rows["wQL"]["seasonal naive"], 4) == 0.0376  # statsforecast's intervals
    assert round(rows["coverage 80 %"]["seasonal naive"], 1) == 84.1


# ------------------------------------------------------------------------ classical baselines
def _seasonal(n: int, shift: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 50 + shift + 0.3 * t + 8 * np.sin(2 * np.pi * t / 4) + rng.normal(0, 1, n)


SHORT = [_seasonal(28, 0, 0), _seasonal(24, 10, 1), _seasonal(32, 20, 2)]


@pytest.fixture
def statsmodels():
    """The ``forecast`` extra (in ``dev``); its tests skip where it is not installed."""
    return pytest.importorskip("statsmodels")


def test_classical_matches_statsmodels(statsmodels):
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel
    from statsmodels.tsa.forecasting.theta import ThetaModel

    found, notes = classical_candidates(SHORT, 6, 4, LEVELS)
    assert list(found) == ["ETS", "Theta"] and all("fell back" not in n for n in notes)
    y = SHORT[1]
    ets = ETSModel(pd.Series(y), error="add", trend="add", damped_trend=True, seasonal="add",
                   seasonal_periods=4, initialization_method="heuristic").fit(disp=False)  # fmt: skip
    bounds = np.asarray(ets.get_prediction(start=24, end=29).pred_int(0.2))
    assert np.allclose(found["ETS"].point[1], np.asarray(ets.forecast(6)))
    assert np.allclose(found["ETS"].quantiles[1][:, [0, 2]], bounds)
    theta = ThetaModel(y, period=4).fit()
    interval = theta.prediction_intervals(6, alpha=0.2)
    assert np.allclose(found["Theta"].point[1], np.asarray(theta.forecast(6)))
    assert np.allclose(found["Theta"].quantiles[1][:, 0], interval["lower"])
    assert np.allclose(found["Theta"].quantiles[1][:, 2], interval["upper"])
    for candidate in found.values():
        assert candidate.quantiles.shape == (3, 6, 3)
        assert np.array_equal(candidate.quantiles[..., 1], candidate.point)  # 0.5 is the point
        assert np.all(np.diff(candidate.quantiles, axis=-1) > 0)


def test_a_failed_fit_falls_back_to_seasonal_naive(monkeypatch, statsmodels):
    real = classical._fit_theta

    def flaky(y, horizon, period):
        if y.size == 24:
            raise ValueError("no luck")
        return real(y, horizon, period)

    monkeypatch.setattr(classical, "_fit_theta", flaky)
    found, notes = classical_candidates(SHORT, 6, 4, LEVELS, models=("theta",))
    assert list(found) == ["Theta"]
    assert (
        "Theta: 1 of 3 series fell back to seasonal naive (the fit failed), e.g. series 1 "
        "(ValueError: no luck)"
    ) in notes
    snaive = baseline_candidates(SHORT, 6, 4, LEVELS)["seasonal naive"]
    assert np.allclose(found["Theta"].point[1], snaive.point[1])
    assert np.allclose(found["Theta"].quantiles[1], snaive.quantiles[1])


def test_constant_and_one_value_series_are_not_fitted(statsmodels):
    history = [*SHORT[:2], np.full(12, 5.0), np.array([7.0])]
    found, notes = classical_candidates(history, 3, 4, LEVELS)
    assert "Theta: 2 constant series forecast as their value, not fitted" in notes
    for candidate in found.values():
        assert np.array_equal(candidate.quantiles[2:], [[[5.0] * 3] * 3, [[7.0] * 3] * 3])


def test_the_time_limit_leaves_models_out(statsmodels):
    found, notes = classical_candidates(SHORT, 6, 4, models=("theta", "ets"), time_limit=0.0)
    assert found == {}
    assert notes == [
        "Theta: left out, the time limit of 0 s was reached",
        "ETS: left out, the time limit of 0 s was reached",
    ]


def test_classical_bad_input_is_one_line(statsmodels):
    with pytest.raises(RnnkitError, match="^models: expected names among ets, theta, got 'arima'$"):
        classical_candidates(SHORT, 6, 4, models=("arima",))
    with pytest.raises(RnnkitError, match="^horizon: expected at least 1 step, got 0$"):
        classical_candidates(SHORT, 0, 4)


def test_without_statsmodels_the_error_names_the_extra(monkeypatch):
    real = importlib.import_module

    def fake(name, *args):
        if name.startswith("statsmodels"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(RnnkitError) as caught:
        classical_candidates(SHORT, 6, 4)
    assert str(caught.value) == (
        "ETS and Theta baselines needs statsmodels, which is not installed: "
        "pip install \"rnnkit[forecast]\" (No module named 'statsmodels')"
    )


def test_importing_rnnkit_does_not_import_statsmodels():
    code = (
        "import sys, rnnkit, rnnkit.metrics.classical, rnnkit.metrics.panel_scores; "
        "print('statsmodels' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_histories_may_be_padded():
    padded, _ = panel(SHORT)
    rows = panel_rows(np.ones((3, 2)), baseline_candidates(padded, 2, 4), SHORT, 4)
    assert set(rows["wQL"]) == {"naive", "seasonal naive"}
