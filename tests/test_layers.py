"""Behaviour of the layers beyond parity: padding, dropout, interop with torch.nn, backends, bad input."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig
from rnnkit.nn import CELLS, GRU, LSTM, RNN, Recurrent, build_layer, register_cell
from rnnkit.nn.cells import RNNCell, RNNCellBase

LAYERS = {
    "rnn": (RNN, nn.RNN, {}),
    "lstm": (LSTM, nn.LSTM, {}),
    "lstm_proj": (LSTM, nn.LSTM, {"proj_size": 2}),
    "gru": (GRU, nn.GRU, {}),
}


def _states(state):
    return state if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("backend", ["reference", "native"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_gradcheck_two_layer_bidirectional(kind, backend):
    cls, _, extra = LAYERS[kind]
    torch.manual_seed(0)
    layer = cls(
        2, 3, num_layers=2, bidirectional=True, dtype=torch.float64, backend=backend, **extra
    )
    x = torch.randn(4, 2, 2, dtype=torch.float64, requires_grad=True)
    lengths = torch.tensor([4, 3])

    def run(x):
        output, state = layer(x, lengths=lengths)
        return (output, *_states(state))

    assert torch.autograd.gradcheck(run, (x,))


@pytest.mark.parametrize("backend", ["reference", "native"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_padded_batch_equals_each_sequence_alone(kind, backend):
    cls, _, extra = LAYERS[kind]
    torch.manual_seed(0)
    layer = cls(3, 4, num_layers=2, bidirectional=True, batch_first=True, backend=backend, **extra)
    lengths = [6, 1, 4, 6]
    sequences = [torch.randn(n, 3) for n in lengths]
    padded = nn.utils.rnn.pad_sequence(sequences, batch_first=True, padding_value=7.0)
    output, state = layer(padded, lengths=torch.tensor(lengths))
    for i, (sequence, n) in enumerate(zip(sequences, lengths)):
        alone_out, alone_state = layer(sequence)  # unbatched (L, H_in)
        torch.testing.assert_close(output[i, :n], alone_out, atol=1e-6, rtol=1e-5)
        assert torch.all(output[i, n:] == 0), "outputs past a sequence's end must be zero"
        for batched, single in zip(_states(state), _states(alone_state)):
            torch.testing.assert_close(batched[:, i], single, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("backend", ["reference", "native"])
def test_dropout_only_between_layers_and_only_in_training(backend):
    torch.manual_seed(0)
    layer = LSTM(3, 8, num_layers=2, dropout=0.5, backend=backend)
    x = torch.randn(5, 4, 3)
    layer.eval()
    out_a, (h_a, c_a) = layer(x)
    out_b, (h_b, _) = layer(x)
    assert torch.equal(out_a, out_b) and torch.equal(h_a, h_b), "eval mode must be deterministic"
    layer.train()
    torch.manual_seed(1)
    out_train, (h_train, c_train) = layer(x)
    # The first layer's input is never dropped, so its final state is unchanged...
    torch.testing.assert_close(h_train[0], h_a[0])
    torch.testing.assert_close(c_train[0], c_a[0])
    # ...while the second layer sees dropped-out inputs.
    assert not torch.allclose(out_train, out_a)
    assert not torch.allclose(h_train[1], h_a[1])


def test_dropout_with_one_layer_warns_and_changes_nothing():
    with pytest.warns(UserWarning, match="num_layers greater than 1"):
        layer = GRU(3, 4, num_layers=1, dropout=0.3, backend="reference")
    x = torch.randn(5, 2, 3)
    layer.train()
    train_out, _ = layer(x)
    layer.eval()
    eval_out, _ = layer(x)
    torch.testing.assert_close(train_out, eval_out)


@pytest.mark.parametrize("kind", list(LAYERS))
def test_state_dict_round_trips_with_torch_nn(kind):
    cls, torch_cls, extra = LAYERS[kind]
    ours = cls(3, 4, num_layers=2, bidirectional=True, **extra)
    theirs = torch_cls(3, 4, num_layers=2, bidirectional=True, **extra)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    theirs.load_state_dict(ours.state_dict())
    for name, value in ours.state_dict().items():
        assert torch.equal(theirs.state_dict()[name], value)
    fresh = cls(3, 4, num_layers=2, bidirectional=True, **extra)
    fresh.load_state_dict(theirs.state_dict())
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(fresh(x)[0], theirs(x)[0])


@pytest.mark.parametrize("kind", list(LAYERS))
def test_from_torch_and_to_torch(kind):
    cls, torch_cls, extra = LAYERS[kind]
    theirs = torch_cls(3, 4, num_layers=2, batch_first=True, bias=False, **extra).double()
    ours = cls.from_torch(theirs)
    assert isinstance(ours, cls) and ours.batch_first and not ours.bias
    assert ours.weight_ih_l0.dtype == torch.float64
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])
    back = ours.to_torch()
    assert type(back) is torch_cls
    torch.testing.assert_close(back(x)[0], theirs(x)[0])


def test_from_torch_rejects_another_kind():
    with pytest.raises(TypeError, match="module: expected a torch.nn.LSTM, got GRU"):
        LSTM.from_torch(nn.GRU(2, 3))


def test_parameters_are_shared_with_the_cells_after_assign_load():
    layer = GRU(2, 3, backend="reference")
    state = {k: torch.zeros_like(v) for k, v in layer.state_dict().items()}
    layer.load_state_dict(state, assign=True)
    output, _ = layer(torch.randn(4, 1, 2))
    assert torch.all(output == 0), "the cells must use the newly assigned (zero) weights"


def test_tutorial_classifier_has_13314_parameters():
    rnn = RNN(10, 64, num_layers=2)
    head = nn.Linear(64, 2)
    count = sum(p.numel() for p in rnn.parameters()) + sum(p.numel() for p in head.parameters())
    assert count == 13_314


def test_auto_backend_is_native_for_builtin_cells_and_reference_for_new_ones():
    assert LSTM(2, 3).resolved_backend() == "native"
    assert LSTM(2, 3, backend="reference").resolved_backend() == "reference"

    class ScaledRNNCell(RNNCellBase):
        """A cell torch has no kernel for: h' = tanh(W x + U h) / 2."""

        def __init__(self, input_size, hidden_size):
            super().__init__(input_size, hidden_size)
            self.reset_parameters()

        def recurrence(self, xp_t, state):
            h = torch.tanh(torch.addmm(xp_t, state[0], self.weight_hh.t())) / 2
            return h, (h,)

    layer = Recurrent(lambda size, _: ScaledRNNCell(size, 4), 3, num_layers=2, bidirectional=True)
    assert layer.resolved_backend() == "reference"
    output, h_n = layer(torch.randn(5, 2, 3), lengths=torch.tensor([5, 3]))
    assert output.shape == (5, 2, 8) and h_n.shape == (4, 2, 4)
    assert output.abs().max() <= 0.5
    assert "weight_hh_l1_reverse" in layer.state_dict()
    layer.backend = "native"
    with pytest.raises(ValueError, match="backend: 'native' is not available for ScaledRNNCell"):
        layer(torch.randn(5, 2, 3))


