"""Distribution heads for probabilistic forecasts: a hidden vector -> a distribution's parameters.

::

    hidden (..., H) --Linear(H, P)--> raw (..., P) --positive maps--> parameters in scaled units
        --rescale by the series' loc and scale--> parameters in original units: dict of (...) tensors

One small class per distribution (gluonts' ``DistributionOutput`` shape), all behind one
interface, so a model never branches on the name:

- ``forward(hidden, scale=None, loc=None) -> params``: the distribution's parameters, each
  ``(...)``, already in the target's original units.
- ``nll(params, y) -> (...)``: the negative log-likelihood of each value, ``-log p(y)``, computed
  by ``torch.distributions`` (the caller reduces it, e.g. with a mask).
- ``mean(params) -> (...)``, ``sample(params, n) -> (..., n)`` (samples on the LAST axis, as
  ``rnnkit.metrics.probabilistic`` takes them), ``quantile(params, levels) -> (..., Q)``.

Positive parameters go through softplus (plus ``1e-6``, so that an underflow never gives a zero
scale). Scaling (DeepAR's mean scaling, Salinas et al. 2020, section 3.3; standardisation adds a
``loc``): the network sees the target as ``z = (y - loc) / scale`` per series, and its outputs are
turned back into a distribution of ``y``, so the likelihood is always that of the original values:

- gaussian ``N(mu, sigma)``: ``mu = loc + scale * mu_z``, ``sigma = scale * sigma_z``.
- studentt ``t(nu, mu, sigma)``: the same for ``mu`` and ``sigma``; ``nu = 2 + softplus`` (finite
  variance, as gluonts) is not scaled.
- negbin (mean ``mu``, shape ``alpha``: variance ``mu + alpha mu^2``, DeepAR's parametrisation;
  in ``torch.distributions.NegativeBinomial`` terms ``total_count = 1 / alpha`` and
  ``logits = log(mu alpha)``): ``mu = scale * mu_z``, ``alpha = alpha_z / sqrt(scale)``, as in
  DeepAR. Counts are not shifted: a ``loc`` is refused. Targets must be >= 0 (non-integers are
  scored with the continuous extension of the probability mass function, as gluonts does).

Quantiles: closed form for gaussian (``mu + sigma sqrt(2) erfinv(2q - 1)``); for studentt and
negbin (``torch.distributions`` has no inverse CDF for them) the empirical quantiles (linear
interpolation, numpy's default) of ``num_samples`` draws from torch's global generator (seed it
with ``torch.manual_seed`` for repeatable values; the error shrinks as ``1 / sqrt(num_samples)``).

:class:`QuantileHead` is the distribution-free alternative for ``--quantiles``: Q monotone
quantiles trained with the pinball loss (:func:`pinball_loss`).
"""

from __future__ import annotations

from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, distributions, nn

from rnnkit.errors import RnnkitError
from rnnkit.metrics.probabilistic import check_levels

__all__ = [
    "LIKELIHOODS",
    "Gaussian",
    "Likelihood",
    "NegativeBinomial",
    "QuantileHead",
    "StudentT",
    "build_likelihood",
    "empirical_quantile",
    "pinball_loss",
]

Params = dict[str, Tensor]
MINIMUM = 1e-6  # added to every softplus: a parameter that must be > 0 never underflows to 0


def _positive(raw: Tensor) -> Tensor:
    return F.softplus(raw) + MINIMUM


def _levels_tensor(levels, like: Tensor) -> Tensor:
    return torch.as_tensor(check_levels(levels), dtype=like.dtype, device=like.device)


def empirical_quantile(samples: Tensor, levels) -> Tensor:
    """Quantiles ``(..., Q)`` of samples ``(..., S)`` by linear interpolation between order
    statistics (numpy's default method; ``torch.quantile`` refuses inputs over 2^24 values)."""
    q = _levels_tensor(levels, samples)  # (Q,)
    ordered = samples.sort(dim=-1).values  # (..., S)
    position = q * (samples.shape[-1] - 1)  # (Q,)
    below = position.floor().long()
    above = torch.clamp(below + 1, max=samples.shape[-1] - 1)
    weight = position - below  # (Q,)
    return ordered[..., below] * (1 - weight) + ordered[..., above] * weight  # (..., Q)


