"""Forecasting: a lookback window of one or more variables -> the next ``horizon`` values of a target.

::

    window (N, L, F) --standardise--> rnnkit RNN/LSTM/GRU --> last output (N, H)
        direct:         Linear(H, K)                       --> (N, K) all K steps at once
        autoregressive: Linear(H, 1), one step at a time; each prediction is fed back as the
                        next step's target input, the recurrent state carried forward (the window
                        is read once, never re-run)
        --> (optionally + the last observed target: ``residual``) --> unstandardise --> (N, K)

Legend: N = batch, L = lookback, F = input variables, H = hidden size, K = horizon.

Scaling: the model stores the training split's mean and standard deviation of every input
variable and of the target in its config (plain floats, so a checkpoint rebuilds the model with
its scaling). :meth:`Forecaster.forward` works in standardised units (what training optimises);
:meth:`Forecaster.predict` takes windows in original units and returns forecasts in original
units, computed in float64. A target that was constant over the training split has a standard
deviation of 0 and is forecast as exactly that constant.

Autoregressive mode with several input variables needs the other variables' values over the
forecast period (``future``): that suits variables known in advance (calendar features).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from rnnkit.data.timeseries import StandardScaler
from rnnkit.models.recurrent import RecurrentConfig

__all__ = ["Forecaster", "ForecasterConfig"]

MODES = ("direct", "autoregressive")


@dataclass
class ForecasterConfig(RecurrentConfig):
    """Everything needed to rebuild a :class:`Forecaster` (stored in checkpoints as a dict): the
    recurrent layer's settings (:class:`~rnnkit.models.recurrent.RecurrentConfig`, one direction,
    hidden size 32 by default; its ``dropout`` also acts before the head) and these.

    Attributes:
        input_size: number of input variables F per time step.
        horizon: number of future steps K forecast at once.
        lookback: length L of the windows the model was trained on (informative: the model reads
            windows of any length; the forecasting task uses it to cut windows).
        target_index: column of the target among the inputs, or -1 when the target is not an
            input (then neither ``autoregressive`` nor ``residual`` is possible).
        mode: ``"direct"`` (one head for all K steps) or ``"autoregressive"`` (one-step head rolled
            out K times).
        residual: forecast the change from the last observed target instead of the value.
        input_mean, input_std: training statistics of each input variable (length F).
        target_mean, target_std: training statistics of the target.
    """

    input_size: int = 1
    horizon: int = 1
    lookback: int = 30
    target_index: int = 0
    mode: str = "direct"
    residual: bool = False
    input_mean: list[float] = field(default_factory=list)
    input_std: list[float] = field(default_factory=list)
    target_mean: float = 0.0
    target_std: float = 1.0
    hidden_size: int = field(default=32, kw_only=True)

    def __post_init__(self) -> None:
        for name in ("input_size", "horizon", "lookback"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if not -1 <= self.target_index < self.input_size:
            raise ValueError(
                f"target_index must be -1 or in [0, {self.input_size}), got {self.target_index}"
            )
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.target_index < 0 and (self.mode == "autoregressive" or self.residual):
            raise ValueError(
                "autoregressive mode and residual need the target among the inputs "
                "(target_index >= 0)"
            )
        super().__post_init__()
        if self.bidirectional:
            raise ValueError(
                "bidirectional: a forecaster reads the window forwards; expected False"
            )
        if not self.input_mean:
            self.input_mean = [0.0] * self.input_size
        if not self.input_std:
            self.input_std = [1.0] * self.input_size
        if len(self.input_mean) != self.input_size or len(self.input_std) != self.input_size:
            raise ValueError(
                f"input_mean and input_std must have input_size={self.input_size} values, got "
                f"{len(self.input_mean)} and {len(self.input_std)}"
            )
        self.input_mean = [float(v) for v in self.input_mean]
        self.input_std = [float(v) for v in self.input_std]
        self.target_mean = float(self.target_mean)
        self.target_std = float(self.target_std)
        if min(self.input_std) < 0 or self.target_std < 0:
            raise ValueError("standard deviations must be >= 0")


class Forecaster(nn.Module):
    """Recurrent forecaster: ``(N, L, F)`` windows -> ``(N, K)`` forecasts of the target.

    Example::

        >>> config = ForecasterConfig(input_size=1, horizon=3, hidden_size=8)
        >>> model = Forecaster(config)
        >>> model(torch.zeros(4, 30, 1)).shape   # standardised units
        torch.Size([4, 3])
    """

    def __init__(self, config: ForecasterConfig) -> None:
        super().__init__()
        self.config = config
        self.rnn = config.layer(config.input_size)
        self.dropout = nn.Dropout(config.dropout)
        out = config.horizon if config.mode == "direct" else 1
        self.head = nn.Linear(config.hidden_size, out)
        # torch.nn's initialisation throughout. A forget-gate bias of 1 for LSTM was measured on the
        # adding problem (benchmarks/tasks_series.py, 1000 steps): it did worse at length 50 (test MSE
        # 0.141 against 0.009), so it is not used.

    # ------------------------------------------------------------------ scaling

    def set_scaling(self, inputs: StandardScaler, target: StandardScaler) -> None:
        """Store the training split's statistics (``inputs`` over F columns, ``target`` over 1)."""
        if inputs.mean.size != self.config.input_size or target.mean.size != 1:
            raise ValueError(
                f"expected scalers of {self.config.input_size} input column(s) and 1 target column, "
                f"got {inputs.mean.size} and {target.mean.size}"
            )
        self.config.input_mean = [float(v) for v in inputs.mean]
        self.config.input_std = [float(v) for v in inputs.std]
        self.config.target_mean = float(target.mean[0])
        self.config.target_std = float(target.std[0])

    @property
    def input_scaler(self) -> StandardScaler:
        return StandardScaler(self.config.input_mean, self.config.input_std)

    @property
    def target_scaler(self) -> StandardScaler:
        return StandardScaler([self.config.target_mean], [self.config.target_std])

    # ------------------------------------------------------------------ standardised units

    def _check(self, x: Tensor) -> None:
        if x.dim() != 3 or x.shape[2] != self.config.input_size or x.shape[1] < 1:
            raise ValueError(
                f"expected windows (N, L, {self.config.input_size}) with L >= 1, got {tuple(x.shape)}"
            )

    def _last_target(self, x: Tensor) -> Tensor:
        return x[:, -1, self.config.target_index].unsqueeze(1)  # (N, 1)

    def forward(self, x: Tensor, future: Tensor | None = None) -> Tensor:
        """Forecast ``(N, K)`` standardised target values from standardised windows ``x (N, L, F)``.

        ``future`` (autoregressive mode with F > 1 only): ``(N, K-1, F)`` standardised inputs of the
        forecast steps after the first; their target column is ignored (the model's own forecasts
        are fed there).
        """
        self._check(x)
        if self.config.mode == "autoregressive":
            return self.rollout(x, self.config.horizon, future)
        out, _ = self.rnn(x)  # (N, L, H)
        forecast = self.head(self.dropout(out[:, -1]))  # (N, K)
        if self.config.residual:
            forecast = forecast + self._last_target(x)
        return forecast

    def step_predictions(self, x: Tensor) -> Tensor:
        """One-step-ahead forecasts at every step (autoregressive training, teacher forcing):
        ``(N, L)``, entry ``t`` forecasting the target at step ``t + 1`` from steps ``0..t``."""
        self._check(x)
        if self.config.mode != "autoregressive":
            raise RuntimeError("step_predictions needs mode='autoregressive'")
        out, _ = self.rnn(x)  # (N, L, H)
        predictions = self.head(self.dropout(out)).squeeze(2)  # (N, L)
        if self.config.residual:
            predictions = predictions + x[:, :, self.config.target_index]
        return predictions

    def rollout(self, x: Tensor, horizon: int, future: Tensor | None = None) -> Tensor:
        """Autoregressive forecast of ``horizon`` steps ``(N, horizon)``: the window is read once,
        then each forecast becomes the next step's target input with the state carried forward."""
        config = self.config
        if config.mode != "autoregressive":
            raise RuntimeError("rollout needs mode='autoregressive'")
        if horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {horizon}")
        n = x.shape[0]
        if config.input_size > 1 and horizon > 1:
            if future is None:
                raise ValueError(
                    f"autoregressive forecasts with {config.input_size} input variables need the other "
                    f"variables over the forecast period: future (N, {horizon - 1}, {config.input_size})"
                )
            if (
                future.dim() != 3
                or tuple(future.shape[:1]) != (n,)
                or future.shape[1] < horizon - 1
                or future.shape[2] != config.input_size
            ):
                raise ValueError(
                    f"expected future ({n}, {horizon - 1}, {config.input_size}), got {tuple(future.shape)}"
                )
        out, state = self.rnn(x)  # (N, L, H)
        last = out[:, -1]  # (N, H)
        last_target = self._last_target(x)  # (N, 1)
        forecasts = []
        for k in range(horizon):
            step = self.head(self.dropout(last))  # (N, 1)
            if config.residual:
                step = step + last_target
            forecasts.append(step)
            if k == horizon - 1:
                break
            if config.input_size == 1:
                next_input = step  # (N, 1)
            else:
                next_input = future[:, k].clone()  # type: ignore[index]  # (N, F)
                next_input[:, config.target_index] = step[:, 0]
            out, state = self.rnn(next_input.unsqueeze(1), state)  # (N, 1, H)
            last = out[:, -1]
            last_target = step
        return torch.cat(forecasts, dim=1)  # (N, K)

    # ------------------------------------------------------------------ original units

    @torch.no_grad()
    def predict(self, windows, future=None, horizon: int | None = None) -> np.ndarray:
        """Forecasts in original units, float64 ``(N, K)``, from windows in original units.

        Args:
            windows: ``(N, L, F)`` (or ``(L, F)`` for one window), array or tensor, original units.
            future: autoregressive mode with F > 1: ``(N, K-1, F)`` original units.
            horizon: autoregressive mode only: how many steps to roll out (default the config's).
        """
        was_training = self.training
        self.eval()
        try:
            x = np.asarray(
                windows.detach().cpu() if isinstance(windows, Tensor) else windows, dtype=np.float64
            )
            single = x.ndim == 2
            if single:
                x = x[None]
            if x.ndim != 3 or x.shape[2] != self.config.input_size:
                raise ValueError(
                    f"expected windows (N, L, {self.config.input_size}), got shape {tuple(x.shape)}"
                )
            parameter = next(self.parameters())
            as_tensor = lambda a: torch.as_tensor(
                self.input_scaler.transform(a), dtype=parameter.dtype, device=parameter.device
            )
            xt = as_tensor(x)  # (N, L, F)
            if self.config.mode == "autoregressive":
                steps = self.config.horizon if horizon is None else horizon
                ft = None
                if future is not None:
                    f = np.asarray(
                        future.detach().cpu() if isinstance(future, Tensor) else future,
                        dtype=np.float64,
                    )
                    ft = as_tensor(f[None] if single else f)
                z = self.rollout(xt, steps, ft)
            else:
                if horizon is not None and horizon != self.config.horizon:
                    raise ValueError(
                        f"a direct forecaster forecasts horizon={self.config.horizon} steps, got {horizon}"
                    )
                z = self(xt)
            forecast = self.target_scaler.inverse_transform(
                z.detach().cpu().double().numpy()[..., None]
            )[..., 0]
            return forecast[0] if single else forecast
        finally:
            self.train(was_training)

    def extra_repr(self) -> str:
        c = self.config
        return f"mode={c.mode}, horizon={c.horizon}, lookback={c.lookback}, residual={c.residual}"
