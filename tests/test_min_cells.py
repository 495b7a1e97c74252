"""The minimal RNNs (minGRU, minLSTM; Feng et al. 2024): against per-step implementations of the
paper's equations written here, gradient checks of the scan and of the layers, the scan against the
per-step path, and the layer runner's contract (lengths, packing, both directions, stacking)."""

from __future__ import annotations

import os

import pytest
import torch
from torch.func import functional_call
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit
from rnnkit.nn import MinGRU, MinLSTM, Recurrent, build_layer
from rnnkit.nn.cells import MinGRUCell, MinLSTMCell, compile_min_cells
from rnnkit.nn.cells import minimal as cells_module
from rnnkit.nn.cells.minimal import _MinScan

# -- the paper's equations, written out independently of rnnkit's code ------------------------------


def _ref_mingru(p, x, h):
    pre = x @ p["weight_ih"].T
    if "bias_ih" in p:
        pre = pre + p["bias_ih"]
    k_z, k_h = pre.chunk(2, dim=-1)
    z = 1 / (1 + torch.exp(-k_z))
    return (1 - z) * h + z * k_h


def _ref_minlstm(p, x, h):
    pre = x @ p["weight_ih"].T
    if "bias_ih" in p:
        pre = pre + p["bias_ih"]
    k_f, k_i, k_h = pre.chunk(3, dim=-1)
    f, i = 1 / (1 + torch.exp(-k_f)), 1 / (1 + torch.exp(-k_i))
    return f / (f + i) * h + i / (f + i) * k_h


CELLS = {"mingru": (MinGRUCell, _ref_mingru, 2), "minlstm": (MinLSTMCell, _ref_minlstm, 3)}
LAYERS = {"mingru": MinGRU, "minlstm": MinLSTM}
NAMES = list(CELLS)


def _params(module):
    return {name: p for name, p in module.named_parameters()}


def _cell(name, bias=True, dtype=torch.float64):
    torch.manual_seed(0)
    return CELLS[name][0](3, 4, bias=bias, dtype=dtype)


def _layer(name, dtype=torch.float64, **kwargs):
    torch.manual_seed(0)
    return LAYERS[name](3, 4, dtype=dtype, **kwargs)


def _reference_sequence(name, cell, x, h, reverse=False):
    """(L, N, H_in) -> (L, N, H) outputs and the final h, one step of the equations at a time."""
    outputs = [None] * x.shape[0]
    for t in range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0]):
        h = CELLS[name][1](_params(cell), x[t], h)
        outputs[t] = h
    return torch.stack(outputs), h


# -- the cells -------------------------------------------------------------------------------------


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("name", NAMES)
def test_cell_matches_the_equations_step_by_step(name, bias, batched):
    cell = _cell(name, bias)
    shape = (2, 3) if batched else (3,)
    xs = torch.randn(6, *shape, dtype=torch.float64) * 2
    ours = theirs = torch.randn(*shape[:-1], 4, dtype=torch.float64)
    with torch.no_grad():
        for x in xs:
            ours = cell(x, ours)
            theirs = CELLS[name][1](_params(cell), x, theirs)
            assert ours.shape == theirs.shape == shape[:-1] + (4,)
            torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_cell_parameters_state_and_defaults(name):
    cell, gates = _cell(name), CELLS[name][2]
    assert [(n, tuple(p.shape)) for n, p in cell.named_parameters()] == [
        ("weight_ih", (gates * 4, 3)),
        ("bias_ih", (gates * 4,)),
    ]
    assert [n for n, _ in _cell(name, bias=False).named_parameters()] == ["weight_ih"]
    assert cell.state_sizes == (4,) and cell.output_size == 4 and cell.native_mode is None
    assert float(cell.weight_ih.detach().abs().max()) <= 0.5  # uniform in +-1/sqrt(H)
    x = torch.randn(2, 3, dtype=torch.float64)
    torch.testing.assert_close(cell(x), cell(x, torch.zeros(2, 4, dtype=torch.float64)))


@pytest.mark.parametrize("name", NAMES)
def test_cell_gradcheck(name):
    cell = _cell(name)
    names = [n for n, _ in cell.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in cell.parameters())
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)

    def run(x, h, *values):
        return functional_call(cell, dict(zip(names, values)), (x, h))

    assert torch.autograd.gradcheck(run, (x, h, *params))


def test_minlstm_gates_stay_finite_where_f_plus_i_underflows():
    cell = MinLSTMCell(1, 1, bias=False)
    with torch.no_grad():
        cell.weight_ih.copy_(torch.tensor([[1.0], [1.0], [1.0]]))  # k_f = k_i = k_h = x
    # sigma(-200) is 0 in float32, so f / (f + i) would be 0/0; equal gates give f' = i' = 1/2
    h = cell(torch.tensor([[-200.0]]), torch.tensor([[4.0]]))
    torch.testing.assert_close(h, torch.tensor([[(4.0 - 200.0) / 2]]))


