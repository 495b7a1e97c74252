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
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "forecast_report",
    "mae",
    "mape",
    "mase",
    "persistence_forecast",
    "rmse",
    "seasonal_naive_forecast",
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
    denominator = np.abs(y) + np.abs(f)
    safe = np.where(denominator == 0, 1.0, denominator)
    terms = np.where(denominator == 0, 0.0, 2.0 * np.abs(y - f) / safe)
    return float(100.0 * np.mean(terms))


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