def test_missing_state_follows_input_dtype_and_shapes_match_torch():
    layer = LSTM(3, 4, num_layers=2, bidirectional=True, batch_first=True, dtype=torch.float64)
    output, (h, c) = layer(torch.randn(2, 7, 3, dtype=torch.float64))
    assert output.shape == (2, 7, 8) and output.dtype == torch.float64
    assert h.shape == (4, 2, 4) and c.shape == (4, 2, 4)


def test_repr_mirrors_torch():
    assert repr(LSTM(10, 20, num_layers=2, batch_first=True)) == (
        "LSTM(10, 20, num_layers=2, batch_first=True)"
    )
    assert repr(RNN(3, 4, nonlinearity="relu", backend="reference")) == (
        "RNN(3, 4, backend='reference', nonlinearity='relu')"
    )


# -- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (
            lambda: RNN(3, 4, nonlinearity="sigmoid"),
            ValueError,
            "nonlinearity: expected 'tanh' or 'relu', got 'sigmoid'",
        ),
        (lambda: GRU(3, 0), ValueError, "hidden_size: expected an int >= 1, got 0"),
        (lambda: GRU(3, -2), ValueError, "hidden_size: expected an int >= 1, got -2"),
        (lambda: GRU(0, 4), ValueError, "input_size: expected an int >= 1, got 0"),
        (lambda: GRU(3, 4, num_layers=0), ValueError, "num_layers: expected an int >= 1, got 0"),
        (
            lambda: LSTM(3, 4, dropout=1.0),
            ValueError,
            "dropout: expected a float in [0, 1), got 1.0",
        ),
        (
            lambda: LSTM(3, 4, dropout=-0.1),
            ValueError,
            "dropout: expected a float in [0, 1), got -0.1",
        ),
        (
            lambda: LSTM(3, 4, proj_size=4),
            ValueError,
            "proj_size: expected less than hidden_size (4), got 4",
        ),
        (lambda: LSTM(3, 4, proj_size=-1), ValueError, "proj_size: expected an int >= 0, got -1"),
        (
            lambda: LSTM(3, 4, backend="cudnn"),
            ValueError,
            "backend: expected one of 'auto', 'native', 'reference', got 'cudnn'",
        ),
    ],
)
def test_bad_constructor_arguments(build, error, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(error) as info:
            build()
    assert str(info.value) == message


def _lstm(backend="native", batch_first=False):
    return LSTM(3, 4, num_layers=2, batch_first=batch_first, backend=backend)


@pytest.mark.parametrize("backend", ["reference", "native"])
@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (
            lambda m: m(torch.randn(5, 2, 3, 1)),
            ValueError,
            "input: expected a 2-D (unbatched) or 3-D (batched) tensor, got 4-D of shape (5, 2, 3, 1)",
        ),
        (
            lambda m: m(torch.randn(5)),
            ValueError,
            "input: expected a 2-D (unbatched) or 3-D (batched) tensor, got 1-D of shape (5,)",
        ),
        (
            lambda m: m(torch.randn(5, 2, 6)),
            ValueError,
            "input: expected 3 features (input_size) in the last dimension, got 6",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3).double()),
            TypeError,
            "input: expected dtype torch.float32 (the layer's parameters), got torch.float64",
        ),
        (
            lambda m: m(torch.ones(5, 2, 3, dtype=torch.long)),
            TypeError,
            "input: expected dtype torch.float32 (the layer's parameters), got torch.int64",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3), torch.zeros(2, 2, 4)),
            TypeError,
            "hx: expected a tuple of 2 tensors (h_0, c_0), got Tensor",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3), (torch.zeros(2, 3, 4), torch.zeros(2, 2, 4))),
            ValueError,
            "hx[0]: expected shape (2, 2, 4) (D * num_layers, N, H_out), got (2, 3, 4)",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3), (torch.zeros(2, 2, 4), torch.zeros(1, 2, 4))),
            ValueError,
            "hx[1]: expected shape (2, 2, 4) (D * num_layers, N, H_out), got (1, 2, 4)",
        ),
        (
            lambda m: m(torch.randn(5, 3), (torch.zeros(2, 1, 4), torch.zeros(2, 1, 4))),
            ValueError,
            "hx[0]: expected shape (2, 4) 2-D for unbatched input, got (2, 1, 4)",
        ),
        (
            lambda m: m(
                torch.randn(5, 2, 3), (torch.zeros(2, 2, 4).double(), torch.zeros(2, 2, 4))
            ),
            TypeError,
            "hx[0]: expected dtype torch.float32 (the input's), got torch.float64",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([[5, 2]])),
            ValueError,
            "lengths: expected a 1-D tensor, got 2-D of shape (1, 2)",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([6, 2])),
            ValueError,
            "lengths: expected every length <= 5 (the sequence length), got 6",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5, 0])),
            ValueError,
            "lengths: expected every length >= 1, got 0",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5, -1])),
            ValueError,
            "lengths: expected every length >= 1, got -1",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5, 2, 3])),
            ValueError,
            "lengths: expected 2 entries (the batch size), got 3",
        ),
        (
            lambda m: m(torch.randn(5, 2, 3), lengths=torch.tensor([5.0, 2.0])),
            TypeError,
            "lengths: expected an integer dtype, got torch.float32",
        ),
        (
            lambda m: m(torch.randn(5, 3), lengths=torch.tensor([5])),
            ValueError,
            "lengths: expected None with unbatched (2-D) input",
        ),
        (
            lambda m: m(torch.randn(0, 2, 3)),
            ValueError,
            "input: expected a sequence length >= 1, got 0",
        ),
    ],
)
def test_bad_forward_input(backend, call, error, message):
    with pytest.raises(error) as info:
        call(_lstm(backend))
    assert str(info.value) == message


