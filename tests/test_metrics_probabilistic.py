"""Probabilistic scores: exact values on hand-computed examples, and their known identities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit.errors import RnnkitError
from rnnkit.metrics.probabilistic import (
    DEFAULT_LEVELS,
    check_levels,
    crps_quantiles,
    crps_samples,
    interval_levels,
    interval_scores,
    pinball_loss,
    wql,
)

LEVELS = (0.1, 0.5, 0.9)
ACTUAL = np.array([[1.0, 3.0]])  # one series, two steps
QUANTILES = np.array([[[0.0, 1.0, 2.0], [2.0, 4.0, 5.0]]])  # (1, 2, 3)
# pinball terms, by hand: step 1 (y = 1): 0.1 * 1, 0, (0.9 - 1) * (1 - 2) = 0.1
#                         step 2 (y = 3): 0.1 * 1, (0.5 - 1) * (3 - 4) = 0.5, (0.9 - 1) * (3 - 5) = 0.2


def test_pinball_loss_hand_computed():
    assert np.allclose(pinball_loss(ACTUAL, QUANTILES, LEVELS), [0.1, 0.25, 0.15], atol=1e-15)


def test_wql_hand_computed():
    # wQL_q = 2 * sum rho_q / sum |y| = 2 * (0.2, 0.5, 0.3) / 4
    assert np.allclose(wql(ACTUAL, QUANTILES, LEVELS, per_level=True), [0.1, 0.25, 0.15])
    assert wql(ACTUAL, QUANTILES, LEVELS) == pytest.approx(0.5 / 3, abs=1e-15)
    # a point forecast repeated at every level: wQL = sum |y - f| / sum |y| (each level adds
    # q |e| or (1 - q) |e|, and levels symmetric about 0.5 average to 1/2)
    y = np.array([[2.0, -4.0], [1.0, 1.0]])
    f = np.array([[1.0, -1.0], [1.0, 3.0]])
    point = np.repeat(f[..., None], len(DEFAULT_LEVELS), axis=2)
    assert wql(y, point) == pytest.approx(np.abs(y - f).sum() / np.abs(y).sum(), abs=1e-12)


def test_crps_from_quantiles_hand_computed_and_equal_to_wql_when_weighted():
    # per value 2 * mean_q rho_q: step 1 2 * 0.2 / 3, step 2 2 * 0.8 / 3; mean 1/3
    assert crps_quantiles(ACTUAL, QUANTILES, LEVELS) == pytest.approx(1 / 3, abs=1e-15)
    rng = np.random.default_rng(0)
    y = rng.gamma(2.0, size=(5, 7))
    q = np.sort(rng.gamma(2.0, size=(5, 7, 9)), axis=-1)
    assert crps_quantiles(y, q, weighted=True) == pytest.approx(wql(y, q), rel=1e-12)


def test_crps_from_samples_hand_computed():
    # y = 0, samples -1 and 1: E|X - y| = 1; sum_{j,k} |x_j - x_k| = 4
    assert crps_samples([0.0], [[-1.0, 1.0]]) == pytest.approx(1 - 0.5 * 4 / 4)  # 0.5
    assert crps_samples([0.0], [[-1.0, 1.0]], fair=True) == pytest.approx(1 - 0.5 * 4 / 2)  # 0
    assert crps_samples([2.0, -1.0], [[5.0], [-1.0]]) == pytest.approx(1.5)  # one sample: |x - y|
    assert crps_samples([2.0, 2.0], [[5.0], [1.0]], weighted=True) == pytest.approx(4 / 4)


def test_crps_from_samples_equals_the_double_sum():
    rng = np.random.default_rng(1)
    y = rng.normal(size=(3, 4))
    x = rng.normal(size=(3, 4, 11))
    to_y = np.abs(x - y[..., None]).mean(-1)
    pairs = np.abs(x[..., :, None] - x[..., None, :]).sum((-1, -2))
    assert crps_samples(y, x) == pytest.approx(np.mean(to_y - 0.5 * pairs / 121), rel=1e-12)
    assert crps_samples(y, x, fair=True) == pytest.approx(
        np.mean(to_y - 0.5 * pairs / 110), rel=1e-12
    )


def test_crps_of_a_gaussian_from_samples_and_quantiles():
    # closed form for y ~ N(0, 1) observed at 0: 2 phi(0) - 1 / sqrt(pi) = 0.233695
    exact = 2 / math.sqrt(2 * math.pi) - 1 / math.sqrt(math.pi)
    samples = np.random.default_rng(2).normal(size=(1, 20_000))
    assert crps_samples([0.0], samples, fair=True) == pytest.approx(exact, abs=0.005)
    from statistics import NormalDist

    levels = np.arange(1, 100) / 100
    quantiles = np.array([[NormalDist().inv_cdf(q) for q in levels]])
    assert crps_quantiles([0.0], quantiles, levels) == pytest.approx(exact, abs=0.005)


def test_interval_scores_hand_computed():
    y = np.array([1.0, 2.0, 9.0, 5.0])
    # 80% bounds (0.1, 0.9) per value: inside, on the upper bound (counts), above, below
    q = np.array([[0.0, 1.0, 2.0], [1.0, 1.5, 2.0], [0.0, 4.0, 8.0], [6.0, 7.0, 9.0]])
    scores = interval_scores(y, q, LEVELS)
    assert scores == {"coverage_80": 0.5, "width_80": pytest.approx((2 + 1 + 8 + 3) / 4)}
    assert interval_levels(0.8) == (0.1, 0.9)
    assert interval_levels(0.95) == (0.025, 0.975)
    with pytest.raises(
        RnnkitError, match=r"^interval 0.5 needs the quantile level 0.25, got levels 0.1, 0.5, 0.9$"
    ):
        interval_scores(y, q, LEVELS, intervals=(0.5,))


def test_bad_input():
    with pytest.raises(RnnkitError, match=r"^quantiles: expected strictly increasing levels"):
        check_levels([0.5, 0.1])
    with pytest.raises(RnnkitError, match=r"^quantiles: expected levels strictly between 0 and 1"):
        wql(ACTUAL, QUANTILES, (0.1, 0.5, 1.5))
    with pytest.raises(ValueError, match=r"expected quantile forecasts of shape \(1, 2, 9\)"):
        wql(ACTUAL, QUANTILES)
    with pytest.raises(ValueError, match="every actual value is 0"):
        wql(np.zeros((1, 2)), QUANTILES, LEVELS)
    with pytest.raises(ValueError, match=r"expected samples of shape \(2, 'S'\)"):
        crps_samples([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="the fair CRPS needs at least 2 samples, got 1"):
        crps_samples([1.0], [[1.0]], fair=True)
