"""The registry of cells: a new cell of a few lines (JANET, Westhuizen and Lasenby 2018), registered by
its class, gets layers, both directions, lengths and packing, initial states, the regularisers and
every task's ``--cell`` with no other change."""

from __future__ import annotations

import json
import re

import pytest
import torch
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.cli import main
from rnnkit.nn import CELLS, CellLayer, build_layer, register_cell
from rnnkit.nn.cells import RNNCellBase
from rnnkit.tasks import TASKS
from rnnkit.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")


class JANETCell(RNNCellBase):
    r"""JANET, "just another network" (van der Westhuizen and Lasenby 2018): an LSTM with the forget
    gate alone, :math:`f = \sigma(W_f x + U_f h + b_f)`, :math:`h' = f \odot h + (1 - f) \odot
    \tanh(W_c x + U_c h + b_c)`."""

    gates = 2  # blocks f, c of weight_ih (2H, H_in), weight_hh (2H, H) and the biases
    adds_projections = True  # step() begins with xp_t + hp_t

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
        self.reset_parameters()

    def project_input(self, x):
        bias = None if self.bias_ih is None else self.bias_ih + self.bias_hh
        return F.linear(x, self.weight_ih, bias)

    def step(self, xp_t, hp_t, state):
        f, c = (xp_t + hp_t).chunk(2, dim=1)  # each (N, H)
        f = torch.sigmoid(f)
        h = f * state[0] + (1 - f) * torch.tanh(c)
        return h, (h,)


@pytest.fixture
def janet():
    """``"janet"`` registered for the test, the registry restored after it."""
    before = dict(CELLS)
    assert register_cell("janet", JANETCell) is JANETCell
    yield "janet"
    CELLS.clear()
    CELLS.update(before)


def janet_layer(**options) -> CellLayer:
    torch.manual_seed(0)
    layer = build_layer("janet", 3, 5, batch_first=False, **options)
    return layer.double()


def by_hand(layer, x, h, suffix="_l0"):
    """JANET's equations over ``x`` (L, N, H_in) from ``h`` (N, H), written without the runner."""
    w_ih, w_hh = getattr(layer, "weight_ih" + suffix), getattr(layer, "weight_hh" + suffix)
    b_ih, b_hh = getattr(layer, "bias_ih" + suffix), getattr(layer, "bias_hh" + suffix)
    outputs = []
    for x_t in x:
        f_x, c_x = (x_t @ w_ih.t() + b_ih).chunk(2, dim=1)
        f_h, c_h = (h @ w_hh.t() + b_hh).chunk(2, dim=1)
        f = torch.sigmoid(f_x + f_h)
        h = f * h + (1 - f) * torch.tanh(c_x + c_h)
        outputs.append(h)
    return torch.stack(outputs), h


def test_the_registry_stores_the_class_and_builds_a_runner_layer(janet):
    assert CELLS[janet] is JANETCell
    layer = janet_layer(num_layers=2, bidirectional=True)
    assert isinstance(layer, CellLayer) and layer.resolved_backend() == "reference"
    assert repr(layer) == "CellLayer(JANETCell, 3, 5, num_layers=2, bidirectional=True)"
    assert "weight_hh_l1_reverse" in layer.state_dict()  # torch.nn's naming
    assert layer.weight_ih_l1.shape == (10, 10)  # layer 1 reads both directions of layer 0
    message = "name: expected a cell name not yet registered, got 'janet'"
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        register_cell(janet, CELLS["gru"])
    with pytest.raises(ValueError, match="cell 'janet' has no nonlinearity option"):
        build_layer(janet, 3, 5, nonlinearity="relu")
    with pytest.raises(ValueError, match="'native' is not available for JANETCell"):
        build_layer(janet, 3, 5, backend="native")


