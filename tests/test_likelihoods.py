"""Likelihood heads: parity with torch.distributions, scaling, sampling, quantiles, bad input."""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions

from rnnkit.errors import RnnkitError
from rnnkit.models.likelihoods import (
    LIKELIHOODS,
    Gaussian,
    NegativeBinomial,
    QuantileHead,
    StudentT,
    build_likelihood,
    empirical_quantile,
    pinball_loss,
)

H = 5


def _hidden(seed: int = 0, shape=(3, 4)) -> torch.Tensor:
    return torch.randn(
        *shape, H, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )


def _head(cls, seed: int = 0):
    torch.manual_seed(seed)
    return cls(H).double()


def test_registry_and_parameter_shapes():
    assert list(LIKELIHOODS) == ["gaussian", "studentt", "negbin"]
    for name, cls in LIKELIHOODS.items():
        head = build_likelihood(name, H).double()
        assert isinstance(head, cls)
        params = head(_hidden())
        assert set(params) == set(cls.parameter_names)
        assert all(p.shape == (3, 4) for p in params.values())
    with pytest.raises(
        RnnkitError,
        match=r"^likelihood: expected one of gaussian, studentt, negbin, got 'poisson'$",
    ):
        build_likelihood("poisson", H)


def test_gaussian_nll_equals_torch_with_scale_and_loc():
    head = _head(Gaussian)
    hidden = _hidden()
    scale = torch.tensor([[2.0], [0.5], [10.0]], dtype=torch.float64)  # (N, 1) per series
    loc = torch.tensor([[1.0], [-3.0], [0.0]], dtype=torch.float64)
    y = torch.randn(3, 4, dtype=torch.float64) * 3
    params = head(hidden, scale, loc)
    raw = head.proj(hidden)
    mu = loc + scale * raw[..., 0]
    sigma = scale * (torch.nn.functional.softplus(raw[..., 1]) + 1e-6)
    expected = -distributions.Normal(mu, sigma).log_prob(y)
    assert torch.allclose(head.nll(params, y), expected, rtol=0, atol=1e-6)
    assert torch.allclose(head.mean(params), mu, rtol=0, atol=1e-12)


def test_studentt_nll_equals_torch_with_scale():
    head = _head(StudentT)
    hidden = _hidden(1)
    scale = torch.tensor([[2.0], [0.5], [10.0]], dtype=torch.float64)
    y = torch.randn(3, 4, dtype=torch.float64) * 5
    params = head(hidden, scale)
    raw = head.proj(hidden)
    softplus = torch.nn.functional.softplus
    nu = 2 + softplus(raw[..., 0]) + 1e-6
    expected = -distributions.StudentT(
        nu, scale * raw[..., 1], scale * (softplus(raw[..., 2]) + 1e-6)
    ).log_prob(y)
    assert torch.all(params["nu"] > 2)
    assert torch.allclose(head.nll(params, y), expected, rtol=0, atol=1e-6)


def test_negbin_nll_equals_torch_with_deepar_scaling():
    head = _head(NegativeBinomial)
    hidden = _hidden(2)
    scale = torch.tensor([[4.0], [1.0], [25.0]], dtype=torch.float64)
    y = torch.tensor([[0.0, 1, 5, 30]] * 3, dtype=torch.float64)
    params = head(hidden, scale)
    raw = head.proj(hidden)
    softplus = torch.nn.functional.softplus
    mu = scale * (softplus(raw[..., 0]) + 1e-6)
    alpha = (softplus(raw[..., 1]) + 1e-6) / scale.sqrt()
    # torch's parametrisation: total_count r = 1 / alpha, success probability p with mean r p / (1 - p)
    expected = -distributions.NegativeBinomial(
        total_count=1 / alpha, probs=mu * alpha / (1 + mu * alpha)
    ).log_prob(y)
    assert torch.allclose(head.nll(params, y), expected, rtol=0, atol=1e-6)
    assert torch.allclose(head.mean(params), mu, rtol=1e-12, atol=0)
    with pytest.raises(ValueError, match="negbin: counts are mean-scaled, not shifted"):
        head(hidden, scale, torch.ones(3, 1, dtype=torch.float64))


@pytest.mark.parametrize("name", ["gaussian", "studentt", "negbin"])
def test_nll_gradients_are_finite(name):
    head = build_likelihood(name, H).double()
    scale = torch.tensor([[3.0], [0.2], [50.0]], dtype=torch.float64)
    y = torch.tensor([[0.0, 4, 1, 300]] * 3, dtype=torch.float64)
    head.nll(head(_hidden(), scale), y).mean().backward()
    grads = [p.grad for p in head.parameters()]
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


def test_negbin_refuses_negative_counts():
    head = _head(NegativeBinomial)
    params = head(_hidden(shape=(3,)))
    with pytest.raises(
        RnnkitError, match=r"^likelihood negbin: expected counts >= 0, got -2\.5 \(2 negative value"
    ):
        head.nll(params, torch.tensor([1.0, -2.5, -1.0], dtype=torch.float64))


def _params(name: str) -> dict[str, torch.Tensor]:
    double = lambda *v: torch.tensor(v, dtype=torch.float64)
    return {
        "gaussian": {"mu": double(1.0, -4.0), "sigma": double(2.0, 0.5)},
        "studentt": {"nu": double(2.0, 2.0), "mu": double(0.0, 3.0), "sigma": double(1.0, 2.0)},
        "negbin": {"mu": double(3.0, 40.0), "alpha": double(0.5, 0.1)},
    }[name]


