"""The from-scratch cells against torch.nn's cells, gradient checks, and bad input."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from rnnkit.nn.cells import GRUCell, LSTMCell, RNNCell

CASES = {
    "rnn_tanh": (nn.RNNCell, RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (nn.RNNCell, RNNCell, {"nonlinearity": "relu"}),
    "lstm": (nn.LSTMCell, LSTMCell, {}),
    "gru": (nn.GRUCell, GRUCell, {}),
}


def _pair(kind, bias=True, dtype=torch.float32):
    torch_class, our_class, extra = CASES[kind]
    torch.manual_seed(0)
    reference = torch_class(4, 5, bias=bias, dtype=dtype, **extra)
    ours = our_class(4, 5, bias=bias, dtype=dtype, **extra)
    ours.load_state_dict(reference.state_dict())
    return reference, ours


def _flatten(result):
    return result if isinstance(result, tuple) else (result,)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["no_hx", "hx"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no_bias"])
@pytest.mark.parametrize("kind", list(CASES))
def test_cell_matches_torch(kind, bias, batched, with_hx, dtype):
    reference, ours = _pair(kind, bias, dtype)
    g = torch.Generator().manual_seed(3)
    batch = (3,) if batched else ()
    x = torch.randn(*batch, 4, dtype=dtype, generator=g)
    hx = None
    if with_hx:
        hx = torch.randn(*batch, 5, dtype=dtype, generator=g)
        if kind == "lstm":
            hx = (hx, torch.randn(*batch, 5, dtype=dtype, generator=g))
    results = []
    for module in (reference, ours):
        xi = x.clone().requires_grad_(True)
        out = _flatten(module(xi, hx))
        loss = sum((o * (i + 1)).sum() for i, o in enumerate(out))
        loss.backward()
        results.append((out, xi.grad, {n: p.grad for n, p in module.named_parameters()}))
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    (out_t, gx_t, gp_t), (out_r, gx_r, gp_r) = results
    for a, b in zip(out_r, out_t, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=tol, rtol=tol)
    torch.testing.assert_close(gx_r, gx_t, atol=tol, rtol=tol)
    assert gp_r.keys() == gp_t.keys()
    for name in gp_t:
        torch.testing.assert_close(gp_r[name], gp_t[name], atol=tol, rtol=tol, msg=name)


@pytest.mark.parametrize("kind", list(CASES))
def test_parameters_match_torch_names_shapes_and_init(kind):
    torch_class, our_class, extra = CASES[kind]
    reference, ours = torch_class(7, 9, **extra), our_class(7, 9, **extra)
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [
        (n, p.shape) for n, p in reference.named_parameters()
    ]
    bound = 1 / math.sqrt(9)
    for p in ours.parameters():
        assert p.abs().max() <= bound
        assert p.abs().max() > 0.5 * bound  # uniform over the whole range, not zeros


@pytest.mark.parametrize("kind", list(CASES))
def test_gradcheck_float64(kind):
    _, our_class, extra = CASES[kind]
    torch.manual_seed(0)
    cell = our_class(3, 2, dtype=torch.float64, **extra)
    x = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    h = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
    if kind == "lstm":
        c = torch.randn(2, 2, dtype=torch.float64, requires_grad=True)
        assert torch.autograd.gradcheck(lambda x, h, c: cell(x, (h, c)), (x, h, c))
    else:
        assert torch.autograd.gradcheck(lambda x, h: cell(x, h), (x, h))


def test_lstm_cell_projection_shapes():
    cell = LSTMCell(4, 6, proj_size=2)
    assert cell.weight_hh.shape == (24, 2)
    assert cell.weight_hr.shape == (2, 6)
    h, c = cell(torch.randn(3, 4))
    assert h.shape == (3, 2) and c.shape == (3, 6)


def test_missing_state_follows_input_dtype():
    cell = GRUCell(2, 3, dtype=torch.float64)
    out = cell(torch.randn(4, 2, dtype=torch.float64))
    assert out.dtype == torch.float64 and out.shape == (4, 3)


@pytest.mark.parametrize(
    ("make", "call", "error", "message"),
    [
        (
            lambda: RNNCell(3, 4, nonlinearity="sigmoid"),
            None,
            ValueError,
            "nonlinearity: expected 'tanh' or 'relu', got 'sigmoid'",
        ),
        (lambda: GRUCell(3, 0), None, ValueError, "hidden_size: expected a positive int, got 0"),
        (lambda: GRUCell(3, 2.5), None, TypeError, "hidden_size: expected an int, got float 2.5"),
        (
            lambda: LSTMCell(3, 4, proj_size=4),
            None,
            ValueError,
            "proj_size: expected less than hidden_size (4), got 4",
        ),
        (
            lambda: GRUCell(3, 4),
            lambda c: c(torch.randn(2, 5)),
            ValueError,
            "input: expected 3 features (input_size), got 5",
        ),
        (
            lambda: GRUCell(3, 4),
            lambda c: c(torch.randn(2, 2, 3)),
            ValueError,
            "input: expected a 1-D (unbatched) or 2-D (batched) tensor, got 3-D of shape (2, 2, 3)",
        ),
        (
            lambda: GRUCell(3, 4),
            lambda c: c(torch.randn(2, 3), torch.randn(3, 4)),
            ValueError,
            "hx: expected shape (2, 4), got (3, 4)",
        ),
        (
            lambda: GRUCell(3, 4),
            lambda c: c(torch.randn(2, 3), torch.randn(2, 4).double()),
            TypeError,
            "hx: expected dtype torch.float32 (the input's), got torch.float64",
        ),
        (
            lambda: GRUCell(3, 4),
            lambda c: c(torch.randn(2, 3).double()),
            TypeError,
            "input: expected dtype torch.float32 (the cell's parameters), got torch.float64",
        ),
        (
            lambda: LSTMCell(3, 4),
            lambda c: c(torch.randn(2, 3), torch.randn(2, 4)),
            TypeError,
            "hx: expected a tuple (h, c) of two tensors, got Tensor",
        ),
    ],
)
def test_bad_input(make, call, error, message):
    with pytest.raises(error) as info:
        cell = make()
        call(cell)
    assert str(info.value) == message
