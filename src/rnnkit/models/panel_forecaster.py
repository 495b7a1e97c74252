"""A global forecaster for many series, DeepAR-style (Salinas et al. 2020): one recurrent network
trained on windows of every series, forecasting a distribution (or quantiles, or a point) per step.

::

    window (N, L + K, C): channel 0 the scaled target z = (y - loc) / scale, channels 1..P-1 the
    past-only features, channels P..C-1 the known features and the calendar

    step t = 1 .. L + K - 1, input x_t (N, I) =
        [ z_{t-1} ; past_{t-1} (0 once t-1 >= L) ; known_t ; z_{t-l} for l in lags (0 if t-l < 0) ;
          log(scale) ; e_series ; e_static_1 ; ... ]
    h_t = RNN(x_t, h_{t-1})                                             (N, H)
    likelihood:  theta_t = head(h_t, scale, loc)   p(y_t | theta_t) in original units
    quantiles:   f_t = loc + scale * QuantileHead(h_t)                  (N, Q), pinball in z units
    point:       z_hat_t = Linear(H, 1)(h_t)                            MSE in z units

    training (:meth:`PanelForecaster.loss`): teacher forcing, the actual z everywhere; the mean
        over t = 1 .. L+K-1 and windows of -log p(y_t) (or the pinball loss, or the MSE).
    forecasting (:meth:`PanelForecaster.forecast`): steps 1..L read the history once (the
        output of step L is y_L's distribution); each of S sample paths then draws y_t, feeds
        z_t back as the next input (and through the lags: every path keeps its own z buffer of
        length L + K), for K steps. The N x S paths run as N * S rows (path s of window n is
        row n * S + s) from the history's state repeated S times, in chunks of about
        :data:`ROLLOUT_ROWS` rows (whole windows): a step over a few thousand rows keeps the
        gate tensors in the cache.

Legend: N = windows (series), L = lookback, K = horizon, C = channels, P = past channels (the
target and the past-only features: unknown over the horizon), I = RNN input size, H = hidden size,
S = sample paths, Q = quantile levels.

The past-only channels and the target are never read at positions >= L by :meth:`forecast`, and
the past-only features are zeroed there in training too, so that training and forecasting see the
same inputs. The series embedding (``num_series > 0``) is looked up by ``batch.series``; an index
outside ``[0, num_series)`` (e.g. -1: a series unseen in training) gets a zero vector, which the
model has seen: in training each window's embedding is dropped to zero with probability 0.1
(:data:`SERIES_DROPOUT`). Static categories (``static (N, n_static)`` int64 codes) are embedded the
same way, a code of -1 or >= the column's cardinality giving a zero vector.

Sampling uses torch's global generator: seed it (``torch.manual_seed``) for repeatable paths.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.panel_windows import WindowBatch
from rnnkit.errors import RnnkitError
from rnnkit.metrics.probabilistic import DEFAULT_LEVELS, check_levels
from rnnkit.models.likelihoods import (
    LIKELIHOODS,
    QuantileHead,
    build_likelihood,
    empirical_quantile,
)
from rnnkit.models.recurrent import RecurrentConfig

__all__ = ["ForecastOutput", "PanelForecaster", "PanelForecasterConfig"]

PANEL_LIKELIHOODS = (*LIKELIHOODS, "none")
SERIES_DROPOUT = 0.1  # probability that a training window's series embedding is zeroed
# Sample paths run in chunks of about this many rows: a GRU step over 82,800 rows (M4 Hourly x
# 200 paths) spends most of its time moving gate tensors bigger than the cache; chunks of 4,096
# rows made each step 3 times faster on a 2-core CPU.
ROLLOUT_ROWS = 4096


def _check_int(name: str, value: object, least: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ValueError(f"{name}: expected an integer >= {least}, got {value!r}")


@dataclass
class PanelForecasterConfig(RecurrentConfig):
    """Everything needed to rebuild a :class:`PanelForecaster` (stored in checkpoints as a dict):
    the recurrent layer's settings (:class:`~rnnkit.models.recurrent.RecurrentConfig`; here a GRU
    of 2 layers of 40 units by default, DeepAR's sizes; one direction; its ``dropout`` also acts
    before the head) and these.

    Attributes:
        channels: C, the channels of :attr:`WindowBatch.inputs`.
        past_channels: P, the first P channels (the target and the past-only features), unknown
            over the horizon.
        horizon, lookback: K and L; the model reads windows of exactly ``L + K`` steps.
        likelihood: ``"gaussian"``, ``"studentt"``, ``"negbin"`` or ``"none"``.
        quantiles: with likelihood ``"none"`` only: a :class:`QuantileHead` at these levels
            (pinball loss); empty: a point forecast (MSE).
        lags: extra inputs ``z_{t-lag}`` (e.g. ``[24]`` for hourly data), each in [1, lookback].
        num_series: the series seen in training, each with a learned embedding of ``series_dim``
            (0: no embedding).
        static_cardinalities: the number of categories of each static column, each embedded in
            ``static_dim``.
        scale_input: feed ``log(scale)`` as an input, as DeepAR does.
    """

    channels: int = 1
    past_channels: int = 1
    horizon: int = 1
    lookback: int = 30
    likelihood: str = "gaussian"
    quantiles: list[float] = field(default_factory=list)
    lags: list[int] = field(default_factory=list)
    num_series: int = 0
    series_dim: int = 8
    static_cardinalities: list[int] = field(default_factory=list)
    static_dim: int = 4
    scale_input: bool = True
    # the sample paths' (or quantiles') spread around their median, times this: 1 as trained; the
    # forecast task fits it on the validation windows (the factor with the least wQL there)
    spread: float = 1.0
    cell: str = field(default="gru", kw_only=True)
    hidden_size: int = field(default=40, kw_only=True)
    num_layers: int = field(default=2, kw_only=True)

    def __post_init__(self) -> None:
        for name, least in (("channels", 1), ("horizon", 1), ("lookback", 1)):
            _check_int(name, getattr(self, name), least)
        for name, least in (("num_series", 0), ("series_dim", 1), ("static_dim", 1)):
            _check_int(name, getattr(self, name), least)
        _check_int("past_channels", self.past_channels, 1)
        if self.past_channels > self.channels:
            raise ValueError(
                f"past_channels: expected at most channels={self.channels}, "
                f"got {self.past_channels}"
            )
        if self.likelihood not in PANEL_LIKELIHOODS:
            raise ValueError(
                f"likelihood: expected one of {', '.join(PANEL_LIKELIHOODS)}, "
                f"got {self.likelihood!r}"
            )
        self._check_quantiles()
        self.lags = list(self.lags)
        for lag in self.lags:
            _check_int("lags", lag, 1)
            if lag > self.lookback:
                raise ValueError(f"lags: expected each lag <= lookback={self.lookback}, got {lag}")
        if len(set(self.lags)) != len(self.lags):
            raise ValueError(f"lags: expected distinct lags, got {self.lags}")
        self.static_cardinalities = list(self.static_cardinalities)
        for cardinality in self.static_cardinalities:
            _check_int("static_cardinalities", cardinality, 1)
        if type(self.scale_input) is not bool:  # 0 or "yes" would be a silent choice
            raise ValueError(f"scale_input: expected True or False, got {self.scale_input!r}")
        self.spread = float(self.spread)
        if not (math.isfinite(self.spread) and self.spread > 0):
            raise ValueError(f"spread: expected a finite number > 0, got {self.spread!r}")
        super().__post_init__()
        if self.bidirectional:
            raise ValueError(
                "bidirectional: a forecaster reads the window forwards; expected False"
            )

    def _check_quantiles(self) -> None:
        self.quantiles = [float(q) for q in self.quantiles]
        if not self.quantiles:
            return
        if self.likelihood != "none":
            raise ValueError(
                f"quantiles: expected none with likelihood {self.likelihood!r} (its quantiles "
                f"come from the distribution; quantile levels need likelihood 'none'), "
                f"got {len(self.quantiles)}"
            )
        try:
            check_levels(self.quantiles)
        except RnnkitError as error:
            raise ValueError(str(error)) from None

    @property
    def input_size(self) -> int:
        """I: ``z_{t-1}``, the P - 1 past-only features, the C - P known channels, one per lag,
        ``log(scale)``, the series and static embeddings."""
        size = self.channels + len(self.lags) + int(self.scale_input)
        size += self.series_dim if self.num_series else 0
        return size + self.static_dim * len(self.static_cardinalities)


@dataclass
class ForecastOutput:
    """A forecast in original units, numpy float64.

    Attributes:
        point: ``(N, K)``: the median of the samples (likelihood), the 0.5 quantile or else the
            middle level (quantile model), the forecast (point model).
        quantiles: ``(N, K, Q)`` at :attr:`levels`, or None for a point model.
        samples: ``(N, K, S)`` sample paths (likelihood only), else None.
        levels: ``(Q,)`` the quantile levels (empty for a point model).
    """

    point: np.ndarray
    quantiles: np.ndarray | None
    samples: np.ndarray | None
    levels: np.ndarray


def _repeat_state(state: Tensor | Sequence[Tensor], times: int) -> Tensor | tuple[Tensor, ...]:
    """A recurrent state ``(D * layers, N, H)`` (or a tuple of them, LSTM) repeated row-wise:
    row ``n`` becomes rows ``n * times .. n * times + times - 1``."""
    if isinstance(state, Tensor):
        return state.repeat_interleave(times, dim=1)
    return tuple(s.repeat_interleave(times, dim=1) for s in state)


class PanelForecaster(nn.Module):
    """DeepAR-style global forecaster over :class:`~rnnkit.data.panel_windows.WindowBatch`
    windows (see the module's docstring for the equations).

    Example::

        >>> config = PanelForecasterConfig(channels=3, horizon=4, lookback=12, num_series=5)
        >>> model = PanelForecaster(config)
        >>> batch = WindowBatch(torch.randn(2, 16, 3), torch.tensor([0, -1]),
        ...                     torch.tensor([12, 12]), torch.zeros(2), torch.ones(2))
        >>> model.loss(batch).shape, model.forecast(batch, num_samples=10).samples.shape
        (torch.Size([]), (2, 4, 10))
    """

    def __init__(self, config: PanelForecasterConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = config.layer(config.input_size)
        self.dropout = nn.Dropout(config.dropout)
        self.series_embedding = (
            nn.Embedding(config.num_series, config.series_dim) if config.num_series else None
        )
        self.static_embeddings = nn.ModuleList(
            nn.Embedding(n, config.static_dim) for n in config.static_cardinalities
        )
        self.register_buffer("lag_offsets", torch.tensor(config.lags, dtype=torch.long), False)
        hidden = config.hidden_size
        self.head: nn.Module
        if config.likelihood != "none":
            self.head = build_likelihood(config.likelihood, hidden)
        elif config.quantiles:
            self.head = QuantileHead(hidden, config.quantiles)
        else:
            self.head = nn.Linear(hidden, 1)

    # ------------------------------------------------------------------ inputs

    def _check_batch(self, batch: WindowBatch, static: Tensor | None) -> None:
        c = self.config
        shape = tuple(batch.inputs.shape)
        if len(shape) != 3 or shape[1:] != (c.lookback + c.horizon, c.channels):
            raise ValueError(
                f"inputs: expected windows (N, lookback + horizon = {c.lookback + c.horizon}, "
                f"channels = {c.channels}), got {shape}"
            )
        for name in ("series", "loc", "scale"):
            if tuple(getattr(batch, name).shape) != shape[:1]:
                raise ValueError(
                    f"{name}: expected ({shape[0]},), got {tuple(getattr(batch, name).shape)}"
                )
        n_static = len(c.static_cardinalities)
        if n_static and static is None:
            raise ValueError(f"static: expected ({shape[0]}, {n_static}) int64 codes, got None")
        if static is not None and tuple(static.shape) != (shape[0], n_static):
            raise ValueError(
                f"static: expected ({shape[0]}, {n_static}) int64 codes, got {tuple(static.shape)}"
            )

    def _embedded(self, index: Tensor, table: nn.Embedding) -> Tensor:
        """``table[index]`` ``(N, E)``, a zero vector where the index is outside the table."""
        known = (index >= 0) & (index < table.num_embeddings)
        vectors = table(torch.where(known, index, torch.zeros_like(index)))  # (N, E)
        return vectors * known.unsqueeze(1).to(vectors.dtype)

    def _fixed(self, batch: WindowBatch, static: Tensor | None, like: Tensor) -> Tensor:
        """The inputs that do not change over a window ``(N, E)``: log(scale) and embeddings."""
        parts = []
        if self.config.scale_input:
            parts.append(torch.log(batch.scale.to(like)).unsqueeze(1))  # (N, 1)
        if self.series_embedding is not None:
            index = batch.series.to(like.device, torch.long)
            vector = self._embedded(index, self.series_embedding)
            if self.training:  # a zero vector (an unseen series) is then a seen input
                keep = torch.rand(vector.shape[0], 1, device=vector.device) >= SERIES_DROPOUT
                vector = vector * keep.to(vector.dtype)
            parts.append(vector)
        for j, table in enumerate(self.static_embeddings):
            codes = static[:, j].to(like.device, torch.long)  # type: ignore[index]
            parts.append(self._embedded(codes, table))
        return torch.cat(parts, dim=1) if parts else like.new_zeros(like.shape[0], 0)

    def _lagged(self, z: Tensor, steps: Tensor) -> Tensor:
        """``z_{t - lag}`` ``(R, T, lags)`` for each step ``t`` of ``steps (T,)``, from a buffer
        ``z (R, L + K)``; 0 where ``t - lag < 0``."""
        position = steps.unsqueeze(1) - self.lag_offsets.unsqueeze(0)  # (T, lags)
        values = z[:, position.clamp(min=0)]  # (R, T, lags)
        return torch.where(position >= 0, values, values.new_zeros(()))

    def _step_inputs(
        self, z_prev: Tensor, past: Tensor, known: Tensor, lagged: Tensor, fixed: Tensor
    ) -> Tensor:
        """RNN inputs ``(R, T, I)`` from ``z_{t-1} (R, T)``, ``past (R, T, P-1)``, ``known
        (R, T, C-P)``, ``lagged (R, T, lags)`` and the fixed inputs ``(R, E)``."""
        steps = z_prev.shape[1]
        constant = fixed.unsqueeze(1).expand(-1, steps, -1)  # (R, T, E)
        return torch.cat([z_prev.unsqueeze(2), past, known, lagged, constant], dim=2)

    def _teacher_inputs(self, batch: WindowBatch, fixed: Tensor, stop: int) -> Tensor:
        """The inputs of steps ``t = 1 .. stop`` with the actual z: ``(N, stop, I)``. Past-only
        features at ``t - 1 >= L`` are 0 (never read); the target is read up to ``stop - 1``."""
        c, x = self.config, batch.inputs
        z = x[:, :stop, 0]  # (N, stop): z_0 .. z_{stop-1}
        past = x.new_zeros(x.shape[0], stop, c.past_channels - 1)
        history = min(stop, c.lookback)
        past[:, :history] = x[:, :history, 1 : c.past_channels]
        known = x[:, 1 : stop + 1, c.past_channels :]  # (N, stop, C - P)
        steps = torch.arange(1, stop + 1, device=x.device)
        buffer = x.new_zeros(x.shape[0], c.lookback + c.horizon)
        buffer[:, :stop] = z
        return self._step_inputs(z, past, known, self._lagged(buffer, steps), fixed)

    def _run(self, inputs: Tensor, state=None) -> tuple[Tensor, object]:
        out, state = self.rnn(self.dropout(inputs), state)  # (R, T, H)
        return self.dropout(out), state

    # ------------------------------------------------------------------ training

    def loss(self, batch: WindowBatch, static: Tensor | None = None) -> Tensor:
        """The mean over steps ``t = 1 .. L+K-1`` and windows of the negative log-likelihood of
        ``y_t`` in original units (likelihood), the pinball loss in scaled units (quantiles) or
        the squared error in scaled units (point), with teacher forcing (the actual z as inputs).

        Raises:
            RnnkitError: a target outside the likelihood's support (negbin: a negative value).
        """
        self._check_batch(batch, static)
        c, x = self.config, batch.inputs
        steps = c.lookback + c.horizon - 1
        hidden, _ = self._run(self._teacher_inputs(batch, self._fixed(batch, static, x), steps))
        z = x[:, 1:, 0]  # (N, T): the targets z_1 .. z_{L+K-1}
        if isinstance(self.head, QuantileHead):
            return self.head.loss(self.head(hidden), z).mean()
        if c.likelihood == "none":
            return F.mse_loss(self.head(hidden).squeeze(2), z)
        scale, loc = batch.scale.to(x).unsqueeze(1), batch.loc.to(x).unsqueeze(1)  # (N, 1)
        params = self.head(hidden, scale=scale, loc=loc)  # each (N, T)
        return self.head.nll(params, z * scale + loc).mean()

    # ------------------------------------------------------------------ forecasting

    def _draw(
        self, hidden: Tensor, scale: Tensor, loc: Tensor, paths: int
    ) -> tuple[Tensor, Tensor | None]:
        """The next value of each row ``(R * paths,)`` in original units, and a quantile model's
        quantiles ``(R, Q)``. A likelihood draws ``paths`` values per row; a quantile model gives
        its median level, a point model its value (``paths`` is then 1)."""
        if isinstance(self.head, QuantileHead):
            quantiles = self.head(hidden, scale=scale, loc=loc)  # (R, Q)
            return quantiles[:, self._middle_level()], quantiles
        if self.config.likelihood == "none":
            return self.head(hidden).squeeze(1) * scale + loc, None
        params = self.head(hidden, scale=scale, loc=loc)  # each (R,)
        return self.head.sample(params, paths).reshape(-1), None  # (R * paths,), row-major

    def _middle_level(self) -> int:
        levels = self.config.quantiles
        return levels.index(0.5) if 0.5 in levels else len(levels) // 2

    def _rollout(self, batch: WindowBatch, fixed: Tensor, paths: int) -> tuple[Tensor, Tensor]:
        """``(values (N * paths, K), quantiles (N * paths, K, Q) or empty)`` in original units:
        the history read once, then K steps, each row carrying its own z buffer forward."""
        c, x = self.config, batch.inputs
        n, big_l = x.shape[0], c.lookback
        hidden, state = self._run(self._teacher_inputs(batch, fixed, big_l))
        hidden = hidden[:, -1]  # (N, H): y_L's distribution
        scale, loc = batch.scale.to(x), batch.loc.to(x)
        rows_scale, rows_loc = scale.repeat_interleave(paths), loc.repeat_interleave(paths)
        buffer = x.new_zeros(n * paths, big_l + c.horizon)  # each path's z_0 .. z_{L+K-1}
        buffer[:, :big_l] = x[:, :big_l, 0].repeat_interleave(paths, dim=0)
        fixed = fixed.repeat_interleave(paths, dim=0)
        known = x[:, :, c.past_channels :]  # (N, L + K, C - P)
        zeros = x.new_zeros(n * paths, 1, c.past_channels - 1)
        values, quantiles = [], []
        for k in range(c.horizon):
            if k == 0:  # N rows, each drawn from `paths` times
                y, q = self._draw(hidden, scale, loc, paths)  # (N * paths,)
                state = _repeat_state(state, paths)
            else:
                y, q = self._draw(hidden, rows_scale, rows_loc, 1)
            values.append(y)
            if q is not None:
                quantiles.append(q)
            t = big_l + k  # the step just forecast
            buffer[:, t] = (y - rows_loc) / rows_scale
            if k == c.horizon - 1:
                break
            step = torch.tensor([t + 1], device=x.device)
            inputs = self._step_inputs(
                buffer[:, t : t + 1],
                zeros,
                known[:, t + 1 : t + 2].repeat_interleave(paths, dim=0),
                self._lagged(buffer, step),
                fixed,
            )
            out, state = self._run(inputs, state)
            hidden = out[:, -1]  # (N * paths, H)
        stacked = torch.stack(quantiles, 1) if quantiles else x.new_zeros(0)
        return torch.stack(values, dim=1), stacked

    def _chunked_rollout(
        self, batch: WindowBatch, fixed: Tensor, paths: int
    ) -> tuple[Tensor, Tensor]:
        """:meth:`_rollout` over chunks of about :data:`ROLLOUT_ROWS` rows (whole windows)."""
        n = batch.inputs.shape[0]
        size = max(1, ROLLOUT_ROWS // paths)
        values, quantiles = [], []
        for i in range(0, n, size):
            part = slice(i, i + size)
            chunk = WindowBatch(
                batch.inputs[part], batch.series[part], batch.first[part],
                batch.loc[part], batch.scale[part],
            )  # fmt: skip
            v, q = self._rollout(chunk, fixed[part], paths)
            values.append(v)
            quantiles.append(q)
        return torch.cat(values), torch.cat(quantiles)

    @torch.no_grad()
    def forecast(
        self,
        batch: WindowBatch,
        static: Tensor | None = None,
        *,
        num_samples: int = 200,
        levels: Sequence[float] = DEFAULT_LEVELS,
    ) -> ForecastOutput:
        """Forecast the K horizon steps of each window from its L history steps (the target and
        the past-only channels at positions >= L are never read; the known channels are).

        Args:
            batch: windows ``(N, L + K, C)`` (e.g. from
                :func:`~rnnkit.data.panel_windows.forecast_inputs`).
            static: ``(N, n_static)`` int64 category codes, when the model has static columns.
            num_samples: S sample paths (likelihood only), drawn with torch's global generator.
            levels: the quantile levels of :attr:`ForecastOutput.quantiles` (likelihood only; a
                quantile model gives its own levels).
        """
        self._check_batch(batch, static)
        likelihood = self.config.likelihood != "none"
        if likelihood:
            _check_int("num_samples", num_samples, 1)
            levels = check_levels(levels)
        was_training = self.training
        self.eval()
        try:
            fixed = self._fixed(batch, static, batch.inputs)
            paths = num_samples if likelihood else 1
            values, quantiles = self._chunked_rollout(batch, fixed, paths)
        finally:
            self.train(was_training)
        n, k = batch.inputs.shape[0], self.config.horizon
        if likelihood:
            samples = values.reshape(n, paths, k).transpose(1, 2).double()  # (N, K, S)
            every = np.union1d(levels, [0.5])  # one sort of the samples for both
            q = empirical_quantile(samples, every).cpu().numpy()  # (N, K, Q + 1 or Q)
            point = q[..., int(np.searchsorted(every, 0.5))]  # numpy's median
            q = q[..., np.searchsorted(every, levels)]
            paths = self._spread(point, samples.cpu().numpy())
            return ForecastOutput(point, self._spread(point, q), paths, np.asarray(levels))
        point = values.double().cpu().numpy()
        if isinstance(self.head, QuantileHead):
            q = self._spread(point, quantiles.double().cpu().numpy())
            return ForecastOutput(point, q, None, np.asarray(self.head.levels))
        return ForecastOutput(point, None, None, np.zeros(0))

    def _spread(self, point: np.ndarray, values: np.ndarray) -> np.ndarray:
        """``values (N, K, X)`` moved away from (or towards) ``point (N, K)`` by ``spread``."""
        if self.config.spread == 1.0:
            return values
        return point[..., None] + self.config.spread * (values - point[..., None])

    def extra_repr(self) -> str:
        c = self.config
        kind = c.likelihood if c.likelihood != "none" else ("quantiles" if c.quantiles else "point")
        return (
            f"output={kind}, lookback={c.lookback}, horizon={c.horizon}, "
            f"channels={c.channels}, past_channels={c.past_channels}, lags={c.lags}"
        )