class Likelihood(nn.Module):
    """A distribution head: ``Linear(H, P)`` to the ``P`` raw parameters, then the subclass's
    positive maps (:meth:`constrain`) and scaling (:meth:`rescale`).

    Args:
        hidden_size: H, the size of the hidden vectors read.
    """

    name: ClassVar[str] = ""
    parameter_names: ClassVar[tuple[str, ...]] = ()
    closed_form_quantiles: ClassVar[bool] = False

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.proj = nn.Linear(hidden_size, len(self.parameter_names))

    def forward(
        self, hidden: Tensor, scale: Tensor | None = None, loc: Tensor | None = None
    ) -> Params:
        """Parameters in original units, each ``(...)``, from ``hidden (..., H)``; ``scale`` and
        ``loc`` broadcast against ``(...)`` (e.g. ``(N, 1)`` for ``(N, K)`` steps)."""
        raw = self.proj(hidden)  # (..., P)
        params = self.constrain(*raw.unbind(-1))
        if scale is None and loc is None:
            return params
        one = torch.ones((), dtype=raw.dtype, device=raw.device)
        zero = torch.zeros((), dtype=raw.dtype, device=raw.device)
        return self.rescale(params, one if scale is None else scale, zero if loc is None else loc)

    def constrain(self, *raw: Tensor) -> Params:
        raise NotImplementedError

    def rescale(self, params: Params, scale: Tensor, loc: Tensor) -> Params:
        raise NotImplementedError

    def distribution(self, params: Params) -> distributions.Distribution:
        raise NotImplementedError

    def check_target(self, y: Tensor) -> None:
        """Raise :class:`RnnkitError` when ``y`` holds a value outside the distribution's support."""

    def nll(self, params: Params, y: Tensor) -> Tensor:
        """``-log p(y)`` of each value, ``(...)`` like ``y``."""
        self.check_target(y)
        return -self.distribution(params).log_prob(y)

    def mean(self, params: Params) -> Tensor:
        return self.distribution(params).mean

    def sample(self, params: Params, n: int) -> Tensor:
        """``n`` draws of each value, ``(..., n)`` (torch's global generator)."""
        if n < 1:
            raise ValueError(f"expected n >= 1 samples, got {n}")
        with torch.no_grad():
            return self.distribution(params).sample((n,)).movedim(0, -1)

    def quantile(self, params: Params, levels, num_samples: int = 2000) -> Tensor:
        """Quantiles ``(..., Q)`` at ``levels`` (strictly increasing in (0, 1)): in closed form
        where the subclass has one, else from ``num_samples`` draws (:func:`empirical_quantile`)."""
        check_levels(levels)
        return empirical_quantile(self.sample(params, num_samples), levels)

    def extra_repr(self) -> str:
        return f"hidden_size={self.hidden_size}, parameters={', '.join(self.parameter_names)}"


class Gaussian(Likelihood):
    """Normal ``N(mu, sigma)``; ``sigma = softplus + 1e-6``; scaled ``loc + scale * mu``,
    ``scale * sigma``; quantiles in closed form."""

    name = "gaussian"
    parameter_names = ("mu", "sigma")

    def constrain(self, mu: Tensor, sigma: Tensor) -> Params:
        return {"mu": mu, "sigma": _positive(sigma)}

    def rescale(self, params: Params, scale: Tensor, loc: Tensor) -> Params:
        return {"mu": loc + scale * params["mu"], "sigma": scale * params["sigma"]}

    def distribution(self, params: Params) -> distributions.Distribution:
        return distributions.Normal(params["mu"], params["sigma"], validate_args=False)

    def quantile(self, params: Params, levels, num_samples: int = 2000) -> Tensor:
        q = _levels_tensor(levels, params["mu"])  # (Q,)
        z = torch.erfinv(2 * q - 1) * 2**0.5  # (Q,) standard normal quantiles
        return params["mu"].unsqueeze(-1) + params["sigma"].unsqueeze(-1) * z


class StudentT(Likelihood):
    """Student's t ``t(nu, mu, sigma)``; ``nu = 2 + softplus`` (finite variance),
    ``sigma = softplus + 1e-6``; ``mu`` and ``sigma`` scaled as :class:`Gaussian`'s."""

    name = "studentt"
    parameter_names = ("nu", "mu", "sigma")

    def constrain(self, nu: Tensor, mu: Tensor, sigma: Tensor) -> Params:
        return {"nu": 2.0 + _positive(nu), "mu": mu, "sigma": _positive(sigma)}

    def rescale(self, params: Params, scale: Tensor, loc: Tensor) -> Params:
        return {
            "nu": params["nu"],
            "mu": loc + scale * params["mu"],
            "sigma": scale * params["sigma"],
        }

    def distribution(self, params: Params) -> distributions.Distribution:
        return distributions.StudentT(
            params["nu"], params["mu"], params["sigma"], validate_args=False
        )


