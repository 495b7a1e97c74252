"""Forecasting metrics and the naive baselines every forecast is compared with.

Metrics take array-likes of the same shape (actual values first, forecasts second) and return a
Python float, computed in float64:

- ``mae``   mean |y - f|
- ``rmse``  sqrt(mean (y - f)^2)
- ``mape``  100 * mean |y - f| / |y|           (percent; undefined when some y is 0: an error)
- ``smape`` 100 * mean 2|y - f| / (|y| + |f|)  (percent, in [0, 200]; a term with y = f = 0 counts 0)
- ``mase``  mae / mean |x_t - x_{t-m}| over the *training* series x (Hyndman & Koehler 2006): below
  1 beats the in-sample seasonal naive forecast of period m (m = 1: persistence).

Baselines (:func:`persistence_forecast`, :func:`seasonal_naive_forecast`) forecast the steps
``t + k`` (``k = 0 .. K-1``) from what is known before step ``t``: persistence repeats the last
known value ``y[t-1]``; seasonal naive repeats the value one period earlier, ``y[t+k-m]`` (taken
from an earlier season when ``k >= m``, so it never looks at a step on or after ``t``). Choose the
period to match the data: 365 for daily temperatures, 12 for monthly airline passengers.

Many series at once (M4): histories come as a NaN-right-padded ``(N, T)`` array or a list of
1-D arrays (:func:`panel`), forecasts and actual values as ``(N, K)``. :func:`naive_panel`,
:func:`seasonal_naive_panel` and :func:`naive2_panel` (M4's Naive2: naive on the seasonally
adjusted series, :func:`seasonality_test` at 90% and classical multiplicative decomposition, as
M4's R code) are the baselines; :func:`seasonal_naive_quantiles` gives the seasonal naive forecast
Gaussian residual quantiles (statsforecast's intervals) so that it gets a wQL. M4's measures:

- ``m4_smape``  per series mean_k 200 |y - f| / (|y| + |f|), then the mean over series
- ``m4_mase``   per series mean_k |y - f| / mean_{t>=m} |x_t - x_{t-m}| (its own history), then
  the mean over series (m = 24 hourly, 12 monthly, 4 quarterly, 1 yearly, as M4)
- ``owa``       (sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) / 2, from the series-averaged measures

On M4 Hourly (414 series, horizon 48) they give the published figures: Naive1 43.003 / 11.608,
seasonal naive 13.912 / 1.193, Naive2 18.383 / 2.395 (sMAPE / MASE).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "forecast_report",
    "m4_mase",
    "m4_smape",
    "mae",
    "mape",
    "mase",
    "naive2_panel",
    "naive_panel",
    "owa",
    "panel",
    "persistence_forecast",
    "rmse",
    "seasonal_naive_forecast",
    "seasonal_naive_panel",
    "seasonal_naive_quantiles",
    "seasonal_scale",
    "seasonality_test",
    "smape",
]


def _pair(actual, forecast) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=np.float64)
    f = np.asarray(forecast, dtype=np.float64)
    if y.shape != f.shape:
        raise ValueError(
            f"actual and forecast must have the same shape, got {y.shape} and {f.shape}"
        )
    if y.size == 0:
        raise ValueError("cannot compute a metric on zero values")
    return y, f


def mae(actual, forecast) -> float:
    """Mean absolute error."""
    y, f = _pair(actual, forecast)
    return float(np.mean(np.abs(y - f)))


def rmse(actual, forecast) -> float:
    """Root mean squared error."""
    y, f = _pair(actual, forecast)
    return float(math.sqrt(np.mean((y - f) ** 2)))


def mape(actual, forecast) -> float:
    """Mean absolute percentage error, in percent.

    Raises:
        ValueError: some actual value is 0 (the percentage error is undefined there; use sMAPE or
            MASE for such series).
    """
    y, f = _pair(actual, forecast)
    if np.any(y == 0):
        raise ValueError(
            f"MAPE is undefined when an actual value is 0 ({int(np.sum(y == 0))} of {y.size} are); "
            "use sMAPE or MASE"
        )
    return float(100.0 * np.mean(np.abs(y - f) / np.abs(y)))


def smape(actual, forecast) -> float:
    """Symmetric mean absolute percentage error, in percent (0 to 200)."""
    y, f = _pair(actual, forecast)
    return float(100.0 * np.mean(_smape_terms(y, f)))


def _smape_terms(y: np.ndarray, f: np.ndarray) -> np.ndarray:
    """``2 |y - f| / (|y| + |f|)`` elementwise, 0 where y = f = 0."""
    denominator = np.abs(y) + np.abs(f)
    safe = np.where(denominator == 0, 1.0, denominator)
    return np.where(denominator == 0, 0.0, 2.0 * np.abs(y - f) / safe)


def mase(actual, forecast, train, period: int = 1) -> float:
    """Mean absolute scaled error: MAE divided by the in-sample MAE of the seasonal naive forecast
    of ``period`` on the training series ``train``.

    Raises:
        ValueError: ``period < 1``, a training series not longer than ``period``, or a training
            series whose seasonal differences are all 0 (the scale would be 0).
    """
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    x = np.asarray(train, dtype=np.float64).reshape(-1)
    if x.size <= period:
        raise ValueError(
            f"MASE needs a training series longer than the period {period}, got {x.size} values"
        )
    scale = float(np.mean(np.abs(x[period:] - x[:-period])))
    if scale == 0:
        raise ValueError("MASE is undefined: the training series does not change over one period")
    return mae(actual, forecast) / scale


def _targets(series, starts, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(series, dtype=np.float64).reshape(-1)
    t = np.asarray(starts, dtype=np.int64).reshape(-1)
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1, got {horizon}")
    if t.size and (t.min() < 1 or t.max() + horizon > y.size):
        raise ValueError(
            f"forecast steps must lie in [1, {y.size - horizon}] for a series of {y.size} and "
            f"horizon {horizon}, got {t.min()}..{t.max()}"
        )
    return y, t


def persistence_forecast(series, starts, horizon: int = 1) -> np.ndarray:
    """The last known value ``y[t-1]`` for every step ``t .. t+K-1``: ``(N, K)`` for ``N`` starts."""
    y, t = _targets(series, starts, horizon)
    return np.repeat(y[t - 1][:, None], horizon, axis=1)


def seasonal_naive_forecast(series, starts, horizon: int = 1, period: int = 12) -> np.ndarray:
    """The value one season earlier, ``y[t+k-m*ceil((k+1)/m)]``, for ``k = 0..K-1``: ``(N, K)``.

    Raises:
        ValueError: ``period < 1`` or a start with less than one period of history.
    """
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    y, t = _targets(series, starts, horizon)
    if t.size and period > int(t.min()):  # also keeps a period of 10**30 out of numpy's int64
        raise ValueError(
            f"seasonal naive with period {period} needs {period} steps of history before the first "
            f"forecast step, got {int(t.min())}"
        )
    k = np.arange(horizon)
    back = period * ((k // period) + 1)  # (K,) how far back each step looks: always past step t-1
    steps = t[:, None] + k[None, :] - back[None, :]  # (N, K)
    if steps.size and steps.min() < 0:
        raise ValueError(
            f"seasonal naive with period {period} needs {period} steps of history before the first "
            f"forecast step, got {int(t.min())}"
        )
    return y[steps]


def forecast_report(actual, forecast, *, train=None, period: int = 1) -> dict[str, float]:
    """Every metric at once: ``{"mae", "rmse", "smape"}`` plus ``"mape"`` when no actual value is 0
    and ``"mase"`` when ``train`` is given and has a nonzero scale."""
    report = {"mae": mae(actual, forecast), "rmse": rmse(actual, forecast)}
    y = np.asarray(actual, dtype=np.float64)
    if not np.any(y == 0):
        report["mape"] = mape(actual, forecast)
    report["smape"] = smape(actual, forecast)
    if train is not None:
        try:
            report["mase"] = mase(actual, forecast, train, period)
        except ValueError:
            pass
    return report


# ---------------------------------------------------------------------------- many series (M4)
#
# The functions below take the histories of N series at once: a 2-D array ``(N, T)`` whose
# shorter rows end in NaN (the layout of M4's wide files), or a sequence of N 1-D arrays of
# their own lengths. Forecasts and actual values are ``(N, K)``.


def panel(history) -> tuple[np.ndarray, np.ndarray]:
    """Histories as a float64 ``(N, T)`` array right-padded with NaN and their lengths ``(N,)``.

    Raises:
        ValueError: no series, an empty series, or a NaN before a series' end.
    """
    if isinstance(history, np.ndarray) and history.ndim == 2:
        x = history.astype(np.float64)
    else:
        rows = [np.asarray(row, dtype=np.float64).reshape(-1) for row in history]
        if not rows:
            raise ValueError("expected at least one series, got none")
        x = np.full((len(rows), max(row.size for row in rows)), np.nan)
        for i, row in enumerate(rows):
            x[i, : row.size] = row
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"expected histories (N, T) with N >= 1, got shape {x.shape}")
    present = ~np.isnan(x)
    lengths = present.sum(axis=1)
    # a row's values must be its first `length` entries: NaN only as padding at the end
    inside = np.arange(x.shape[1])[None, :] < lengths[:, None]
    if np.any(present != inside):
        i = int(np.flatnonzero(np.any(present != inside, axis=1))[0])
        raise ValueError(f"series {i} has a missing value before its end (NaN only pads the end)")
    if np.any(lengths == 0):
        raise ValueError(f"series {int(np.flatnonzero(lengths == 0)[0])} is empty")
    return x, lengths


def _check_period(period: int, lengths: np.ndarray, need: str, extra: int = 1) -> None:
    """Refuse a period < 1 or a series shorter than ``period + extra`` steps."""
    if period < 1:
        raise ValueError(f"period must be >= 1, got {period}")
    if np.any(lengths < period + extra):
        i = int(np.argmin(lengths))
        raise ValueError(
            f"{need} with period {period} needs series of at least {period + extra} steps, "
            f"series {i} has {int(lengths[i])}"
        )


def _last(x: np.ndarray, lengths: np.ndarray, back: np.ndarray) -> np.ndarray:
    """``x[i, lengths[i] - back]`` for every series i and every entry of ``back``: ``(N, B)``."""
    return np.take_along_axis(x, lengths[:, None] - back[None, :], axis=1)


def naive_panel(history, horizon: int) -> np.ndarray:
    """Naive1 (persistence): each series' last value for every step, ``(N, K)``."""
    x, lengths = panel(history)
    return np.repeat(_last(x, lengths, np.array([1])), horizon, axis=1)