def test_bad_hx_for_single_state_layers():
    layer = GRU(3, 4)
    with pytest.raises(TypeError, match=r"^hx: expected a Tensor, got tuple$"):
        layer(torch.randn(5, 2, 3), (torch.zeros(1, 2, 4),))
    with pytest.raises(ValueError, match=r"^hx: expected shape \(1, 2, 4\) .* got \(1, 3, 4\)$"):
        layer(torch.randn(5, 2, 3), torch.zeros(1, 3, 4))


def test_lengths_with_packed_input_is_refused():
    packed = nn.utils.rnn.pack_sequence([torch.randn(3, 3), torch.randn(2, 3)])
    with pytest.raises(ValueError, match="lengths: expected None with a PackedSequence input"):
        _lstm()(packed, lengths=torch.tensor([3, 2]))


@pytest.mark.parametrize("kind", list(LAYERS))
def test_reference_gradients_with_frozen_weights_match_native(kind):
    # Frozen recurrent weights take the per-step path (no deferred weight gradient): same input grads.
    cls, _, extra = LAYERS[kind]
    torch.manual_seed(0)
    reference = cls(3, 4, num_layers=2, bidirectional=True, backend="reference", **extra)
    native = cls(3, 4, num_layers=2, bidirectional=True, backend="native", **extra)
    native.load_state_dict(reference.state_dict())
    for name, parameter in [*reference.named_parameters(), *native.named_parameters()]:
        parameter.requires_grad_(not name.startswith("weight_hh"))
    x = torch.randn(5, 2, 3)
    grads = []
    for layer in (reference, native):
        xi = x.clone().requires_grad_()
        output, _ = layer(xi, lengths=torch.tensor([5, 2]))
        output.pow(2).sum().backward()
        grads.append((xi.grad, layer.weight_ih_l1_reverse.grad))
    for ours, theirs in zip(*grads):
        torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-4)


