"""Classical baselines of many-series forecasts: seasonal ETS and Theta, fitted by statsmodels.

Needs the ``forecast`` extra (``pip install "rnnkit[forecast]"``: statsmodels); importing this
module does not import statsmodels, :func:`classical_candidates` does. Each series gets its own
model, fitted on its own history:

- **ETS** (``statsmodels.tsa.exponential_smoothing.ets.ETSModel``), one fixed spec: additive
  error, additive damped trend, additive season of ``period`` (ETS(A,Ad,A)), initial states by
  the heuristic of Hyndman & Athanasopoulos (FPP3, 2.6), so only the four smoothing parameters
  are estimated by maximum likelihood (about 10 ms a series of M4 Hourly; estimating the 24
  initial seasonal states as well takes 40 times longer for no better forecast). A series with
  fewer than ``max(2 period, 10 + 2 floor(period / 2))`` steps, or ``period <= 1``, gets no
  season, and one of fewer than 10 steps estimates its initial states. Quantiles come from the
  exact Gaussian prediction intervals (``get_prediction(...).pred_int(alpha)``).
- **Theta** (``statsmodels.tsa.forecasting.theta.ThetaModel(period=...)``, Assimakopoulos &
  Nikolopoulos 2000 as Hyndman & Billah 2003): deseasonalised by classical decomposition when
  its seasonality test passes, SES plus half the linear trend, theta = 2; quantiles from
  ``prediction_intervals(steps, alpha=...)``.

The quantile at level q is a bound of the symmetric interval of ``alpha = 2 min(q, 1 - q)``:
the lower bound for q < 0.5, the upper for q > 0.5; level 0.5 is the point forecast. A fit
that raises or returns a non-finite forecast falls back to that series' seasonal naive
forecast and its quantiles (naive when ``period <= 1`` or the series is shorter than a period
plus one); a constant series is not fitted (statsmodels' fits are degenerate there: Theta
forecast 10.5 for a series of 5s) but forecast as its value. statsmodels' warnings are silenced
and counted. All of these are reported in the notes.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.extras import require
from rnnkit.metrics.forecasting import panel, seasonal_naive_quantiles
from rnnkit.metrics.panel_scores import Candidate
from rnnkit.metrics.probabilistic import DEFAULT_LEVELS, check_levels

__all__ = ["MODELS", "classical_candidates"]

# model key -> the name of its candidate
MODELS = {"ets": "ETS", "theta": "Theta"}

# (point (K,), interval(alpha) -> (lower (K,), upper (K,))) of one fitted series
Fitted = tuple[np.ndarray, Callable[[float], tuple[np.ndarray, np.ndarray]]]


def classical_candidates(
    history,
    horizon: int,
    period: int,
    levels=DEFAULT_LEVELS,
    *,
    models: Sequence[str] = ("ets", "theta"),
    time_limit: float | None = None,
) -> tuple[dict[str, Candidate], list[str]]:
    """Fit ETS and/or Theta to every series and forecast ``horizon`` steps with quantiles.

    Args:
        history: N histories (a list of 1-D arrays of their own lengths, or NaN-right-padded
            ``(N, T)``), in the data's units.
        horizon: K, the steps to forecast.
        period: the seasonal period (24 hourly, 4 quarterly; 1: no season).
        levels: the Q quantile levels of the candidates' quantiles.
        models: which to fit, in this order: ``"ets"``, ``"theta"``.
        time_limit: seconds for all the fits; when it is exceeded the model being fitted is
            left out (a partial model would score other series than the rest) and so are the
            ones after it, with a note.

    Returns:
        ``({"ETS": Candidate, "Theta": Candidate}, notes)``: each candidate's point ``(N, K)``
        and quantiles ``(N, K, Q)``; notes say what fell back, warned or was left out.

    Raises:
        RnnkitError: statsmodels is not installed (one line naming the extra), an unknown
            model, a horizon below 1.
    """
    require("forecast", "ETS and Theta baselines")
    for key in models:
        if key not in MODELS:
            raise RnnkitError(f"models: expected names among {', '.join(MODELS)}, got {key!r}")
    if horizon < 1:
        raise RnnkitError(f"horizon: expected at least 1 step, got {horizon}")
    q = check_levels(levels)
    x, lengths = panel(history)
    series = [x[i, : lengths[i]] for i in range(x.shape[0])]
    deadline = None if time_limit is None else time.perf_counter() + time_limit
    fitters = {"ets": _fit_ets, "theta": _fit_theta}
    candidates: dict[str, Candidate] = {}
    notes: list[str] = []
    for key in models:
        name = MODELS[key]
        if deadline is not None and time.perf_counter() >= deadline:
            notes.append(f"{name}: left out, the time limit of {time_limit:g} s was reached")
            continue
        start = time.perf_counter()
        result = _fit_all(name, fitters[key], series, horizon, period, q, deadline, notes)
        if result is not None:
            candidates[name] = Candidate(result[0], result[1], q)
            notes.append(
                f"{name}: {len(series)} series fitted in {time.perf_counter() - start:.1f} s"
            )
    return candidates, notes


def _fit_all(name, fit, series, horizon, period, q, deadline, notes):
    """Every series' ``(point (N, K), quantiles (N, K, Q))``, or None past the deadline."""
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    point = np.empty((len(series), horizon))
    quantiles = np.empty((len(series), horizon, q.size))
    failed: list[str] = []
    converge = constant = 0
    other: list[str] = []
    for i, y in enumerate(series):
        if deadline is not None and time.perf_counter() >= deadline:
            notes.append(
                f"{name}: left out, the time limit was reached after {i} of {len(series)} series"
            )
            return None
        if np.ptp(y) == 0:  # a constant (or one-value) series: fits are degenerate, keep it
            constant += 1
            point[i], quantiles[i] = _fallback(y, horizon, period, q)
            continue
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                point[i], quantiles[i] = _quantiles(*fit(y, horizon, period), q)
                if not (np.all(np.isfinite(quantiles[i])) and np.all(np.isfinite(point[i]))):
                    raise ValueError("non-finite forecast")
            except Exception as error:  # noqa: BLE001 - any failed fit falls back, never crashes
                failed.append(f"{i} ({type(error).__name__}: {error})".splitlines()[0])
                point[i], quantiles[i] = _fallback(y, horizon, period, q)
        converge += sum(issubclass(w.category, ConvergenceWarning) for w in caught)
        other += [
            f"{w.category.__name__}: {w.message}".splitlines()[0]
            for w in caught
            if not issubclass(w.category, ConvergenceWarning)
        ]
    if failed:
        notes.append(
            f"{name}: {len(failed)} of {len(series)} series fell back to seasonal naive (the "
            f"fit failed), e.g. series {failed[0]}"
        )
    if constant:
        notes.append(f"{name}: {constant} constant series forecast as their value, not fitted")
    if converge:
        notes.append(f"{name}: {converge} fits warned that they did not converge (kept)")
    if other:
        common = max(set(other), key=other.count)
        notes.append(f"{name}: {len(other)} other warnings silenced, mostly {common!r}")
    return point, quantiles