def seasonal_naive_panel(history, horizon: int, period: int) -> np.ndarray:
    """Seasonal naive: the last season repeated, ``f_k = x[T - m + (k mod m)]``, ``(N, K)``."""
    x, lengths = panel(history)
    _check_period(period, lengths, "seasonal naive", extra=0)
    k = np.arange(horizon)
    return _last(x, lengths, period - (k % period))


def seasonal_scale(history, period: int) -> np.ndarray:
    """MASE's scale of each series, ``(N,)``: the in-sample MAE of the seasonal naive forecast,
    ``mean_{t >= m} |x_t - x_{t-m}|`` over the series' own history (M4's ``masep``)."""
    x, lengths = panel(history)
    _check_period(period, lengths, "MASE")
    scale = np.nanmean(np.abs(x[:, period:] - x[:, :-period]), axis=1)
    if np.any(scale == 0):
        i = int(np.flatnonzero(scale == 0)[0])
        raise ValueError(f"MASE is undefined: series {i} does not change over one period")
    return scale


def _panel_pair(actual, forecast) -> tuple[np.ndarray, np.ndarray]:
    y, f = _pair(actual, forecast)
    if y.ndim != 2:
        raise ValueError(f"expected actual values and forecasts (N, K), got shape {y.shape}")
    return y, f