def test_the_layer_equals_a_hand_written_step_loop(janet):
    layer = janet_layer()
    x, h0 = torch.randn(7, 4, 3, dtype=torch.float64), torch.randn(1, 4, 5, dtype=torch.float64)
    output, h_n = layer(x, h0)
    expected, h = by_hand(layer, x, h0[0])
    torch.testing.assert_close(output, expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(h_n[0], h, atol=1e-6, rtol=0)
    # unbatched input: the same numbers without N
    single, h_single = layer(x[:, 1], h0[:, 1])
    torch.testing.assert_close(single, expected[:, 1], atol=1e-6, rtol=0)
    torch.testing.assert_close(h_single[0], h[1], atol=1e-6, rtol=0)


def test_gradients_reach_every_parameter_as_by_hand(janet):
    layer = janet_layer()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    layer(x)[0].pow(2).sum().backward()
    runner = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    by_hand(layer, x, torch.zeros(2, 5, dtype=torch.float64))[0].pow(2).sum().backward()
    for mine, theirs in zip(runner, (p.grad for p in layer.parameters())):
        torch.testing.assert_close(mine, theirs, atol=1e-9, rtol=1e-7)


def test_bidirectional_with_lengths_equals_each_sequence_alone_and_packed(janet):
    layer = janet_layer(num_layers=2, bidirectional=True)
    lengths = torch.tensor([6, 2, 4])
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    output, h_n = layer(x, lengths=lengths)
    for n, length in enumerate(lengths.tolist()):
        alone, h_alone = layer(x[:length, n : n + 1])
        torch.testing.assert_close(output[:length, n : n + 1], alone, atol=1e-10, rtol=0)
        assert bool((output[length:, n] == 0).all())
        torch.testing.assert_close(h_n[:, n : n + 1], h_alone, atol=1e-10, rtol=0)
    packed, h_packed = layer(pack_padded_sequence(x, lengths, enforce_sorted=False))
    torch.testing.assert_close(pad_packed_sequence(packed, total_length=6)[0], output)
    torch.testing.assert_close(h_packed, h_n)


def test_the_regularisers_wrap_the_new_cell(janet):
    x = torch.randn(5, 4, 3, dtype=torch.float64)
    plain = janet_layer()(x)[0]
    for option in ("recurrent_dropout", "weight_drop", "zoneout"):
        layer = janet_layer(**{option: 0.5})
        assert repr(layer) == f"CellLayer(JANETCell, 3, 5, {option}=0.5)"
        torch.manual_seed(1)
        assert not torch.allclose(layer(x)[0], plain), f"{option} changed nothing in training"
        layer.eval()
        if option == "zoneout":  # evaluation: the expectation h' = p h + (1 - p) h~
            h, outputs = torch.zeros(4, 5, dtype=torch.float64), []
            for x_t in x:
                h = 0.5 * h + 0.5 * by_hand(layer, x_t[None], h)[1]
                outputs.append(h)
            torch.testing.assert_close(layer(x)[0], torch.stack(outputs), atol=1e-10, rtol=0)
        else:
            torch.testing.assert_close(layer(x)[0], plain, atol=0, rtol=0)


def test_weight_drop_is_refused_for_a_cell_without_weight_hh():
    class Leaky(RNNCellBase):
        """h' = tanh(W x + b) + h / 2: no recurrent weight."""

        def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
            super().__init__(input_size, hidden_size, bias, device=device, dtype=dtype)
            del self.weight_hh

        def recurrence(self, xp_t, state):
            h = torch.tanh(xp_t) + state[0] / 2
            return h, (h,)

    before = dict(CELLS)
    register_cell("leaky", Leaky)
    try:
        assert build_layer("leaky", 3, 4)(torch.randn(2, 5, 3))[0].shape == (2, 5, 4)
        with pytest.raises(ValueError, match="weight_drop: Leaky has no recurrent weight"):
            build_layer("leaky", 3, 4, weight_drop=0.1)
    finally:
        CELLS.clear()
        CELLS.update(before)


@pytest.mark.parametrize("name", list(TASKS))
def test_every_task_trains_the_new_cell_through_the_command_line(name, janet, tmp_path, capsys):
    found = TASKS[name].example(tmp_path)
    config = tmp_path / "example.json"
    config.write_text(json.dumps({**found.settings}), encoding="utf-8")
    out = tmp_path / "run"
    argv = ["train", name, "--config", str(config), "--out", str(out), "--cell", janet]
    code = main([*argv, "--device", "cpu", "--steps", "2"])
    assert code == 0, capsys.readouterr().err
    last = load_checkpoint(out / "last.pt")
    assert last["task_state"]["config"]["model"]["cell"] == janet
    assert any(key.endswith("weight_hh_l0") for key in last["model_state"])