# -- the scan --------------------------------------------------------------------------------------


@pytest.mark.parametrize("reverse", [False, True], ids=["forward", "reverse"])
@pytest.mark.parametrize("name", NAMES)
def test_scan_function_gradcheck_with_and_without_mask(name, reverse):
    torch.manual_seed(0)
    # the candidates and 1 (minGRU: k_z) or 2 (minLSTM: k_i, k_f) gate logits, each (L, N, H)
    blocks = [torch.randn(5, 2, 3, dtype=torch.float64, requires_grad=True) for _ in range(3)]
    blocks = blocks[: CELLS[name][2]]
    h0 = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    mask = (torch.arange(5)[:, None] < torch.tensor([5, 3])[None, :]).unsqueeze(-1)
    for m in (None, mask):
        assert torch.autograd.gradcheck(
            lambda h0, *blocks, m=m: _MinScan.apply(h0, m, reverse, *blocks), (h0, *blocks)
        )


@pytest.mark.parametrize("name", NAMES)
def test_layer_gradcheck_two_layers_both_directions_with_lengths(name):
    torch.manual_seed(0)
    layer = LAYERS[name](2, 2, num_layers=2, bidirectional=True, dtype=torch.float64)
    names = [n for n, _ in layer.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in layer.parameters())
    x = torch.randn(3, 2, 2, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([3, 2])

    def run(x, h0, *values):
        output, h_n = functional_call(layer, dict(zip(names, values)), (x, h0, lengths))
        return output, h_n

    assert torch.autograd.gradcheck(run, (x, h0, *params))


@pytest.mark.parametrize("name", NAMES)
def test_layer_matches_the_equations_with_gradients(name):
    layer = _layer(name, bidirectional=True)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    h0 = torch.randn(2, 2, 4, dtype=torch.float64)
    output, h_n = layer(x, h0)
    outputs, finals = [], []
    for direction, cell in enumerate(layer.cells):
        out, h = _reference_sequence(name, cell, x, h0[direction], reverse=bool(direction))
        outputs.append(out)
        finals.append(h)
    expected = torch.cat(outputs, dim=2)  # (L, N, 2H)
    torch.testing.assert_close(output, expected, rtol=0, atol=1e-10)
    torch.testing.assert_close(h_n, torch.stack(finals), rtol=0, atol=1e-10)
    loss = (output**2).sum() + (h_n**3).sum()
    expected_loss = (expected**2).sum() + (torch.stack(finals) ** 3).sum()
    ours = torch.autograd.grad(loss, list(layer.parameters()))
    theirs = torch.autograd.grad(expected_loss, list(layer.parameters()))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10)


