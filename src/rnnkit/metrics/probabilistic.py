"""Scores of probabilistic forecasts: pinball loss, weighted quantile loss, CRPS, interval coverage.

A probabilistic forecast comes as quantiles or as sample paths. Shapes: the actual values ``y``
have any shape ``(...)`` (``(N, K)``: N series, K steps); quantile forecasts are ``(..., Q)``
with the ``Q`` quantile levels ``levels`` on the last axis; sample forecasts are ``(..., S)``
with the ``S`` samples on the last axis. Everything is computed in float64 with numpy, vectorised
over series, steps and quantiles. Formulas (sums over every series i and step t):

- pinball (quantile) loss of level q:  rho_q(y, f) = max(q (y - f), (q - 1) (y - f))
  = (y - f) (q - 1[y < f]); :func:`pinball_loss` returns its mean over all values, per level.
- weighted quantile loss, gluonts' ``wQuantileLoss[q]``:
  wQL_q = 2 * sum_{i,t} rho_q(y_it, f_it^q) / sum_{i,t} |y_it|, and ``mean_wQuantileLoss``
  (:func:`wql`) is its mean over the levels (gluonts' default: 0.1, 0.2, ..., 0.9).
- CRPS from samples (:func:`crps_samples`), the energy form per value:
  CRPS(F, y) = E|X - y| - 0.5 E|X - X'|, with X, X' independent draws of F. With S samples
  ``fair=False`` (default) gives the CRPS of the samples' empirical distribution
  (E|X - X'| = sum_{j,k} |x_j - x_k| / S^2, as ``properscoring.crps_ensemble``); ``fair=True``
  divides by S (S - 1) instead, an unbiased estimate of the CRPS of the distribution the samples
  were drawn from (Ferro 2014's "fair" CRPS).
- CRPS from quantiles (:func:`crps_quantiles`): CRPS(F, y) = 2 * integral_0^1 rho_q(y, F^-1(q)) dq
  is approximated by 2 * mean_q rho_q over the levels given (the rectangle rule on that grid),
  so over 0.1..0.9 it ignores the tails beyond 10% and 90%. ``weighted=True`` (on both CRPS
  functions) returns sum_{i,t} CRPS_it / sum_{i,t} |y_it| instead of the mean: the scaled CRPS
  that wQL approximates (``crps_quantiles(..., weighted=True) == wql(...)`` exactly).
- interval coverage and width (:func:`interval_scores`): the central ``c`` interval is
  [F^-1((1 - c) / 2), F^-1((1 + c) / 2)] (80%: quantiles 0.1 and 0.9); coverage is the share of
  values inside it, bounds included, and width the mean of upper - lower, in the data's units.
"""

from __future__ import annotations

import numpy as np

from rnnkit.errors import RnnkitError

__all__ = [
    "DEFAULT_LEVELS",
    "check_levels",
    "crps_quantiles",
    "crps_samples",
    "interval_levels",
    "interval_scores",
    "pinball_loss",
    "wql",
]

# gluonts' Evaluator default: mean_wQuantileLoss over these nine levels.
DEFAULT_LEVELS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def check_levels(levels, name: str = "quantiles") -> np.ndarray:
    """Quantile levels as a float64 array ``(Q,)``: each strictly inside (0, 1), strictly increasing.

    Raises:
        RnnkitError: empty, a level outside (0, 1), or levels not strictly increasing; one line
            naming ``name`` and the levels given.
    """
    q = np.asarray(levels, dtype=np.float64).reshape(-1)
    shown = ", ".join(f"{v:g}" for v in q)
    if q.size == 0:
        raise RnnkitError(f"{name}: expected at least one level in (0, 1), got none")
    if not np.all((q > 0) & (q < 1)):
        raise RnnkitError(f"{name}: expected levels strictly between 0 and 1, got {shown}")
    if np.any(np.diff(q) <= 0):
        raise RnnkitError(f"{name}: expected strictly increasing levels, got {shown}")
    return q