def test_reference_forward_without_backward_frees_the_graph():
    # The deferred W_hh gradient keeps each step's h; holding graph-attached tensors would form a
    # cycle through autograd's C++ graph that even the garbage collector cannot free.
    import weakref

    layer = LSTM(3, 4, num_layers=2, bidirectional=True, backend="reference")
    x = torch.randn(6, 2, 3, requires_grad=True)
    alive = weakref.ref(x)  # the graph holds x while it lives
    output, state = layer(x)
    del output, state, x
    assert alive() is None, "the autograd graph of a forward pass outlived its outputs"


def test_reference_backend_refuses_double_backward_clearly():
    layer = GRU(2, 3, backend="reference", dtype=torch.float64)
    output, _ = layer(torch.randn(4, 1, 2, dtype=torch.float64))
    (grad,) = torch.autograd.grad(output.sum(), layer.weight_hh_l0, create_graph=True)
    with pytest.raises(RuntimeError, match="differentiate twice"):
        grad.sum().backward()


# -- the cell registry and build_layer ---------------------------------------------------------


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("backend", ["reference", "auto"])
def test_build_layer_builds_every_registered_cell(cell, backend):
    layer = build_layer(cell, 3, 4, num_layers=2, bidirectional=True, dropout=0.1, backend=backend)
    assert isinstance(layer, Recurrent) and layer.batch_first and layer.dropout == 0.1
    output, state = layer(torch.randn(2, 5, 3), lengths=torch.tensor([5, 2]))  # (N, L, H_in)
    assert output.shape == (2, 5, 8)  # (N, L, D * H_out)
    for component in _states(state):
        assert component.shape[:2] == (4, 2)  # (D * num_layers, N, ...)
    assert _states(state)[0].shape == (4, 2, 4)


def test_build_layer_passes_dropout_and_nonlinearity_only_where_they_apply():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # one layer: no dropout passed on, so no torch.nn warning
        layer = build_layer("gru", 3, 4, dropout=0.5)
    assert layer.dropout == 0.0
    assert build_layer("rnn", 3, 4, nonlinearity="relu").nonlinearity == "relu"
    assert isinstance(build_layer("lstm", 3, 4, nonlinearity="tanh"), LSTM)
    with pytest.raises(ValueError) as info:
        build_layer("lstm", 3, 4, nonlinearity="relu")
    assert str(info.value) == (
        "nonlinearity: cell 'lstm' has no nonlinearity option; expected 'tanh' (the default), "
        "got 'relu'"
    )


def test_build_layer_unknown_cell_lists_the_registry():
    with pytest.raises(ValueError) as info:
        build_layer("foo", 3, 4)
    assert (
        str(info.value)
        == "cell: expected one of rnn, lstm, gru, lnlstm, lngru, indrnn, mingru, minlstm, got 'foo'"
    )


@pytest.fixture
def scratch_cell():
    """A cell name free before the test and removed from the registry after it."""
    name = "relu-elman"
    assert name not in CELLS
    yield name
    CELLS.pop(name, None)


