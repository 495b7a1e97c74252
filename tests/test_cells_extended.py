"""The cells torch.nn lacks (layer-normalised LSTM and GRU, IndRNN) and their layers: against
per-step implementations of the papers' equations written here, gradient checks, and the layer runner
(stacking, both directions, lengths, packing, unbatched input, the registry, a model)."""

from __future__ import annotations

import pytest
import torch
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.models import SequenceClassifier, SequenceClassifierConfig
from rnnkit.nn import IndRNN, LayerNormGRU, LayerNormLSTM, Recurrent, build_layer
from rnnkit.nn.cells import IndRNNCell, LayerNormGRUCell, LayerNormLSTMCell

EPS = 1e-5


# -- the papers' equations, written out independently of rnnkit's code ------------------------------


def _ln(v, gain, bias):
    mean = v.mean(-1, keepdim=True)
    var = ((v - mean) ** 2).mean(-1, keepdim=True)  # biased variance, as layer normalisation uses
    out = (v - mean) / torch.sqrt(var + EPS) * gain
    return out if bias is None else out + bias


def _ref_lnlstm(p, x, state):
    h, c = state
    a = _ln(x @ p["weight_ih"].T, p["ln_weight_ih"], p.get("ln_bias_ih")) + _ln(
        h @ p["weight_hh"].T, p["ln_weight_hh"], p.get("ln_bias_hh")
    )
    i, f, g, o = a.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    h = torch.sigmoid(o) * torch.tanh(_ln(c, p["ln_weight_c"], p.get("ln_bias_c")))
    return h, (h, c)


def _ref_lngru(p, x, state):
    (h,) = state
    x_r, x_z, x_n = _ln(x @ p["weight_ih"].T, p["ln_weight_ih"], p.get("ln_bias_ih")).chunk(3, -1)
    h_r, h_z, h_n = _ln(h @ p["weight_hh"].T, p["ln_weight_hh"], p.get("ln_bias_hh")).chunk(3, -1)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    h = (1 - z) * n + z * h
    return h, (h,)


def _ref_indrnn(p, x, state, nonlinearity="relu", bound=None):
    (h,) = state
    u = p["weight_hh"] if bound is None else torch.clamp(p["weight_hh"], -bound, bound)
    pre = x @ p["weight_ih"].T + u * h
    if "bias_ih" in p:
        pre = pre + p["bias_ih"]
    h = torch.relu(pre) if nonlinearity == "relu" else torch.tanh(pre)
    return h, (h,)


CELLS = {
    "lnlstm": (LayerNormLSTMCell, _ref_lnlstm, 2),
    "lngru": (LayerNormGRUCell, _ref_lngru, 1),
    "indrnn": (IndRNNCell, _ref_indrnn, 1),
}
LAYERS = {"lnlstm": LayerNormLSTM, "lngru": LayerNormGRU, "indrnn": IndRNN}


def _cell(name, bias=True, **extra):
    torch.manual_seed(0)
    cell = CELLS[name][0](3, 4, bias=bias, dtype=torch.float64, **extra)
    with torch.no_grad():
        for parameter in cell.parameters():  # away from the initial gains 1 and biases 0
            parameter.add_(torch.randn_like(parameter) * 0.3)
    return cell


def _params(module):
    return {name: p for name, p in module.named_parameters()}


def _as_state(result, count):
    return result if count == 2 else (result,)


# -- the cells -------------------------------------------------------------------------------------


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("name", list(CELLS))
def test_cell_matches_the_equations_step_by_step(name, bias, batched):
    cell = _cell(name, bias)
    reference, count = CELLS[name][1], CELLS[name][2]
    shape = (2, 3) if batched else (3,)
    xs = torch.randn(6, *shape, dtype=torch.float64)
    state = tuple(torch.randn(*shape[:-1], 4, dtype=torch.float64) for _ in range(count))
    ours, theirs = state, state
    with torch.no_grad():
        for x in xs:
            ours = _as_state(cell(x, ours if count == 2 else ours[0]), count)
            _, theirs = reference(_params(cell), x, theirs)
            for a, b in zip(ours, theirs):
                assert a.shape == b.shape == shape[:-1] + (4,)
                torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", list(CELLS))
def test_cell_without_state_starts_from_zeros(name):
    cell = _cell(name)
    count = CELLS[name][2]
    x = torch.randn(2, 3, dtype=torch.float64)
    zeros = tuple(torch.zeros(2, 4, dtype=torch.float64) for _ in range(count))
    expected = cell(x, zeros if count == 2 else zeros[0])
    torch.testing.assert_close(cell(x), expected, rtol=0, atol=0)


