"""rnnkit's layers against torch.nn's fused kernels: outputs, final states and every gradient.

Every combination of cell type, depth, direction, batch_first, bias, input form, initial state,
backend and dtype is a test case of its own.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit import nn as layers

N, L, H_IN, H, PROJ = 3, 5, 4, 6, 3
LENGTHS = [5, 2, 4]  # unsorted on purpose: packing must sort and unsort
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}

KINDS = {
    "rnn_tanh": (nn.RNN, layers.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNN, layers.RNN, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTM, layers.LSTM, {}),
    "lstm_proj": (nn.LSTM, layers.LSTM, {"proj_size": PROJ}),
    "gru": (nn.GRU, layers.GRU, {}),
}
FORMS = ("padded", "lengths", "packed", "unbatched")


def _as_tuple(state):
    return state if isinstance(state, tuple) else (state,)


def _make_pair(kind, num_layers, bidirectional, batch_first, bias, backend, dtype):
    torch_class, rnnkit_class, extra = KINDS[kind]
    torch.manual_seed(0)
    reference = torch_class(
        H_IN,
        H,
        num_layers=num_layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=dtype,
        **extra,
    )
    ours = rnnkit_class(
        H_IN,
        H,
        num_layers=num_layers,
        bias=bias,
        batch_first=batch_first,
        bidirectional=bidirectional,
        dtype=dtype,
        backend=backend,
        **extra,
    )
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def _inputs(form, batch_first, dtype, generator):
    if form == "unbatched":
        return torch.randn(L, H_IN, dtype=dtype, generator=generator)
    shape = (N, L, H_IN) if batch_first else (L, N, H_IN)
    return torch.randn(*shape, dtype=dtype, generator=generator)


def _initial_state(kind, num_layers, bidirectional, unbatched, dtype, generator):
    count = num_layers * (2 if bidirectional else 1)
    batch = () if unbatched else (N,)
    h_out = PROJ if kind == "lstm_proj" else H
    h0 = torch.randn(count, *batch, h_out, dtype=dtype, generator=generator)
    if kind.startswith("lstm"):
        return (h0, torch.randn(count, *batch, H, dtype=dtype, generator=generator))
    return h0


def _run(module, form, x, hx, batch_first):
    """Run ``module`` on ``x`` in the given form; gives back a padded output and the final state."""
    lengths = torch.tensor(LENGTHS)
    if form == "packed":
        packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
        output, state = module(packed, hx)
        assert isinstance(output, PackedSequence)
        output, _ = pad_packed_sequence(output, batch_first=batch_first, total_length=L)
        return output, _as_tuple(state)
    if form == "lengths":
        if isinstance(module, layers.Recurrent):
            output, state = module(x, hx, lengths=lengths)
            return output, _as_tuple(state)
        # torch.nn has no lengths argument: the same computation is packing and unpacking
        return _run(module, "packed", x, hx, batch_first)
    output, state = module(x, hx)
    return output, _as_tuple(state)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("backend", ["reference", "native"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3])
@pytest.mark.parametrize("kind", list(KINDS))
def test_matches_torch_nn(
    kind, num_layers, bidirectional, batch_first, bias, form, with_hx, backend, dtype
):
    reference, ours = _make_pair(kind, num_layers, bidirectional, batch_first, bias, backend, dtype)
    generator = torch.Generator().manual_seed(1)
    x = _inputs(form, batch_first, dtype, generator)
    hx = (
        _initial_state(kind, num_layers, bidirectional, form == "unbatched", dtype, generator)
        if with_hx
        else None
    )
    runs = []
    for module in (reference, ours):
        x_leaf = x.clone().requires_grad_(True)
        hx_leaves = None
        if hx is not None:
            hx_leaves = tuple(h.clone().requires_grad_(True) for h in _as_tuple(hx))
        hx_arg = hx_leaves
        if hx_leaves is not None and not kind.startswith("lstm"):
            hx_arg = hx_leaves[0]
        output, state = _run(module, form, x_leaf, hx_arg, batch_first)
        # A loss that weighs every output and state entry differently, so each gradient is checked.
        weights = torch.Generator().manual_seed(2)
        loss = (output * torch.randn(output.shape, dtype=dtype, generator=weights)).sum()
        for s in state:
            loss = loss + (s * torch.randn(s.shape, dtype=dtype, generator=weights)).sum()
        loss.backward()
        grads = {name: p.grad for name, p in module.named_parameters()}
        hx_grads = [h.grad for h in hx_leaves] if hx_leaves else []
        runs.append((output, state, x_leaf.grad, grads, hx_grads))

    (out_t, state_t, gx_t, grads_t, ghx_t), (out_r, state_r, gx_r, grads_r, ghx_r) = runs
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(out_r, out_t, atol=tol, rtol=tol)
    assert len(state_r) == len(state_t)
    for ours_state, torch_state in zip(state_r, state_t):
        torch.testing.assert_close(ours_state, torch_state, atol=tol, rtol=tol)
    torch.testing.assert_close(gx_r, gx_t, atol=tol, rtol=tol)
    assert grads_r.keys() == grads_t.keys()
    for name in grads_t:
        torch.testing.assert_close(grads_r[name], grads_t[name], atol=tol, rtol=tol, msg=name)
    for ours_grad, torch_grad in zip(ghx_r, ghx_t):
        torch.testing.assert_close(ours_grad, torch_grad, atol=tol, rtol=tol)