def _quantile_pair(actual, quantiles, levels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(actual, dtype=np.float64)
    f = np.asarray(quantiles, dtype=np.float64)
    q = check_levels(levels)
    if f.shape != y.shape + (q.size,):
        raise ValueError(
            f"expected quantile forecasts of shape {y.shape + (q.size,)} (actual values' shape "
            f"plus {q.size} levels), got {f.shape}"
        )
    if y.size == 0:
        raise ValueError("cannot compute a metric on zero values")
    return y, f, q


def _pinball(y: np.ndarray, f: np.ndarray, q: np.ndarray) -> np.ndarray:
    """rho_q(y, f) elementwise, ``(..., Q)``."""
    error = y[..., None] - f  # (..., Q)
    return np.maximum(q * error, (q - 1.0) * error)


def pinball_loss(actual, quantiles, levels) -> np.ndarray:
    """Mean pinball loss of each level, ``(Q,)`` float64: mean over every value of
    ``max(q (y - f_q), (q - 1) (y - f_q))``.

    Args:
        actual: ``(...)`` actual values.
        quantiles: ``(..., Q)`` the forecast quantiles, level ``levels[j]`` in ``[..., j]``.
        levels: the ``Q`` levels, strictly increasing in (0, 1).
    """
    y, f, q = _quantile_pair(actual, quantiles, levels)
    return _pinball(y, f, q).reshape(-1, q.size).mean(axis=0)


def _abs_sum(y: np.ndarray) -> float:
    total = float(np.sum(np.abs(y)))
    if total == 0:
        raise ValueError("weighted scores are undefined when every actual value is 0")
    return total


def wql(actual, quantiles, levels=DEFAULT_LEVELS, *, per_level: bool = False):
    """Weighted quantile loss, gluonts' ``mean_wQuantileLoss``:
    ``mean_q [2 * sum_{i,t} rho_q(y_it, f_it^q) / sum_{i,t} |y_it|]``, sums over all series and
    steps. Returns a float, or with ``per_level=True`` the ``(Q,)`` array of ``wQuantileLoss[q]``.

    Raises:
        ValueError: shapes that do not match, or every actual value 0.
    """
    y, f, q = _quantile_pair(actual, quantiles, levels)
    per_q = 2.0 * _pinball(y, f, q).reshape(-1, q.size).sum(axis=0) / _abs_sum(y)
    return per_q if per_level else float(per_q.mean())


def crps_quantiles(actual, quantiles, levels=DEFAULT_LEVELS, *, weighted: bool = False) -> float:
    """CRPS approximated from quantiles: ``2 * mean_q rho_q`` per value (the rectangle rule for
    ``2 * integral_0^1 rho_q dq`` on the grid ``levels``), averaged over all values, or with
    ``weighted=True`` summed and divided by ``sum |y|`` (then equal to :func:`wql`)."""
    y, f, q = _quantile_pair(actual, quantiles, levels)
    per_value = 2.0 * _pinball(y, f, q).mean(axis=-1)  # (...)
    return float(per_value.sum() / _abs_sum(y)) if weighted else float(per_value.mean())


def crps_samples(actual, samples, *, fair: bool = False, weighted: bool = False) -> float:
    """CRPS from samples in the energy form ``E|X - y| - 0.5 E|X - X'|`` per value, averaged over
    all values (or with ``weighted=True`` summed and divided by ``sum |y|``).

    ``E|X - X'|`` is computed in O(S log S) from the sorted samples x_(1) <= ... <= x_(S):
    ``sum_{j,k} |x_j - x_k| = 2 sum_j (2j - S - 1) x_(j)``, divided by S^2 (``fair=False``: the
    CRPS of the empirical distribution) or by S (S - 1) (``fair=True``: unbiased).

    Args:
        actual: ``(...)`` actual values.
        samples: ``(..., S)`` samples (``S >= 2`` when ``fair``).
    """
    y = np.asarray(actual, dtype=np.float64)
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != y.ndim + 1 or x.shape[:-1] != y.shape or x.shape[-1] < 1:
        raise ValueError(
            f"expected samples of shape {y.shape + ('S',)} (actual values' shape plus a sample "
            f"axis), got {x.shape}"
        )
    if y.size == 0:
        raise ValueError("cannot compute a metric on zero values")
    s = x.shape[-1]
    if fair and s < 2:
        raise ValueError(f"the fair CRPS needs at least 2 samples, got {s}")
    spread_to_y = np.abs(x - y[..., None]).mean(axis=-1)  # (...) E|X - y|
    ranks = 2.0 * np.arange(1, s + 1) - s - 1.0  # (S,) 2j - S - 1
    pair_sum = 2.0 * (np.sort(x, axis=-1) * ranks).sum(axis=-1)  # (...) sum_{j,k} |x_j - x_k|
    spread = pair_sum / (s * (s - 1) if fair else s * s)  # (...) E|X - X'|
    per_value = spread_to_y - 0.5 * spread
    return float(per_value.sum() / _abs_sum(y)) if weighted else float(per_value.mean())


def interval_levels(coverage: float) -> tuple[float, float]:
    """The quantile levels bounding the central interval of ``coverage`` (0.8 -> (0.1, 0.9))."""
    if not 0 < coverage < 1:
        raise RnnkitError(f"interval: expected a coverage strictly between 0 and 1, got {coverage}")
    return round((1 - coverage) / 2, 12), round((1 + coverage) / 2, 12)


def interval_scores(actual, quantiles, levels, intervals=(0.8,)) -> dict[str, float]:
    """Coverage and mean width of each central interval, from quantile forecasts.

    Returns ``{"coverage_80": share in [0, 1], "width_80": mean(upper - lower), ...}`` (the key
    is the interval in percent, ``g`` format: 0.8 -> ``80``, 0.95 -> ``95``).

    Raises:
        RnnkitError: an interval whose bounding levels (``(1 -+ c) / 2``) are not in ``levels``.
    """
    y, f, q = _quantile_pair(actual, quantiles, levels)
    scores: dict[str, float] = {}
    for coverage in intervals:
        bounds = interval_levels(coverage)
        index = []
        for level in bounds:
            hit = np.flatnonzero(np.isclose(q, level, rtol=0, atol=1e-9))
            if hit.size == 0:
                raise RnnkitError(
                    f"interval {coverage:g} needs the quantile level {level:g}, got levels "
                    + ", ".join(f"{v:g}" for v in q)
                )
            index.append(int(hit[0]))
        lower, upper = f[..., index[0]], f[..., index[1]]
        key = f"{100 * coverage:g}"
        scores[f"coverage_{key}"] = float(np.mean((y >= lower) & (y <= upper)))
        scores[f"width_{key}"] = float(np.mean(upper - lower))
    return scores