@pytest.mark.parametrize("name", list(CELLS))
def test_cell_gradcheck(name):
    cell = _cell(name, **({"max_length": 3} if name == "indrnn" else {}))
    if name == "indrnn":
        with torch.no_grad():  # inside the bound 2 ** (1/3), away from the clamp's kinks
            cell.weight_hh.copy_(torch.tensor([0.3, -0.9, 1.1, 0.6]))
    count = CELLS[name][2]
    names = [n for n, _ in cell.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in cell.parameters())
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    state = tuple(torch.randn(2, 4, dtype=torch.float64, requires_grad=True) for _ in range(count))

    def run(x, *rest):
        hx, values = rest[:count], rest[count:]
        return functional_call(cell, dict(zip(names, values)), (x, hx if count == 2 else hx[0]))

    assert torch.autograd.gradcheck(run, (x, *state, *params))


def test_layer_norm_cells_initialise_gains_to_one_and_biases_to_zero():
    for cell in (LayerNormLSTMCell(3, 4), LayerNormGRUCell(3, 4)):
        for name, parameter in cell.named_parameters():
            if name.startswith("ln_weight_"):
                assert torch.equal(parameter, torch.ones_like(parameter))
            if name.startswith("ln_bias_"):
                assert torch.equal(parameter, torch.zeros_like(parameter))
        assert cell.native_mode is None
    assert [n for n, _ in LayerNormLSTMCell(3, 4, bias=False).named_parameters()] == [
        "weight_ih",
        "weight_hh",
        "ln_weight_ih",
        "ln_weight_hh",
        "ln_weight_c",
    ]


def test_indrnn_recurrent_weight_starts_in_zero_one_and_is_per_unit():
    cell = IndRNNCell(3, 50)
    assert cell.weight_hh.shape == (50,)
    assert bool((cell.weight_hh >= 0).all()) and bool((cell.weight_hh <= 1).all())
    assert cell.nonlinearity == "relu" and cell.native_mode is None


def test_indrnn_tanh_matches_the_equations():
    cell = _cell("indrnn", nonlinearity="tanh")
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    expected, _ = _ref_indrnn(_params(cell), x, (h,), "tanh")
    torch.testing.assert_close(cell(x, h), expected, rtol=0, atol=1e-10)


def test_indrnn_max_length_keeps_the_recurrent_weight_within_the_bound():
    cell = _cell("indrnn", max_length=10)
    bound = 2.0 ** (1 / 10)
    assert cell.recurrent_bound == pytest.approx(bound)
    with torch.no_grad():
        cell.weight_hh.copy_(torch.tensor([5.0, -5.0, 0.5, 1.05]))
    u = cell.recurrent_weight()
    torch.testing.assert_close(u, torch.tensor([bound, -bound, 0.5, 1.05], dtype=torch.float64))
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.rand(2, 4, dtype=torch.float64)
    expected, _ = _ref_indrnn(_params(cell), x, (h,), bound=bound)
    torch.testing.assert_close(cell(x, h), expected, rtol=0, atol=1e-10)

    # a large step of training pushes u hard, and the bound still holds in every layer
    layer = IndRNN(3, 4, num_layers=2, bidirectional=True, max_length=10)
    optimizer = torch.optim.SGD(layer.parameters(), lr=100.0)
    output, _ = layer(torch.randn(7, 2, 3))
    output.sum().backward()
    optimizer.step()
    for cell in layer.cells:
        assert float(cell.recurrent_weight().detach().abs().max()) <= bound + 1e-6
    assert (
        max(float(cell.weight_hh.detach().abs().max()) for cell in layer.cells) > bound
    )  # it was pushed


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_indrnn_bad_max_length_raises(bad):
    for build in (IndRNNCell, IndRNN):
        with pytest.raises(ValueError) as info:
            build(3, 4, max_length=bad)
        assert str(info.value) == f"max_length: expected a positive int or None, got {bad!r}"


def test_bad_nonlinearity_raises():
    with pytest.raises(ValueError, match="nonlinearity: expected 'relu' or 'tanh', got 'gelu'"):
        IndRNNCell(3, 4, nonlinearity="gelu")


# -- the layers ------------------------------------------------------------------------------------


def _layer(name, **kwargs):
    torch.manual_seed(0)
    return LAYERS[name](3, 4, dtype=torch.float64, **kwargs)