@pytest.mark.parametrize("name", NAMES)
def test_scan_mode_equals_step_mode_in_float32(name):
    layer = _layer(name, dtype=torch.float32, num_layers=2, bidirectional=True)
    x = torch.randn(50, 3, 3, requires_grad=True)
    h0 = torch.randn(4, 3, 4, requires_grad=True)
    for lengths in (None, torch.tensor([50, 17, 1])):
        results = {}
        for mode in ("scan", "step"):
            layer.scan_mode = mode
            output, h_n = layer(x, h0, lengths)
            loss = (output * torch.cos(output)).sum() + h_n.sum()
            grads = torch.autograd.grad(loss, [x, h0, *layer.parameters()])
            results[mode] = (output, h_n, *grads)
        for a, b in zip(results["scan"][:2], results["step"][:2]):
            torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
        # gradients of the weights sum ~150 steps' terms: compared relative to their size
        for a, b in zip(results["scan"][2:], results["step"][2:]):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_auto_mode_scans_sequences_and_steps_single_steps(name, monkeypatch):
    layer = _layer(name, dtype=torch.float32)
    calls = []
    cell = layer.cells[0]
    original = cell.scan
    monkeypatch.setattr(cell, "scan", lambda *a, **k: calls.append(1) or original(*a, **k))
    x = torch.randn(8, 2, 3)
    whole, whole_h = layer(x)
    assert len(calls) == 1
    # streaming one step at a time takes the step path and gives the same numbers
    h, steps = None, []
    for t in range(8):
        out, h = layer(x[t : t + 1], h)
        steps.append(out)
    assert len(calls) == 1
    torch.testing.assert_close(torch.cat(steps), whole, rtol=0, atol=1e-6)
    torch.testing.assert_close(h, whole_h, rtol=0, atol=1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_whole_sequence_equals_two_halves_with_the_state_carried(name):
    layer = _layer(name, num_layers=2)
    x = torch.randn(9, 2, 3, dtype=torch.float64)
    whole, h_whole = layer(x)
    first, h_first = layer(x[:4])
    second, h_second = layer(x[4:], h_first)
    torch.testing.assert_close(torch.cat([first, second]), whole, rtol=0, atol=1e-12)
    torch.testing.assert_close(h_second, h_whole, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_long_sequences_stay_finite_with_their_gradients(name):
    layer = _layer(name, dtype=torch.float32, bidirectional=True)
    with torch.no_grad():  # saturated gates: a = 1 - z at 0 or 1, products that underflow
        layer.weight_ih_l0.mul_(30)
        layer.weight_ih_l0_reverse.mul_(30)
    x = torch.randn(4096, 2, 3, requires_grad=True)
    output, h_n = layer(x)
    assert output.shape == (4096, 2, 8)
    (output.sum() + h_n.sum()).backward()
    assert bool(torch.isfinite(output).all()) and bool(torch.isfinite(h_n).all())
    assert bool(torch.isfinite(x.grad).all()) and float(x.grad.abs().sum()) > 0
    for parameter in layer.parameters():
        assert bool(torch.isfinite(parameter.grad).all())
    # a convex combination of the candidates stays within their range
    bound = float((x.detach().abs().sum(-1).max() * layer.weight_ih_l0.abs().max()).item())
    assert float(output.detach().abs().max()) <= bound + 1


def _scan_results(layer, x, h0, lengths):
    output, h_n = layer(x, h0, lengths)
    grads = torch.autograd.grad((output * torch.cos(output)).sum(), [x, h0, *layer.parameters()])
    return output, h_n, *grads


@pytest.mark.parametrize("name", NAMES)
def test_scan_in_blocks_of_steps_equals_one_block(name, monkeypatch):
    layer = _layer(name, num_layers=2, bidirectional=True)
    x = torch.randn(11, 2, 3, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(4, 2, 4, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([11, 6])
    expected = _scan_results(layer, x, h0, lengths)
    monkeypatch.setattr(cells_module, "_SCAN_BLOCK", 3 * 2 * 4)  # blocks of 3 steps: 3+3+3+2
    calls = []
    original = _MinScan.apply
    monkeypatch.setattr(_MinScan, "apply", lambda *a: calls.append(1) or original(*a))
    results = _scan_results(layer, x, h0, lengths)
    assert len(calls) == 4 * 4  # 4 blocks in each of 2 layers x 2 directions
    for a, b in zip(results, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-12)


def test_compiling_that_fails_warns_and_falls_back_to_plain_operations(monkeypatch):
    layer = _layer("minlstm", dtype=torch.float32, bidirectional=True)
    x, h0 = torch.randn(6, 2, 3, requires_grad=True), torch.randn(2, 2, 4, requires_grad=True)
    expected = _scan_results(layer, x, h0, torch.tensor([6, 4]))

    def broken(*args):
        raise RuntimeError("no C++ compiler")

    monkeypatch.setattr(cells_module, "_compiled", {"coefficients": broken})
    with pytest.warns(
        RuntimeWarning, match="compile_min_cells: compiling failed .*no C.. compiler"
    ):
        results = _scan_results(layer, x, h0, torch.tensor([6, 4]))
    assert cells_module._compiled == {}  # plain operations from then on
    for a, b in zip(results, expected):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


@pytest.mark.skipif(
    not os.environ.get("RNNKIT_TEST_COMPILE"),
    reason="compiles kernels for seconds; set RNNKIT_TEST_COMPILE=1 (needs a C++ compiler)",
)
@pytest.mark.parametrize("name", NAMES)
def test_compiled_gates_equal_plain_operations(name):
    layer = _layer(name, dtype=torch.float32, bidirectional=True)
    x, h0 = torch.randn(40, 3, 3, requires_grad=True), torch.randn(2, 3, 4, requires_grad=True)
    lengths = torch.tensor([40, 9, 1])
    expected = _scan_results(layer, x, h0, lengths)
    compile_min_cells()
    try:
        results = _scan_results(layer, x, h0, lengths)
        assert cells_module._compiled  # still compiled: nothing fell back
    finally:
        compile_min_cells(False)
    for a, b in zip(results, expected):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


# -- the layers ------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["scan", "step"])
@pytest.mark.parametrize("name", NAMES)
def test_layer_padded_equals_unpadded_and_packed(name, mode):
    layer = _layer(name, num_layers=2, bidirectional=True, mode=mode)
    lengths = torch.tensor([5, 2, 4])
    x = torch.randn(5, 3, 3, dtype=torch.float64)  # (L, N, H_in)
    h0 = torch.randn(4, 3, 4, dtype=torch.float64)
    output, state = layer(x, h0, lengths=lengths)
    for n, length in enumerate(lengths.tolist()):
        alone, alone_state = layer(x[:length, n : n + 1], h0[:, n : n + 1])
        torch.testing.assert_close(output[:length, n : n + 1], alone, rtol=0, atol=1e-12)
        assert bool((output[length:, n] == 0).all())
        torch.testing.assert_close(state[:, n : n + 1], alone_state, rtol=0, atol=1e-12)

    packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
    packed_output, packed_state = layer(packed, h0)
    assert isinstance(packed_output, torch.nn.utils.rnn.PackedSequence)
    padded, _ = pad_packed_sequence(packed_output, total_length=5)
    torch.testing.assert_close(padded, output, rtol=0, atol=1e-12)
    torch.testing.assert_close(packed_state, state, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_layer_shapes_stacked_bidirectional_batch_first(name):
    layer = _layer(name, num_layers=2, bidirectional=True, batch_first=True)
    output, state = layer(torch.randn(3, 5, 3, dtype=torch.float64))  # (N, L, H_in)
    assert output.shape == (3, 5, 8)  # (N, L, D * H)
    assert isinstance(state, torch.Tensor) and state.shape == (4, 3, 4)  # (D * layers, N, H)
    assert [n for n, _ in layer.named_parameters()] == [
        f"{w}_l{k}{s}" for k in range(2) for s in ("", "_reverse") for w in ("weight_ih", "bias_ih")
    ]


@pytest.mark.parametrize("name", NAMES)
def test_layer_unbatched_input(name):
    layer = _layer(name, num_layers=2, bidirectional=True)
    x = torch.randn(5, 3, dtype=torch.float64)  # (L, H_in)
    output, state = layer(x)
    batched, batched_state = layer(x.unsqueeze(1))
    assert output.shape == (5, 8) and state.shape == (4, 4)
    torch.testing.assert_close(output, batched.squeeze(1), rtol=0, atol=0)
    torch.testing.assert_close(state, batched_state.squeeze(1), rtol=0, atol=0)


@pytest.mark.parametrize("name", NAMES)
def test_layer_dropout_between_layers_is_the_same_in_both_modes(name):
    layer = _layer(name, num_layers=2, dropout=0.5)
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    outputs = {}
    for mode in ("scan", "step"):
        layer.scan_mode = mode
        torch.manual_seed(1)
        outputs[mode], _ = layer(x)
    torch.testing.assert_close(outputs["scan"], outputs["step"], rtol=0, atol=1e-12)
    layer.eval()
    evaluated, _ = layer(x)
    assert not torch.allclose(evaluated, outputs["scan"])  # dropout acted in training mode


@pytest.mark.parametrize("name", NAMES)
def test_layer_bad_backend_and_mode_raise(name):
    assert _layer(name).resolved_backend() == "reference"
    cell_class = CELLS[name][0].__name__
    with pytest.raises(ValueError) as info:
        LAYERS[name](3, 4, backend="native")
    assert str(info.value) == (
        f"backend: 'native' is not available for {cell_class} (PyTorch has no fused kernel for "
        "it); expected 'auto' or 'reference'"
    )
    with pytest.raises(ValueError) as info:
        LAYERS[name](3, 4, mode="parallel")
    assert str(info.value) == "mode: expected one of 'auto', 'scan', 'step', got 'parallel'"
    with pytest.raises(ValueError, match="input: expected 3 features"):
        _layer(name)(torch.randn(5, 2, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"hx: expected shape \(1, 2, 4\)"):
        _layer(name)(torch.randn(5, 2, 3, dtype=torch.float64), torch.zeros(1, 2, 5))
    assert repr(_layer(name, mode="step")) == f"{LAYERS[name].__name__}(3, 4, mode='step')"


@pytest.mark.parametrize("name", NAMES)
def test_layer_names_build_through_the_registry(name):
    # the registry holds the cell class; build_layer makes the built-in cell's own layer class
    assert rnnkit.CELLS[name] is CELLS[name][0]
    assert getattr(rnnkit, LAYERS[name].__name__) is LAYERS[name]
    assert getattr(rnnkit, CELLS[name][0].__name__) is CELLS[name][0]
    layer = build_layer(name, 3, 4, num_layers=2, bidirectional=True)
    assert isinstance(layer, LAYERS[name]) and isinstance(layer, Recurrent) and layer.batch_first
    output, _ = layer(torch.randn(2, 5, 3), lengths=torch.tensor([5, 3]))
    assert output.shape == (2, 5, 8)