def m4_smape(actual, forecast) -> float:
    """M4's sMAPE in percent: per series ``mean_k 200 |y - f| / (|y| + |f|)``, then the mean over
    series (``(N, K)`` arrays; a term with y = f = 0 counts 0)."""
    y, f = _panel_pair(actual, forecast)
    return float(np.mean(100.0 * _smape_terms(y, f).mean(axis=1)))


def m4_mase(actual, forecast, history, period: int) -> float:
    """M4's MASE: per series ``mean_k |y - f| /`` :func:`seasonal_scale`, then the mean over
    series (``(N, K)`` arrays, histories as :func:`panel` takes them)."""
    y, f = _panel_pair(actual, forecast)
    scale = seasonal_scale(history, period)
    if scale.size != y.shape[0]:
        raise ValueError(f"expected {y.shape[0]} histories, got {scale.size}")
    return float(np.mean(np.abs(y - f).mean(axis=1) / scale))


def owa(smape_value: float, mase_value: float, smape_naive2: float, mase_naive2: float) -> float:
    """M4's overall weighted average: ``(sMAPE / sMAPE_Naive2 + MASE / MASE_Naive2) / 2``, each
    measure first averaged over the series (below 1 beats Naive2)."""
    return 0.5 * (smape_value / smape_naive2 + mase_value / mase_naive2)