def _final(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_the_equations_with_gradients(name):
    # the runner's deferred W_hh gradient must agree with autograd through the equations
    layer = _layer(name, bidirectional=True)
    reference, count = CELLS[name][1], CELLS[name][2]
    x = torch.randn(5, 2, 3, dtype=torch.float64)
    output, state = layer(x)
    outputs, finals = [], []
    for direction, cell in enumerate(layer.cells):
        s = tuple(x.new_zeros(2, 4) for _ in range(count))
        steps = [None] * 5
        for t in range(4, -1, -1) if direction else range(5):
            steps[t], s = reference(_params(cell), x[t], s)
        outputs.append(torch.stack(steps))
        finals.append(s)
    expected = torch.cat(outputs, dim=2)  # (L, N, 2H)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-10)
    for ours, theirs in zip(_final(state), zip(*finals)):
        torch.testing.assert_close(ours, torch.stack(theirs), rtol=0, atol=1e-10)
    ours = torch.autograd.grad((output**2).sum(), list(layer.parameters()))
    theirs = torch.autograd.grad((expected**2).sum(), list(layer.parameters()))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_shapes_stacked_bidirectional_batch_first(name):
    layer = _layer(name, num_layers=2, bidirectional=True, batch_first=True)
    output, state = layer(torch.randn(3, 5, 3, dtype=torch.float64))  # (N, L, H_in)
    assert output.shape == (3, 5, 8)  # (N, L, D * H)
    for component in _final(state):
        assert component.shape == (4, 3, 4)  # (D * num_layers, N, H)
    assert len(_final(state)) == CELLS[name][2]


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_padded_equals_unpadded_and_packed(name):
    layer = _layer(name, num_layers=2, bidirectional=True)
    lengths = torch.tensor([5, 2, 4])
    x = torch.randn(5, 3, 3, dtype=torch.float64)  # (L, N, H_in)
    output, state = layer(x, lengths=lengths)
    for n, length in enumerate(lengths.tolist()):
        alone, alone_state = layer(x[:length, n : n + 1])
        torch.testing.assert_close(output[:length, n : n + 1], alone, rtol=0, atol=1e-12)
        assert bool((output[length:, n] == 0).all())
        for ours, theirs in zip(_final(state), _final(alone_state)):
            torch.testing.assert_close(ours[:, n : n + 1], theirs, rtol=0, atol=1e-12)

    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    packed_output, packed_state = layer(packed)
    assert isinstance(packed_output, torch.nn.utils.rnn.PackedSequence)
    padded, _ = pad_packed_sequence(packed_output, total_length=5)
    torch.testing.assert_close(padded, output, rtol=0, atol=1e-12)
    for ours, theirs in zip(_final(packed_state), _final(state)):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_unbatched_input(name):
    layer = _layer(name, num_layers=2, bidirectional=True)
    x = torch.randn(5, 3, dtype=torch.float64)  # (L, H_in)
    output, state = layer(x)
    batched, batched_state = layer(x.unsqueeze(1))
    assert output.shape == (5, 8)
    torch.testing.assert_close(output, batched.squeeze(1), rtol=0, atol=0)
    for ours, theirs in zip(_final(state), _final(batched_state)):
        assert ours.shape == (4, 4)
        torch.testing.assert_close(ours, theirs.squeeze(1), rtol=0, atol=0)


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_initial_state_is_used(name):
    layer = _layer(name)
    count = CELLS[name][2]
    x = torch.randn(4, 2, 3, dtype=torch.float64)
    hx = tuple(torch.randn(1, 2, 4, dtype=torch.float64) for _ in range(count))
    output, _ = layer(x, hx if count == 2 else hx[0])
    cell, s = layer.cells[0], tuple(h[0] for h in hx)
    for t in range(4):
        expected, s = CELLS[name][1](_params(cell), x[t], s)
        torch.testing.assert_close(output[t], expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_backend_auto_is_reference_and_native_is_refused(name):
    assert _layer(name).resolved_backend() == "reference"
    cell_class = CELLS[name][0].__name__
    with pytest.raises(ValueError) as info:
        LAYERS[name](3, 4, backend="native")
    assert str(info.value) == (
        f"backend: 'native' is not available for {cell_class} (PyTorch has no fused kernel for "
        "it); expected 'auto' or 'reference'"
    )


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_names_build_through_the_registry(name):
    # the registry holds the cell class; build_layer makes the built-in cell's own layer class
    assert rnnkit.CELLS[name] is CELLS[name][0]
    layer = build_layer(name, 3, 4, num_layers=2, bidirectional=True)
    assert isinstance(layer, LAYERS[name]) and isinstance(layer, Recurrent) and layer.batch_first
    output, _ = layer(torch.randn(2, 5, 3), lengths=torch.tensor([5, 3]))
    assert output.shape == (2, 5, 8)


def test_indrnn_through_build_layer_takes_the_nonlinearity_given():
    assert build_layer("indrnn", 3, 4, nonlinearity="relu").cells[0].nonlinearity == "relu"
    assert build_layer("indrnn", 3, 4).cells[0].nonlinearity == "tanh"  # build_layer's default


@pytest.mark.parametrize("name", [c for c in rnnkit.CELLS if c not in ("rnn", "lstm", "gru")])
def test_classifier_runs_forward_and_backward_with_each_new_cell(name):
    torch.manual_seed(0)
    config = SequenceClassifierConfig(num_classes=2, input_size=3, cell=name, hidden_size=4)
    model = SequenceClassifier(config)
    logits = model(torch.randn(3, 6, 3), torch.tensor([6, 2, 4]))
    assert logits.shape == (3, 2)
    logits.sum().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and bool(torch.isfinite(g).all()) for g in grads)
    assert any(bool(g.abs().sum() > 0) for g in grads)