@pytest.mark.parametrize("name", ["gaussian", "studentt", "negbin"])
def test_sample_mean_converges(name):
    head = build_likelihood(name, H).double()
    params = _params(name)
    torch.manual_seed(0)
    samples = head.sample(params, 20_000)  # (2, S)
    assert samples.shape == (2, 20_000)
    mean = head.mean(params)
    if name == "studentt":  # nu = 2: infinite variance, so compare medians instead
        assert torch.allclose(samples.median(dim=-1).values, mean, atol=0.06)
    else:
        variance = head.distribution(params).variance
        assert torch.all((samples.mean(-1) - mean).abs() < 4 * (variance / 20_000).sqrt())


def _exact_quantiles(name: str, params, levels) -> torch.Tensor:
    q = torch.tensor(levels, dtype=torch.float64)
    if name == "gaussian":
        return distributions.Normal(params["mu"][:, None], params["sigma"][:, None]).icdf(q)
    if name == "studentt":  # closed form for nu = 2: t_q = (2q - 1) / sqrt(2 q (1 - q))
        t = (2 * q - 1) / torch.sqrt(2 * q * (1 - q))
        return params["mu"][:, None] + params["sigma"][:, None] * t
    # negbin: the smallest count whose CDF reaches q, from the probability mass function
    counts = torch.arange(0, 400, dtype=torch.float64)
    head = NegativeBinomial(H).double()
    cdf = head.distribution({k: v[:, None] for k, v in params.items()}).log_prob(counts).exp()
    cdf = cdf.cumsum(-1)  # (2, 400)
    return torch.stack([(cdf < level).sum(-1).double() for level in levels], dim=-1)


@pytest.mark.parametrize("name", ["gaussian", "studentt", "negbin"])
def test_quantiles_match_the_distribution(name):
    head = build_likelihood(name, H).double()
    params = _params(name)
    levels = [0.1, 0.5, 0.9]
    exact = _exact_quantiles(name, params, levels)  # (2, 3)
    torch.manual_seed(1)
    got = head.quantile(params, levels, num_samples=20_000)
    assert got.shape == (2, 3)
    if name == "gaussian":  # closed form
        assert torch.allclose(got, exact, atol=1e-12)
    # about 4 standard errors of a quantile from 20,000 draws (sqrt(q (1 - q) / S) / density)
    tolerance = {"gaussian": 0.06, "studentt": 0.25, "negbin": 1.0}[name]
    torch.manual_seed(2)
    sampled = empirical_quantile(head.sample(params, 20_000), levels)
    assert torch.all((sampled - exact).abs() <= tolerance)
    assert torch.all((got - exact).abs() <= tolerance)


def test_empirical_quantile_equals_numpy_linear():
    x = torch.tensor([[3.0, 1.0, 2.0, 10.0]], dtype=torch.float64)
    got = empirical_quantile(x, [0.1, 0.5, 0.9])
    # order statistics 1, 2, 3, 10 at positions 0.3, 1.5, 2.7
    assert torch.allclose(got, torch.tensor([[1.3, 2.5, 7.9]], dtype=torch.float64))


@pytest.mark.parametrize(
    ("levels", "message"),
    [
        ([0.1, 1.0], "quantiles: expected levels strictly between 0 and 1, got 0.1, 1"),
        ([0.0, 0.5], "quantiles: expected levels strictly between 0 and 1, got 0, 0.5"),
        ([0.9, 0.1], "quantiles: expected strictly increasing levels, got 0.9, 0.1"),
        ([0.5, 0.5], "quantiles: expected strictly increasing levels, got 0.5, 0.5"),
        ([], "quantiles: expected at least one level in (0, 1), got none"),
    ],
)
def test_bad_quantile_levels(levels, message):
    with pytest.raises(RnnkitError) as raised:
        Gaussian(H).double().quantile(_params("gaussian"), levels)
    assert str(raised.value) == message
    with pytest.raises(RnnkitError) as raised:
        QuantileHead(H, levels)
    assert str(raised.value) == message


def test_quantile_head_is_monotone_scaled_and_trains():
    torch.manual_seed(0)
    head = QuantileHead(H, [0.1, 0.5, 0.9]).double()
    hidden = _hidden(shape=(64,))
    scale = torch.full((64,), 3.0, dtype=torch.float64)
    out = head(hidden, scale=scale, loc=torch.ones(64, dtype=torch.float64))
    assert out.shape == (64, 3)
    assert torch.all(out[:, 1:] >= out[:, :-1])
    assert torch.allclose(out, 1 + 3 * head(hidden))
    # fit a constant hidden vector to y ~ N(0, 1): the quantiles approach -1.28, 0, 1.28
    optimiser = torch.optim.Adam(head.parameters(), lr=0.1)
    ones = torch.ones(2000, H, dtype=torch.float64)
    y = torch.randn(2000, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for _ in range(150):
        optimiser.zero_grad()
        loss = head.loss(head(ones), y).mean()
        loss.backward()
        optimiser.step()
    fitted = head(ones[:1])[0]
    assert torch.allclose(
        fitted, torch.tensor([-1.2816, 0.0, 1.2816], dtype=torch.float64), atol=0.12
    )


def test_pinball_loss_hand_computed():
    levels = torch.tensor([0.1, 0.9])
    # y = 2, forecasts 1 (below: q * 1) and 4 (above: (1 - q) * 2)
    loss = pinball_loss(torch.tensor([[1.0, 4.0]]), torch.tensor([2.0]), levels)
    assert loss.item() == pytest.approx((0.1 * 1 + 0.1 * 2) / 2)
    assert math.isclose(
        pinball_loss(torch.tensor([[2.0, 2.0]]), torch.tensor([2.0]), levels).item(), 0.0
    )