def seasonality_test(history, period: int) -> np.ndarray:
    """M4's test for seasonality (its R code's ``SeasonalityTest``), per series ``(N,)`` bool.

    A series of length T is seasonal when ``|r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2) / T)``
    (a 90% two-sided test of the autocorrelation ``r_m`` at lag m = ``period``, with Bartlett's
    variance), where ``r_k = sum_t (x_t - mean)(x_{t+k} - mean) / sum_t (x_t - mean)^2`` as R's
    ``acf``. Never seasonal: ``period`` 1, fewer than 3 periods of data, a constant series, or
    (as in R, whose ``acf`` stops at lag ``floor(10 log10 T)``) ``m > floor(10 log10 T)``.
    """
    x, lengths = panel(history)
    seasonal = np.zeros(x.shape[0], dtype=bool)
    if period <= 1:
        return seasonal
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        if length < 3 * period or period > int(np.floor(10 * np.log10(length))):
            continue
        xc = x[rows, :length] - x[rows, :length].mean(axis=1, keepdims=True)  # (G, T)
        variance = np.sum(xc * xc, axis=1)  # (G,)
        lagged = np.stack(
            [np.sum(xc[:, k:] * xc[:, :-k], axis=1) for k in range(1, period + 1)], axis=1
        )  # (G, m)
        with np.errstate(invalid="ignore", divide="ignore"):
            r = lagged / variance[:, None]  # (G, m)
            limit = 1.645 * np.sqrt((1 + 2 * np.sum(r[:, :-1] ** 2, axis=1)) / length)
            seasonal[rows] = np.abs(r[:, -1]) > limit  # NaN (constant series) -> False
    return seasonal


def _seasonal_indices(x: np.ndarray, period: int) -> np.ndarray:
    """R's ``decompose(type="multiplicative")`` seasonal figure of equal-length series
    ``(G, T) -> (G, m)``: x over its centred moving average (weights 1/m, halved at both ends
    when m is even), averaged per position in the season (position = t mod m, t = 0 at the
    series' start), then divided by their mean."""
    g, t = x.shape
    half = period // 2
    weights = np.ones(2 * half + 1) / period
    if period % 2 == 0:
        weights[[0, -1]] = 0.5 / period
    windows = np.lib.stride_tricks.sliding_window_view(x, 2 * half + 1, axis=1)  # (G, T-2h, w)
    ratio = np.full((g, -(-t // period) * period), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio[:, half : t - half] = x[:, half : t - half] / (windows @ weights)
        figure = np.nanmean(ratio.reshape(g, -1, period), axis=1)  # (G, m)
    return figure / figure.mean(axis=1, keepdims=True)


def naive2_panel(history, horizon: int, period: int) -> np.ndarray:
    """M4's Naive2, ``(N, K)``: the naive forecast of the seasonally adjusted series, reseasonalised.

    For a series that passes :func:`seasonality_test`, classical multiplicative decomposition
    gives seasonal indices ``s_j`` (j = position in the season); the forecast is
    ``x_{T-1} / s_{(T-1) mod m} * s_{(T+k) mod m}``. Other series get the naive forecast. This is
    M4's R code (``naive(input / Dec$seasonal) * SIout``); the one simplification is that a
    trend of 0 in the moving average (a series of zeros) leaves NaN where R would divide by 0.
    """
    x, lengths = panel(history)
    forecast = naive_panel(x, horizon)
    seasonal = seasonality_test(x, period)
    k = np.arange(horizon)
    for length in np.unique(lengths[seasonal]):
        rows = np.flatnonzero(seasonal & (lengths == length))
        figure = _seasonal_indices(x[rows, :length], period)  # (G, m)
        adjusted_last = x[rows, length - 1] / figure[:, (length - 1) % period]  # (G,)
        forecast[rows] = adjusted_last[:, None] * figure[:, (length + k) % period]
    return forecast


def seasonal_naive_quantiles(history, horizon: int, period: int, levels) -> np.ndarray:
    """Quantiles of the seasonal naive forecast, ``(N, K, Q)``, with Gaussian residual intervals
    as statsforecast's ``SeasonalNaive`` computes them: ``f_k + z_q sigma sqrt(floor(k / m) + 1)``
    for step k = 0..K-1 (statsforecast's ``floor((h - 1) / m)``, h = k + 1), z_q the standard
    normal quantile and ``sigma = sqrt(sum_t (x_t - x_{t-m})^2 / (T - m))`` the root mean square
    of each series' in-sample seasonal naive residuals (not centred: a random walk's errors)."""
    from statistics import NormalDist

    from rnnkit.metrics.probabilistic import check_levels

    q = check_levels(levels)
    x, lengths = panel(history)
    _check_period(period, lengths, "seasonal naive intervals")
    point = seasonal_naive_panel(x, horizon, period)  # (N, K)
    residuals = x[:, period:] - x[:, :-period]
    sigma = np.sqrt(np.nansum(residuals**2, axis=1) / (lengths - period))  # (N,)
    growth = np.sqrt(np.arange(horizon) // period + 1.0)  # (K,)
    z = np.array([NormalDist().inv_cdf(level) for level in q])  # (Q,)
    return point[:, :, None] + sigma[:, None, None] * growth[None, :, None] * z[None, None, :]
