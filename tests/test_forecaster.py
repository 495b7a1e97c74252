"""Forecaster: shapes, scaling to original units, the autoregressive rollout, checkpoint round trip,
a constant target forecast exactly (training through the task: tests/test_task_forecast.py)."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest
import torch

from rnnkit.config import ConfigError
from rnnkit.data.timeseries import StandardScaler
from rnnkit.models.forecaster import Forecaster, ForecasterConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def test_shapes_direct_and_autoregressive():
    torch.manual_seed(0)
    direct = Forecaster(ForecasterConfig(input_size=3, horizon=4, hidden_size=8))
    assert direct(torch.randn(5, 12, 3)).shape == (5, 4)
    auto = Forecaster(
        ForecasterConfig(input_size=1, horizon=4, hidden_size=8, mode="autoregressive")
    )
    assert auto(torch.randn(5, 12, 1)).shape == (5, 4)
    assert auto.step_predictions(torch.randn(5, 12, 1)).shape == (5, 12)
    assert auto.predict(np.zeros((12, 1)), horizon=6).shape == (6,)
    with pytest.raises(
        ValueError, match=r"expected windows \(N, L, 3\) with L >= 1, got \(5, 12, 2\)"
    ):
        direct(torch.randn(5, 12, 2))
    multi = Forecaster(
        ForecasterConfig(input_size=2, horizon=3, hidden_size=8, mode="autoregressive")
    )
    with pytest.raises(
        ValueError, match=r"need the other variables over the forecast period: future \(N, 2, 2\)"
    ):
        multi(torch.randn(1, 5, 2))
    with pytest.raises(ValueError, match="need the target among the inputs"):
        ForecasterConfig(input_size=2, target_index=-1, mode="autoregressive")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_rollout_equals_rerunning_the_growing_window(cell):
    torch.manual_seed(1)
    model = Forecaster(
        ForecasterConfig(input_size=1, horizon=4, hidden_size=6, cell=cell, mode="autoregressive")
    ).eval()
    x = torch.randn(3, 7, 1)
    rolled = model(x)  # (3, 4): the window read once, the state carried forward
    window = x
    expected = []
    with torch.no_grad():
        for _ in range(4):  # the slow way: re-run the whole window after appending each forecast
            step = model.step_predictions(window)[:, -1:]  # (3, 1)
            expected.append(step)
            window = torch.cat([window, step.unsqueeze(2)], dim=1)
    torch.testing.assert_close(rolled, torch.cat(expected, dim=1), rtol=1e-5, atol=1e-6)


def test_predict_in_original_units():
    torch.manual_seed(2)
    model = Forecaster(ForecasterConfig(input_size=2, horizon=2, hidden_size=4))
    model.set_scaling(StandardScaler([10.0, -3.0], [2.0, 0.5]), StandardScaler([10.0], [2.0]))
    window = np.array([[12.0, -3.5], [8.0, -2.0], [10.0, -3.0]])  # (L, F) original units
    z = model(torch.tensor([[[1.0, -1.0], [-1.0, 2.0], [0.0, 0.0]]])).detach().double().numpy()[0]
    np.testing.assert_allclose(model.predict(window), 10.0 + 2.0 * z, rtol=1e-12)
    assert model.predict(window).dtype == np.float64


def test_constant_target_forecast_exactly_by_any_weights():
    model = Forecaster(ForecasterConfig(input_size=1, horizon=3, hidden_size=4, residual=True))
    model.set_scaling(StandardScaler.fit(np.full(50, 7.3)), StandardScaler.fit(np.full(50, 7.3)))
    forecast = model.predict(np.full((2, 10, 1), 7.3))
    assert forecast.shape == (2, 3)
    assert np.all(forecast == 7.3)


def test_config_round_trip_gives_same_forecasts():
    torch.manual_seed(3)
    model = Forecaster(ForecasterConfig(input_size=1, horizon=2, hidden_size=5, cell="gru"))
    model.set_scaling(StandardScaler([1.0], [3.0]), StandardScaler([1.0], [3.0]))
    data = asdict(model.config)
    rebuilt = Forecaster(ForecasterConfig.from_dict(data))
    rebuilt.load_state_dict(model.state_dict())
    window = np.linspace(-2, 4, 9)[:, None]
    np.testing.assert_array_equal(rebuilt.predict(window), model.predict(window))


def test_config_from_dict_refuses_an_unknown_key():
    data = asdict(ForecasterConfig(input_size=2, horizon=3))
    assert ForecasterConfig.from_dict(data) == ForecasterConfig(**data)
    with pytest.raises(ConfigError, match="colour: unknown key; accepted: input_size, ") as info:
        ForecasterConfig.from_dict({**data, "colour": 1})
    assert info.value.key == "colour"


def test_float64_and_device_follow_the_model():
    model = Forecaster(ForecasterConfig(input_size=1, horizon=1, hidden_size=3)).double()
    assert model(torch.zeros(2, 4, 1, dtype=torch.float64)).dtype == torch.float64
    assert model.predict(np.zeros((4, 1))).shape == (1,)