def test_register_cell_makes_a_new_name_buildable_everywhere(scratch_cell):
    def builder(
        input_size, hidden_size, *, num_layers, batch_first, dropout, bidirectional, backend
    ):
        return Recurrent(
            lambda size, _: RNNCell(size, hidden_size, nonlinearity="relu"),
            input_size,
            num_layers,
            batch_first,
            dropout,
            bidirectional,
            backend=backend,
        )

    with pytest.raises(
        ValueError,
        match="cell: expected one of rnn, lstm, gru, lnlstm, lngru, indrnn, mingru, minlstm, got 'relu-elman'",
    ):
        build_layer(scratch_cell, 3, 4)
    # rnnkit 0.1's registry of layer builders still works, with a deprecation warning
    with pytest.warns(DeprecationWarning, match="registering a layer builder is deprecated"):
        assert register_cell(scratch_cell, builder) is builder
    assert register_cell(scratch_cell, builder) is builder  # the same builder again: a no-op
    with pytest.raises(
        ValueError, match="expected a cell name not yet registered, got 'relu-elman'"
    ):
        register_cell(scratch_cell, RNN)

    layer = build_layer(scratch_cell, 3, 4, num_layers=2, bidirectional=True)
    output, h_n = layer(torch.randn(2, 5, 3))
    assert output.shape == (2, 5, 8) and h_n.shape == (4, 2, 4)
    assert bool((output >= 0).all()), "the registered builder (ReLU cells) must be the one used"
    with pytest.raises(ValueError, match="cell 'relu-elman' has no nonlinearity option"):
        build_layer(scratch_cell, 3, 4, nonlinearity="relu")
    with pytest.raises(ValueError, match="got 'foo'") as info:
        build_layer("foo", 3, 4)
    assert "rnn, lstm, gru, lnlstm, lngru, indrnn, mingru, minlstm, relu-elman" in str(info.value)
    # the models read the same registry: the new name is a valid cell for them at once
    config = SequenceClassifierConfig(num_classes=2, input_size=3, cell=scratch_cell, hidden_size=4)
    assert SequenceClassifier(config)(torch.randn(2, 5, 3)).shape == (2, 2)


def test_register_cell_rejects_bad_arguments(scratch_cell):
    with pytest.raises(ValueError, match="name: expected a non-empty str, got ''"):
        register_cell("", RNN)
    with pytest.raises(TypeError, match="cell: expected a cell class .* or a callable returning"):
        register_cell(scratch_cell, 3)
    with pytest.raises(TypeError, match="got Linear, which has no project_input, recurrence"):
        register_cell(scratch_cell, nn.Linear)  # a module class without the cell protocol
    with pytest.warns(DeprecationWarning):
        register_cell(scratch_cell, lambda *args, **kwargs: nn.Linear(3, 4))
    with pytest.raises(TypeError, match="expected its builder to return a Recurrent, got Linear"):
        build_layer(scratch_cell, 3, 4)


@pytest.mark.parametrize("cls", [LSTM, GRU])
def test_the_onednn_recurrent_product_matches_torch_mm(cls, monkeypatch):
    from rnnkit.nn.cells import packed as cells_module

    if not cells_module.PackedWeight._works():
        pytest.skip("this PyTorch build has no oneDNN linear operators")
    torch.manual_seed(0)
    layer = cls(5, 16, num_layers=2, bidirectional=True, backend="reference")
    x = torch.randn(9, 4, 5, requires_grad=True)
    monkeypatch.setattr(cells_module.PackedWeight, "min_work", 0)  # small sizes use it too
    calls = []
    product = cells_module._PackedProduct.apply
    monkeypatch.setattr(
        cells_module._PackedProduct, "apply", lambda *a: calls.append(1) or product(*a)
    )

    def run():
        output, _ = layer(x, lengths=torch.tensor([9, 3, 7, 1]))
        (output * torch.linspace(-1, 1, output.shape[-1])).sum().backward()
        grads = [x.grad.clone(), *(p.grad.clone() for p in layer.parameters())]
        x.grad = None
        layer.zero_grad(set_to_none=True)
        return output.detach(), grads

    packed_output, packed_grads = run()
    assert len(calls) == 9 * 4  # every step of both layers and directions went through oneDNN
    monkeypatch.setattr(cells_module.PackedWeight, "usable", False)
    output, grads = run()
    assert len(calls) == 9 * 4  # and none now: torch.mm
    torch.testing.assert_close(packed_output, output, atol=1e-5, rtol=1e-5)
    for packed, plain in zip(packed_grads, grads):
        torch.testing.assert_close(packed, plain, atol=1e-5, rtol=1e-5)
