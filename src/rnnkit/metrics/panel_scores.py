"""The many-series report: every forecaster's scores beside the naive baselines, one row a metric.

A forecaster's forecasts of N series over K steps, in the data's own units, are a
:class:`Candidate`: the point forecast ``(N, K)`` and, when it is probabilistic, quantiles
``(N, K, Q)`` at its ``levels`` and/or sample paths ``(N, K, S)``. :func:`baseline_candidates`
gives the baselines every report carries (naive, seasonal naive, M4's Naive2), and
:func:`panel_rows` scores any set of candidates against the actual values:

==================  ==========================================================================
row                 value (sums and means over every series i and step k)
==================  ==========================================================================
``sMAPE %``         M4's sMAPE (:func:`~rnnkit.metrics.forecasting.m4_smape`)
``MASE``            M4's MASE, scaled by each series' in-sample seasonal differences of ``period``
``OWA``             ``(sMAPE / sMAPE_naive2 + MASE / MASE_naive2) / 2`` (needs a ``naive2``)
``MAE``, ``RMSE``   over all N K values
``wQL``             gluonts' ``mean_wQuantileLoss`` over the candidate's own levels
``CRPS``            mean CRPS per value, data units: from samples when given, else from quantiles
``coverage 80 %``   share of actual values inside the central 80% interval, in percent
``width 80``        mean width of that interval, data units
==================  ==========================================================================

A candidate without quantiles has no entry in the probabilistic rows (a report shows n/a), but
for CRPS when it has samples.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnkit.errors import RnnkitError
from rnnkit.metrics.forecasting import (
    m4_mase,
    m4_smape,
    mae,
    naive2_panel,
    naive_panel,
    owa,
    panel,
    rmse,
    seasonal_naive_panel,
    seasonal_naive_quantiles,
)
from rnnkit.metrics.probabilistic import (
    DEFAULT_LEVELS,
    check_levels,
    crps_quantiles,
    crps_samples,
    interval_levels,
    interval_scores,
    wql,
)

__all__ = ["Candidate", "baseline_candidates", "panel_rows", "row_names"]


@dataclass
class Candidate:
    """One forecaster's forecasts of N series over K steps, in the data's original units.

    Attributes:
        point: ``(N, K)`` the point forecast (mean or median).
        quantiles: ``(N, K, Q)`` quantile forecasts at ``levels`` (``[..., j]`` is ``levels[j]``),
            or None.
        levels: the Q quantile levels, strictly increasing in (0, 1); required with quantiles.
        samples: ``(N, K, S)`` sample paths, or None.
    """

    point: np.ndarray
    quantiles: np.ndarray | None = None
    levels: np.ndarray | None = None
    samples: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.point = np.asarray(self.point, dtype=np.float64)
        if self.point.ndim != 2:
            raise RnnkitError(f"point: expected forecasts (N, K), got shape {self.point.shape}")
        if self.quantiles is not None:
            if self.levels is None:
                raise RnnkitError("levels: expected the quantile levels with quantiles, got None")
            self.levels = check_levels(self.levels, "levels")
            self.quantiles = np.asarray(self.quantiles, dtype=np.float64)
            want = self.point.shape + (self.levels.size,)
            if self.quantiles.shape != want:
                raise RnnkitError(
                    f"quantiles: expected shape {want} (point's shape plus {self.levels.size} "
                    f"levels), got {self.quantiles.shape}"
                )
        if self.samples is not None:
            self.samples = np.asarray(self.samples, dtype=np.float64)
            if self.samples.ndim != 3 or self.samples.shape[:2] != self.point.shape:
                raise RnnkitError(
                    f"samples: expected shape {self.point.shape + ('S',)} (point's shape plus a "
                    f"sample axis), got {self.samples.shape}"
                )


def baseline_candidates(
    history, horizon: int, period: int, levels=DEFAULT_LEVELS
) -> dict[str, Candidate]:
    """The naive baselines of N series (histories as :func:`~rnnkit.metrics.forecasting.panel`
    takes them: a list of 1-D arrays of their own lengths, or NaN-right-padded ``(N, T)``).

    - ``"naive"``: each series' last value, with statsforecast ``Naive``'s Gaussian quantiles
      ``f + z_q sigma sqrt(h)`` (h = 1..K, ``sigma`` the root mean square of the one-step
      differences: seasonal naive's intervals with period 1); without quantiles when a series
      has a single value.
    - ``"seasonal naive"``: the last season repeated, with
      :func:`~rnnkit.metrics.forecasting.seasonal_naive_quantiles`; left out (never an error)
      when ``period <= 1`` (it would be the naive forecast) or a series is shorter than
      ``period + 1`` steps.
    - ``"naive2"``: M4's Naive2 (point only): naive on the seasonally adjusted series.
    """
    x, lengths = panel(history)
    q = check_levels(levels)
    naive = Candidate(naive_panel(x, horizon))
    if np.all(lengths >= 2):
        naive = Candidate(naive.point, seasonal_naive_quantiles(x, horizon, 1, q), q)
    candidates = {"naive": naive}
    if period > 1 and np.all(lengths >= period + 1):
        candidates["seasonal naive"] = Candidate(
            seasonal_naive_panel(x, horizon, period),
            seasonal_naive_quantiles(x, horizon, period, q),
            q,
        )
    candidates["naive2"] = Candidate(naive2_panel(x, horizon, max(int(period), 1)))
    return candidates


def row_names(intervals=(0.8,)) -> list[str]:
    """The rows of :func:`panel_rows`, in order: point measures, then probabilistic ones."""
    rows = ["sMAPE %", "MASE", "OWA", "MAE", "RMSE", "wQL", "CRPS"]
    for coverage in intervals:
        interval_levels(coverage)  # one line for a coverage outside (0, 1)
        rows += [f"coverage {100 * coverage:g} %", f"width {100 * coverage:g}"]
    return rows


def panel_rows(
    actual, candidates: dict[str, Candidate], history, period: int, *, intervals=(0.8,)
) -> dict[str, dict[str, float]]:
    """Score every candidate: ``{row: {candidate: value}}``, rows as :func:`row_names`.

    Args:
        actual: ``(N, K)`` the actual values, complete (no NaN).
        candidates: name -> :class:`Candidate`, each of N series and K steps.
        history: the N series' histories (a list: they differ in length), for MASE's scale.
        period: MASE's seasonal period (M4: 24 hourly, 12 monthly, 4 quarterly, 1 yearly).
        intervals: the central intervals whose coverage and width are reported.

    A row holds only the candidates it is defined for: OWA needs a candidate named ``"naive2"``;
    wQL, CRPS and the intervals need quantiles (an interval: both of its bounding levels);
    MASE is empty when some series is not longer than ``period`` or does not change over one
    period (its scale is 0). CRPS is :func:`~rnnkit.metrics.probabilistic.crps_samples` (the
    empirical distribution's CRPS) for a candidate with samples, else
    :func:`~rnnkit.metrics.probabilistic.crps_quantiles` over its levels (which leaves out the
    tails beyond the outer levels): compare the two kinds with care.

    Raises:
        RnnkitError: actual values that are not a complete ``(N, K)``, or a candidate or the
            histories of another shape.
    """
    y = _checked_actual(actual)
    x, _ = panel(history)
    if x.shape[0] != y.shape[0]:
        raise RnnkitError(f"history: expected {y.shape[0]} series, got {x.shape[0]}")
    rows: dict[str, dict[str, float]] = {name: {} for name in row_names(intervals)}
    for name, candidate in candidates.items():
        if candidate.point.shape != y.shape:
            raise RnnkitError(
                f"candidate {name!r}: expected forecasts of shape {y.shape}, "
                f"got {candidate.point.shape}"
            )
        _point_rows(rows, name, y, candidate.point, x, period)
        if candidate.quantiles is not None:
            _quantile_rows(rows, name, y, candidate, intervals)
        elif candidate.samples is not None:
            rows["CRPS"][name] = crps_samples(y, candidate.samples)
    if "naive2" in candidates:
        base_smape, base_mase = rows["sMAPE %"]["naive2"], rows["MASE"].get("naive2")
        for name in candidates:  # a Naive2 of 0 error leaves OWA undefined
            if base_mase and base_smape and name in rows["MASE"]:
                rows["OWA"][name] = owa(
                    rows["sMAPE %"][name], rows["MASE"][name], base_smape, base_mase
                )
    return rows


def _checked_actual(actual) -> np.ndarray:
    y = np.asarray(actual, dtype=np.float64)
    if y.ndim != 2 or y.size == 0:
        raise RnnkitError(f"actual: expected values (N, K) with N, K >= 1, got shape {y.shape}")
    if not np.all(np.isfinite(y)):
        count = int(np.sum(~np.isfinite(y)))
        raise RnnkitError(f"actual: expected complete values, got {count} NaN or infinite")
    return y


def _point_rows(rows, name: str, y: np.ndarray, f: np.ndarray, x: np.ndarray, period: int):
    rows["sMAPE %"][name] = m4_smape(y, f)
    try:
        rows["MASE"][name] = m4_mase(y, f, x, max(int(period), 1))
    except ValueError:  # a series too short for the period, or with a scale of 0: no MASE
        pass
    rows["MAE"][name] = mae(y, f)
    rows["RMSE"][name] = rmse(y, f)


def _quantile_rows(rows, name: str, y: np.ndarray, candidate: Candidate, intervals) -> None:
    quantiles, levels = candidate.quantiles, candidate.levels
    rows["wQL"][name] = wql(y, quantiles, levels)
    if candidate.samples is not None:
        rows["CRPS"][name] = crps_samples(y, candidate.samples)
    else:
        rows["CRPS"][name] = crps_quantiles(y, quantiles, levels)
    for coverage in intervals:
        key = f"{100 * coverage:g}"
        try:
            scores = interval_scores(y, quantiles, levels, (coverage,))
        except RnnkitError:  # the candidate lacks a bounding level: n/a, not an error
            continue
        rows[f"coverage {key} %"][name] = 100.0 * scores[f"coverage_{key}"]
        rows[f"width {key}"][name] = scores[f"width_{key}"]