def _quantiles(point: np.ndarray, interval, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(point (K,), quantiles (K, Q))`` from symmetric intervals: level q is the lower bound of
    the interval of alpha = 2q (q < 0.5), the upper of alpha = 2 (1 - q) (q > 0.5)."""
    out = np.empty((point.size, q.size))
    bounds: dict[float, tuple[np.ndarray, np.ndarray]] = {}
    for j, level in enumerate(q):
        alpha = round(2 * min(level, 1 - level), 12)
        if abs(level - 0.5) < 1e-12:
            out[:, j] = point
            continue
        if alpha not in bounds:
            bounds[alpha] = interval(alpha)
        out[:, j] = bounds[alpha][0] if level < 0.5 else bounds[alpha][1]
    return point, out


def _fallback(y: np.ndarray, horizon: int, period: int, q: np.ndarray):
    """Seasonal naive of one series (naive when it has no full period plus one; the constant
    last value when it has a single value)."""
    if y.size < 2:
        return np.full(horizon, y[-1]), np.full((horizon, q.size), y[-1])
    m = period if period > 1 and y.size >= period + 1 else 1
    quantiles = seasonal_naive_quantiles([y], horizon, m, q)[0]  # (K, Q)
    point = y[y.size - m + np.arange(horizon) % m]
    return point, quantiles


def _ets_spec(n: int, period: int) -> dict:
    """ETS(A,Ad,A) where the heuristic initialisation can place a season, else ETS(A,Ad,N)."""
    seasonal = period > 1 and n >= max(2 * period, 10 + 2 * (period // 2))
    spec = {"error": "add", "trend": "add", "damped_trend": True}
    if seasonal:
        spec.update(seasonal="add", seasonal_periods=period)
    spec["initialization_method"] = "heuristic" if n >= 10 else "estimated"
    return spec


def _fit_ets(y: np.ndarray, horizon: int, period: int) -> Fitted:
    # statsmodels (which depends on pandas) needs a pandas Series here: with a bare array its
    # get_prediction fails (statsmodels 0.15: 'numpy.ndarray' object has no attribute 'index')
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    fit = ETSModel(pd.Series(y), **_ets_spec(y.size, period)).fit(disp=False)
    prediction = fit.get_prediction(start=y.size, end=y.size + horizon - 1)
    point = np.asarray(prediction.predicted_mean, dtype=np.float64)

    def interval(alpha: float) -> tuple[np.ndarray, np.ndarray]:
        bounds = np.asarray(prediction.pred_int(alpha), dtype=np.float64)  # (K, 2)
        return bounds[:, 0], bounds[:, 1]

    return point, interval


def _fit_theta(y: np.ndarray, horizon: int, period: int) -> Fitted:
    from statsmodels.tsa.forecasting.theta import ThetaModel

    seasonal = period > 1
    fit = ThetaModel(y, period=period if seasonal else None, deseasonalize=seasonal).fit()
    point = np.asarray(fit.forecast(horizon), dtype=np.float64)

    def interval(alpha: float) -> tuple[np.ndarray, np.ndarray]:
        bounds = fit.prediction_intervals(horizon, alpha=alpha)
        return np.asarray(bounds["lower"], np.float64), np.asarray(bounds["upper"], np.float64)

    return point, interval
