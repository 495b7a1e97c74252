"""Recurrent.probe: every step's state, seen and replaceable, for looking inside a layer."""

import pytest
import torch

from rnnkit.nn import GRU, LSTM, MinGRU


def _record(layer, x, **kwargs):
    seen = {}

    def fn(layer_index, direction, t, state):
        seen[layer_index, direction, t] = tuple(s.detach().clone() for s in state)
        return state

    with layer.probe(fn):
        output, final = layer(x, **kwargs)
    return seen, output, final


@pytest.mark.parametrize("backend", ["auto", "reference"])
def test_probe_sees_every_state_and_changes_nothing(backend):
    torch.manual_seed(0)
    layer = LSTM(3, 5, num_layers=2, bidirectional=True, backend=backend).eval()
    x = torch.randn(7, 2, 3)
    expected, (h, c) = layer(x)
    seen, output, (h2, c2) = _record(layer, x)
    torch.testing.assert_close(c2, c, rtol=1e-5, atol=1e-6)
    assert len(seen) == 2 * 2 * 7
    torch.testing.assert_close(output, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(h2, h, rtol=1e-5, atol=1e-6)
    # the last layer's states are its outputs: forward half, then the reverse half
    for t in range(7):
        torch.testing.assert_close(seen[1, 0, t][0], expected[t, :, :5], rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(seen[1, 1, t][0], expected[t, :, 5:], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(seen[1, 0, 6][1], c[2], rtol=1e-5, atol=1e-6)
    assert layer._probe is None  # the block restored the layer


def test_probe_runs_scan_cells_step_by_step():
    torch.manual_seed(0)
    layer = MinGRU(3, 4).eval()
    x = torch.randn(6, 2, 3)
    expected, _ = layer(x)
    seen, output, _ = _record(layer, x)
    assert sorted(seen) == [(0, 0, t) for t in range(6)]
    torch.testing.assert_close(output, expected, rtol=1e-5, atol=1e-6)


def test_probe_gradient_is_dL_dh_t_through_later_steps():
    """A zero added to h_t by the probe gets dL/dh_t, equal to a finite difference of the loss."""
    torch.manual_seed(0)
    layer = GRU(2, 3, dtype=torch.float64).eval()
    x = torch.randn(5, 1, 2, dtype=torch.float64)
    target = torch.randn(3, dtype=torch.float64)

    def loss_with(shift):  # shift: {t: (1, 3) tensor} added to h_t
        def fn(layer_index, direction, t, state):
            return (state[0] + shift[t],) if t in shift else state

        with layer.probe(fn):
            output, _ = layer(x)
        return ((output[-1, 0] - target) ** 2).sum()

    zeros = {t: torch.zeros(1, 3, dtype=torch.float64, requires_grad=True) for t in range(5)}
    loss_with(zeros).backward()
    eps = 1e-6
    for t in (0, 2, 4):
        for k in range(3):
            bump = torch.zeros(1, 3, dtype=torch.float64)
            bump[0, k] = eps
            with torch.no_grad():
                numeric = (loss_with({t: bump}) - loss_with({t: -bump})) / (2 * eps)
            assert float(zeros[t].grad[0, k]) == pytest.approx(float(numeric), rel=1e-6, abs=1e-9)
    assert float(zeros[0].grad.norm()) > 0  # the first step's gradient flows through the rest


def test_probe_needs_a_callable():
    with pytest.raises(TypeError, match="fn: expected a callable, got int"), LSTM(2, 2).probe(3):
        pass