class NegativeBinomial(Likelihood):
    """Negative binomial for counts, mean ``mu`` and shape ``alpha`` (variance
    ``mu + alpha mu^2``), both ``softplus + 1e-6``; scaled ``scale * mu``, ``alpha / sqrt(scale)``
    (DeepAR); no ``loc``."""

    name = "negbin"
    parameter_names = ("mu", "alpha")

    def constrain(self, mu: Tensor, alpha: Tensor) -> Params:
        return {"mu": _positive(mu), "alpha": _positive(alpha)}

    def rescale(self, params: Params, scale: Tensor, loc: Tensor) -> Params:
        if bool(torch.any(loc != 0)):
            raise ValueError("negbin: counts are mean-scaled, not shifted; expected loc None or 0")
        return {"mu": scale * params["mu"], "alpha": params["alpha"] / torch.sqrt(scale)}

    def distribution(self, params: Params) -> distributions.Distribution:
        mu, alpha = params["mu"], params["alpha"]
        return distributions.NegativeBinomial(
            total_count=1.0 / alpha, logits=torch.log(mu) + torch.log(alpha), validate_args=False
        )

    def check_target(self, y: Tensor) -> None:
        negative = y < 0
        if bool(torch.any(negative)):
            value = float(y[negative].reshape(-1)[0])
            raise RnnkitError(
                f"likelihood negbin: expected counts >= 0, got {value:g} "
                f"({int(negative.sum())} negative value(s))"
            )


LIKELIHOODS: dict[str, type[Likelihood]] = {
    cls.name: cls for cls in (Gaussian, StudentT, NegativeBinomial)
}


def build_likelihood(name: str, hidden_size: int) -> Likelihood:
    """The head registered as ``name`` (``gaussian``, ``studentt``, ``negbin``) reading ``H``."""
    if name not in LIKELIHOODS:
        raise RnnkitError(f"likelihood: expected one of {', '.join(LIKELIHOODS)}, got {name!r}")
    return LIKELIHOODS[name](hidden_size)


def pinball_loss(quantiles: Tensor, y: Tensor, levels: Tensor) -> Tensor:
    """Pinball loss ``(...)`` of quantile forecasts ``(..., Q)`` at ``levels (Q,)`` for targets
    ``(...)``: ``mean_q max(q (y - f_q), (q - 1)(y - f_q))``, differentiable."""
    error = y.unsqueeze(-1) - quantiles  # (..., Q)
    return torch.maximum(levels * error, (levels - 1) * error).mean(dim=-1)


class QuantileHead(nn.Module):
    """Q quantiles per value from ``hidden (..., H)``, non-decreasing by construction:
    ``f_1 = o_1``, ``f_j = f_{j-1} + softplus(o_j)`` (a cumulative sum of positive increments,
    so quantiles never cross), then ``loc + scale * f`` in original units. Train with
    :meth:`loss` (the pinball loss averaged over the levels).

    Args:
        hidden_size: H.
        levels: the Q levels, strictly increasing in (0, 1) (:class:`RnnkitError` otherwise).
    """

    def __init__(self, hidden_size: int, levels) -> None:
        super().__init__()
        self.hidden_size = hidden_size
        self.levels = tuple(float(q) for q in check_levels(levels))
        self.proj = nn.Linear(hidden_size, len(self.levels))

    def forward(
        self, hidden: Tensor, scale: Tensor | None = None, loc: Tensor | None = None
    ) -> Tensor:
        raw = self.proj(hidden)  # (..., Q)
        steps = torch.cat([raw[..., :1], F.softplus(raw[..., 1:])], dim=-1)
        quantiles = torch.cumsum(steps, dim=-1)  # (..., Q) non-decreasing
        if scale is not None:
            quantiles = quantiles * scale.unsqueeze(-1)
        if loc is not None:
            quantiles = quantiles + loc.unsqueeze(-1)
        return quantiles

    def loss(self, quantiles: Tensor, y: Tensor) -> Tensor:
        """Pinball loss of each value ``(...)``; reduce it (with a mask) as the caller needs."""
        levels = torch.tensor(self.levels, dtype=quantiles.dtype, device=quantiles.device)
        return pinball_loss(quantiles, y, levels)

    def extra_repr(self) -> str:
        return f"hidden_size={self.hidden_size}, levels={self.levels}"
