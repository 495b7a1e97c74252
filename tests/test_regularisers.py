"""The recurrent regularisers of rnnkit.nn (recurrent_dropout, weight_drop, zoneout): their masks,
their gradients, evaluation mode, both backends, padding, and their options in models and tasks.

Where a test needs the masks a layer drew, it wraps the layer's ``_draw_mask`` (every mask of the
regularisers comes from there): :class:`Masks` records them, or replays recorded ones.
"""

from __future__ import annotations

import json
import re

import pytest
import torch
from cli_helpers import assert_one_line_error, run
from parity_task import ParityTask
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnkit.models import (
    Forecaster,
    ForecasterConfig,
    LanguageModel,
    LanguageModelConfig,
    SequenceClassifier,
    SequenceClassifierConfig,
    SequenceTagger,
    SequenceTaggerConfig,
)
from rnnkit.nn import (
    CELLS,
    LSTM,
    REGULARISERS,
    RNN,
    MinGRU,
    MinLSTM,
    Recurrent,
    build_layer,
    register_cell,
)
from rnnkit.nn.cells import RNNCellBase
from rnnkit.tasks import TASKS, register
from rnnkit.training.checkpoint import load_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

BUILT_IN = ["rnn", "lstm", "gru", "lnlstm", "lngru", "indrnn"]
NATIVE = ["rnn", "lstm", "gru"]
OPTIONS = ["recurrent_dropout", "weight_drop", "zoneout"]
ALL_ON = {"recurrent_dropout": 0.3, "weight_drop": 0.4, "zoneout": 0.2}


def layer_of(cell: str, seed: int = 0, **kwargs) -> Recurrent:
    """A time-first layer of ``cell`` (input 3, hidden 5) with weights drawn from ``seed``."""
    torch.manual_seed(seed)
    return build_layer(cell, 3, 5, batch_first=False, **kwargs)


class Masks:
    """Wraps ``layer._draw_mask``: records every mask it draws, or replays ``replay`` in order,
    each cut to the shape asked for by ``cut(recorded, shape)``."""

    def __init__(self, layer: Recurrent, replay=None, cut=None) -> None:
        self.drawn: list[torch.Tensor] = []
        self.replay, self.cut, self.draw = replay, cut, layer._draw_mask
        layer._draw_mask = self

    def __call__(self, shape, probability, like):
        if self.replay is None:
            mask = self.draw(shape, probability, like)
        else:
            mask = self.cut(self.replay[len(self.drawn)], tuple(shape))
            assert tuple(mask.shape) == tuple(shape)
        self.drawn.append(mask)
        return mask


def as_tuple(state) -> tuple[torch.Tensor, ...]:
    """A layer's returned state as a tuple: ``(h_n,)`` or ``(h_n, c_n)``."""
    return state if isinstance(state, tuple) else (state,)


def grads(layer: Recurrent) -> dict[str, torch.Tensor]:
    return {name: p.grad.clone() for name, p in layer.named_parameters()}


def plain_steps(cell, x, state, feedback=None, weight=None, zone=None, zoneout=0.0):
    """An independent per-step loop over ``x`` (L, N, H_in), written without the layer's runner:
    the recurrent product by plain autograd, ``h`` times ``feedback`` where it enters it,
    ``weight`` in place of ``weight_hh``, zoneout with the masks ``zone`` (L-indexed, one per state
    component) or, with ``zone=None`` and ``zoneout > 0``, its expectation. Returns (outputs, state)."""
    weight = cell.weight_hh if weight is None else weight
    outputs = []
    for t in range(x.shape[0]):
        xp_t = cell.project_input(x[t])
        h = state[0] if feedback is None else state[0] * feedback
        if cell.weight_hh.dim() == 1:  # IndRNN: h' = sigma(W x + b + u * h)
            sigma = torch.relu if cell.nonlinearity == "relu" else torch.tanh
            new = (sigma(xp_t + weight * h),)
        else:
            _, new = cell.step(xp_t, h @ weight.t(), state)
        if zone is not None:
            new = tuple(
                m[t].to(s.dtype) * s + (1 - m[t].to(s.dtype)) * n
                for m, s, n in zip(zone, state, new)
            )
        elif zoneout:
            new = tuple(zoneout * s + (1 - zoneout) * n for s, n in zip(state, new))
        state = new
        outputs.append(state[0])
    return torch.stack(outputs), state


# -- validation, repr, backends ----------------------------------------------------------------------


@pytest.mark.parametrize("name", OPTIONS)
@pytest.mark.parametrize("cell", BUILT_IN)
def test_a_probability_outside_0_1_is_refused_with_the_option_named(cell, name):
    for value in (1.0, -0.1):
        message = f"{name}: expected a float in [0, 1), got {value}"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            layer_of(cell, **{name: value})
    message = f"{name}: expected a float in [0, 1), got str 'x'"
    with pytest.raises(TypeError, match=f"^{re.escape(message)}$"):
        layer_of(cell, **{name: "x"})
    layer = layer_of(cell)
    with pytest.raises(ValueError, match=f"^{re.escape(name)}: expected a float in"):
        setattr(layer, name, 1.0)
    assert getattr(layer, name) == 0.0


def test_repr_shows_the_options_in_use_only():
    assert repr(layer_of("lstm")) == "LSTM(3, 5)"
    assert repr(layer_of("gru", zoneout=0.1, weight_drop=0.25)) == (
        "GRU(3, 5, weight_drop=0.25, zoneout=0.1)"
    )
    assert repr(layer_of("indrnn", recurrent_dropout=0.5)) == (
        "IndRNN(3, 5, nonlinearity='tanh', recurrent_dropout=0.5)"
    )


@pytest.mark.parametrize("name", ["recurrent_dropout", "zoneout"])
def test_backend_native_refuses_recurrent_dropout_and_zoneout_when_built_and_set(name):
    message = (
        f"backend: 'native' cannot run {name}=0.1 (PyTorch's fused kernels have no such option); "
        "expected 'auto' or 'reference'"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        LSTM(3, 5, backend="native", **{name: 0.1})
    layer = LSTM(3, 5, **{name: 0.1})
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        layer.backend = "native"
    assert layer.backend == "auto"
    native = LSTM(3, 5, backend="native")
    with pytest.raises(ValueError, match=f"^{name}: backend 'native' cannot run {name}=0.1"):
        setattr(native, name, 0.1)
    assert getattr(native, name) == 0.0


@pytest.mark.parametrize("cell", NATIVE)
def test_auto_picks_the_backend_the_options_allow(cell):
    assert layer_of(cell, weight_drop=0.5).resolved_backend() == "native"
    assert LSTM(3, 5, backend="native", weight_drop=0.5).resolved_backend() == "native"
    dropped = layer_of(cell, recurrent_dropout=0.5)
    assert dropped.resolved_backend() == "reference"
    assert dropped.eval().resolved_backend() == "native"  # the identity in evaluation
    zoned = layer_of(cell, zoneout=0.5)
    assert zoned.resolved_backend() == "reference"
    assert zoned.eval().resolved_backend() == "reference"  # the expectation still acts


def test_weight_drop_refuses_a_cell_without_weight_hh():
    class InputOnlyCell(RNNCellBase):  # h' = tanh(W x + b): no recurrent weight at all
        def __init__(self, input_size: int, hidden_size: int) -> None:
            super().__init__(input_size, hidden_size)
            self.register_parameter("weight_hh", None)
            self.reset_parameters()

        def recurrence(self, xp_t, state):
            h = torch.tanh(xp_t)
            return h, (h,)

    message = (
        "weight_drop: InputOnlyCell has no recurrent weight parameter 'weight_hh' to drop; "
        "expected 0.0, got 0.1"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Recurrent(lambda size, _: InputOnlyCell(size, 4), 3, weight_drop=0.1)
    layer = Recurrent(lambda size, _: InputOnlyCell(size, 4), 3, zoneout=0.1)
    assert layer(torch.randn(4, 2, 3))[0].shape == (4, 2, 4)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        layer.weight_drop = 0.1


def test_to_torch_refuses_the_options_and_from_torch_is_unaffected():
    layer = layer_of("lstm", zoneout=0.1)
    message = (
        "zoneout: torch.nn.LSTM has no such option, so to_torch() expected zoneout=0.0, got 0.1 "
        "(set layer.zoneout = 0.0 to convert the weights alone)"
    )
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        layer.to_torch()
    layer.zoneout = 0.0
    module = layer.to_torch()
    back = LSTM.from_torch(module)
    assert (back.recurrent_dropout, back.weight_drop, back.zoneout) == (0.0, 0.0, 0.0)


def test_build_layer_passes_the_options_and_spares_third_party_builders():
    layer = build_layer("lngru", 3, 5, recurrent_dropout=0.1, weight_drop=0.2, zoneout=0.3)
    assert (layer.recurrent_dropout, layer.weight_drop, layer.zoneout) == (0.1, 0.2, 0.3)

    def plain(input_size, hidden_size, *, num_layers, batch_first, dropout, bidirectional, backend):
        return RNN(input_size, hidden_size, num_layers, batch_first=batch_first, backend=backend)

    with pytest.warns(DeprecationWarning):
        register_cell("plain-rnn", plain)
    try:
        assert isinstance(build_layer("plain-rnn", 3, 5, zoneout=0.0), RNN)
        message = "zoneout: cell 'plain-rnn' has no zoneout option; expected 0.0, got 0.1"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            build_layer("plain-rnn", 3, 5, zoneout=0.1)
    finally:
        CELLS.pop("plain-rnn")


# -- p = 0 and evaluation mode ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["auto", "reference"])
@pytest.mark.parametrize("cell", BUILT_IN)
def test_p_zero_is_the_option_absent_bit_for_bit(cell, backend):
    settings = {"num_layers": 2, "bidirectional": True, "backend": backend}
    absent = layer_of(cell, **settings)
    zero = layer_of(cell, **settings, recurrent_dropout=0.0, weight_drop=0.0, zoneout=0.0)
    x = torch.randn(6, 3, 3)
    lengths = torch.tensor([6, 2, 4])
    results = []
    for layer in (absent, zero):
        torch.manual_seed(1)
        out, state = layer(x, lengths=lengths)
        out.square().sum().backward()
        results.append((out, state, grads(layer)))
    (out_a, state_a, grads_a), (out_z, state_z, grads_z) = results
    assert torch.equal(out_a, out_z)
    for a, z in zip(as_tuple(state_a), as_tuple(state_z), strict=True):
        assert torch.equal(a, z)
    assert all(torch.equal(grads_a[name], grads_z[name]) for name in grads_a)


@pytest.mark.parametrize("cell", BUILT_IN)
def test_dropout_kinds_are_off_in_evaluation(cell):
    absent = layer_of(cell, num_layers=2, bidirectional=True).eval()
    dropped = layer_of(
        cell, num_layers=2, bidirectional=True, recurrent_dropout=0.5, weight_drop=0.5
    ).eval()
    x = torch.randn(5, 2, 3)
    expected, _ = absent(x)
    first, _ = dropped(x)
    assert torch.equal(first, expected)
    assert torch.equal(dropped(x)[0], first)


# -- recurrent dropout ---------------------------------------------------------------------------


def test_recurrent_dropout_mask_is_the_same_at_every_step_and_differs_between_sequences():
    # h_t = relu(I (m * h_{t-1}) / (1 - p)) from h_0 = 1 with no input: h_t = (m / (1 - p))^t.
    # One mask for all steps: a unit is 0 at every step or (1 / (1 - p))^t; a mask drawn per step
    # would zero more units as t grows.
    p = 0.5
    layer = RNN(1, 16, nonlinearity="relu", bias=False, recurrent_dropout=p)
    with torch.no_grad():
        layer.weight_ih_l0.zero_()
        layer.weight_hh_l0.copy_(torch.eye(16))
    x, h0 = torch.zeros(6, 32, 1), torch.ones(1, 32, 16)
    out, _ = layer(x, h0)  # (L, N, H)
    kept = out[0] > 0  # (N, H)
    for t in range(6):
        expected = kept * (1 / (1 - p)) ** (t + 1)
        torch.testing.assert_close(out[t], expected.float())
    assert 0 < kept.float().mean() < 1
    assert len({tuple(row.tolist()) for row in kept}) > 1  # sequences get masks of their own
    again, _ = layer(x, h0)
    assert not torch.equal(again[0] > 0, kept)  # a new mask at each forward
    assert torch.equal(layer.eval()(x, h0)[0], torch.ones(6, 32, 16))  # off in evaluation


@pytest.mark.parametrize("cell", BUILT_IN)
def test_recurrent_dropout_equals_a_per_step_loop_with_the_same_mask(cell):
    # Single precision and float64 of the same computation: the mask multiplies h where it enters
    # W_hh h (u * h for IndRNN), and the state carried on (a GRU's z * h, an LSTM's c) is undropped.
    p = 0.4
    layer = layer_of(cell, recurrent_dropout=p).double()
    masks = Masks(layer)
    x = torch.randn(7, 4, 3, dtype=torch.float64)
    out, _ = layer(x)
    out.square().sum().backward()
    (keep,) = masks.drawn
    assert keep.shape == (4, 5)
    feedback = keep.double() / (1 - p)
    layer_grads = grads(layer)
    layer.zero_grad()
    cell_ = layer.cells[0]
    expected, _ = plain_steps(cell_, x, cell_.init_state(x, 4), feedback=feedback)
    expected.square().sum().backward()
    torch.testing.assert_close(out, expected)
    for name, parameter in layer.named_parameters():
        torch.testing.assert_close(layer_grads[name], parameter.grad)


# -- weight drop ---------------------------------------------------------------------------------


def test_weight_drop_draws_one_mask_per_layer_and_direction_per_forward():
    layer = layer_of("lstm", num_layers=2, bidirectional=True, weight_drop=0.5)
    masks = Masks(layer)
    layer(torch.randn(4, 2, 3))
    assert [tuple(m.shape) for m in masks.drawn] == [(20, 5)] * 4
    layer(torch.randn(4, 2, 3))
    assert len(masks.drawn) == 8
    assert not torch.equal(masks.drawn[0], masks.drawn[4])  # a new mask at each forward
    assert torch.equal(layer.weight_hh_l0, layer.cells[0].weight_hh)  # the parameter is back


@pytest.mark.parametrize("backend", ["native", "reference"])
@pytest.mark.parametrize("cell", BUILT_IN)
def test_weight_drop_gradient_reaches_weight_hh_as_in_a_hand_written_loop(cell, backend):
    if backend == "native" and cell not in NATIVE:
        pytest.skip("no native kernel")
    p = 0.5
    layer = layer_of(cell, weight_drop=p, backend=backend).double()
    masks = Masks(layer)
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    out, _ = layer(x)
    out.square().sum().backward()
    (keep,) = masks.drawn
    layer_grads = grads(layer)
    assert layer_grads["weight_hh_l0"][~keep].abs().max() == 0  # dropped weights learn nothing
    assert layer_grads["weight_hh_l0"][keep].abs().min() > 0
    layer.zero_grad()
    cell_ = layer.cells[0]
    weight = cell_.weight_hh * keep.double() / (1 - p)  # the same dropped weight at every step
    expected, _ = plain_steps(cell_, x, cell_.init_state(x, 3), weight=weight)
    expected.square().sum().backward()
    torch.testing.assert_close(out, expected)
    for name, parameter in layer.named_parameters():
        torch.testing.assert_close(layer_grads[name], parameter.grad)


@pytest.mark.parametrize("cell", NATIVE)
def test_weight_drop_native_equals_reference_with_the_same_seed(cell):
    settings = {"num_layers": 2, "bidirectional": True, "weight_drop": 0.3}
    x = torch.randn(5, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 4])
    results = []
    for backend in ("native", "reference"):
        layer = layer_of(cell, backend=backend, **settings).double()
        torch.manual_seed(7)
        out, _ = layer(x, lengths=lengths)
        out.square().sum().backward()
        results.append((out, grads(layer)))
    (native, native_grads), (reference, reference_grads) = results
    torch.testing.assert_close(native, reference)
    for name in native_grads:
        torch.testing.assert_close(native_grads[name], reference_grads[name])


# -- zoneout ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell", BUILT_IN)
def test_zoneout_in_evaluation_is_the_expectation_step_by_step(cell):
    layer = layer_of(cell, zoneout=0.3).double().eval()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    h0 = tuple(torch.randn(1, 2, size, dtype=torch.float64) for size in layer.cells[0].state_sizes)
    out, final = layer(x, h0 if len(h0) > 1 else h0[0])
    cell_ = layer.cells[0]
    expected, state = plain_steps(cell_, x, tuple(h[0] for h in h0), zoneout=0.3)
    torch.testing.assert_close(out, expected)
    final = as_tuple(final)
    for got, want in zip(final, state):
        torch.testing.assert_close(got[0], want)
    plain, _ = layer_of(cell).double().eval()(x, h0 if len(h0) > 1 else h0[0])
    assert not torch.allclose(out, plain)  # the expectation does act


@pytest.mark.parametrize("cell", BUILT_IN)
def test_zoneout_in_training_keeps_exactly_the_masked_units(cell):
    layer = layer_of(cell, zoneout=0.4).double()
    masks = Masks(layer)
    x = torch.randn(6, 4, 3, dtype=torch.float64)
    out, final = layer(x)
    cell_ = layer.cells[0]
    assert [tuple(m.shape) for m in masks.drawn] == [(6, 4, s) for s in cell_.state_sizes]
    zone_h = masks.drawn[0]
    assert not torch.equal(zone_h[0], zone_h[1])  # a fresh mask at every step
    previous = torch.cat([torch.zeros(1, 4, 5, dtype=torch.float64), out[:-1]])
    assert torch.equal(out[zone_h], previous[zone_h])  # kept units are exactly h_{t-1}
    expected, state = plain_steps(cell_, x, cell_.init_state(x, 4), zone=masks.drawn)
    torch.testing.assert_close(out, expected)
    final = as_tuple(final)
    for got, want in zip(final, state):  # c too, for the LSTMs
        torch.testing.assert_close(got[0], want)


# -- with lengths, packing, initial states, unbatched input -----------------------------------------


def cut_for(n: int, length: int):
    """How a mask drawn for the padded batch applies to its sequence ``n`` of ``length`` alone:
    weight masks as they are, feedback masks (N, H) row n, zoneout masks (L, N, size) its steps."""

    def cut(mask: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
        if tuple(mask.shape) == shape:
            return mask
        if len(shape) == 2:
            return mask[n : n + 1]
        return mask[:length, n : n + 1]

    return cut


@pytest.mark.parametrize("cell", BUILT_IN)
def test_padded_with_lengths_equals_each_sequence_alone_given_the_same_masks(cell):
    # What this proves: with every option on, in training, two layers both ways from an initial
    # state, the padded batch gives each sequence what it gets alone when it is given the same
    # masks (the rows and steps of the batch's masks that are its own): padding changes nothing
    # else. (A sequence run alone draws masks of its own, so without replaying them it differs.)
    layer = layer_of(cell, num_layers=2, bidirectional=True, **ALL_ON).double()
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    lengths = [6, 2, 4]
    sizes = layer.cells[0].state_sizes
    h0 = tuple(torch.randn(4, 3, size, dtype=torch.float64) for size in sizes)
    recorded = Masks(layer)
    out, final = layer(x, h0 if len(sizes) > 1 else h0[0], torch.tensor(lengths))
    final = as_tuple(final)
    assert all(out[length:, n].abs().max() == 0 for n, length in enumerate(lengths) if length < 6)
    for n, length in enumerate(lengths):
        Masks(layer, replay=recorded.drawn, cut=cut_for(n, length))
        start = tuple(h[:, n : n + 1] for h in h0)
        alone, alone_final = layer(x[:length, n : n + 1], start if len(sizes) > 1 else start[0])
        alone_final = as_tuple(alone_final)
        torch.testing.assert_close(out[:length, n : n + 1], alone)
        for got, want in zip(final, alone_final):
            torch.testing.assert_close(got[:, n : n + 1], want)


@pytest.mark.parametrize("cell", ["lstm", "indrnn"])
def test_packed_and_unbatched_inputs_draw_the_masks_of_padded_and_batched_ones(cell):
    layer = layer_of(cell, num_layers=2, bidirectional=True, **ALL_ON)
    x = torch.randn(6, 3, 3)
    lengths = torch.tensor([6, 4, 2])  # sorted: the packed batch keeps its order
    torch.manual_seed(3)
    padded, padded_final = layer(x, lengths=lengths)
    torch.manual_seed(3)
    packed, packed_final = layer(pack_padded_sequence(x, lengths))
    torch.testing.assert_close(pad_packed_sequence(packed, total_length=6)[0], padded)
    torch.testing.assert_close(packed_final, padded_final)
    torch.manual_seed(4)
    unbatched, _ = layer(x[:, 0])
    torch.manual_seed(4)
    batched, _ = layer(x[:, :1])
    torch.testing.assert_close(unbatched, batched[:, 0])


# -- models and the command line -------------------------------------------------------------------


def model_configs(**options):
    return [
        (SequenceClassifier, SequenceClassifierConfig(num_classes=2, input_size=3, **options)),
        (SequenceTagger, SequenceTaggerConfig(vocab_size=5, num_tags=3, **options)),
        (Forecaster, ForecasterConfig(input_size=2, **options)),
        (LanguageModel, LanguageModelConfig(vocab_size=7, hidden_size=8, **options)),
    ]


def test_every_model_config_takes_checks_and_passes_the_options():
    for model_class, config in model_configs(**ALL_ON):
        layer = model_class(config).rnn
        assert (layer.recurrent_dropout, layer.weight_drop, layer.zoneout) == (0.3, 0.4, 0.2)
        old = {k: v for k, v in vars(config).items() if k not in OPTIONS}  # an older checkpoint
        assert type(config).from_dict(old).zoneout == 0.0
    for name in OPTIONS:
        message = f"{name}: expected a float in [0, 1), got 1.5"
        with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
            model_configs(**{name: 1.5})


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_generation_steps_use_zoneouts_expectation_as_the_layer_does(cell):
    torch.manual_seed(0)
    model = LanguageModel(
        LanguageModelConfig(vocab_size=11, cell=cell, hidden_size=8, num_layers=2, zoneout=0.3)
    ).eval()
    ids = torch.randint(11, (2, 7))
    full, _ = model(ids)
    logits, state = model(ids[:, :1])
    states, stepped = model._split_state(state), [logits[:, -1]]
    for t in range(1, 7):
        out, states = model.step(ids[:, t], states)
        stepped.append(out)
    torch.testing.assert_close(torch.stack(stepped, 1), full, rtol=1e-5, atol=1e-5)


def test_a_probability_of_1_5_on_the_command_line_is_one_line_and_writes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run(capsys, "train", "synthetic", "--recurrent-dropout", 1.5, "--out", out)
    assert_one_line_error(code, err, "--recurrent-dropout: expected a value in [0, 1), got 1.5")
    assert not out.exists()


@pytest.fixture
def parity_registered():
    register(ParityTask())
    yield
    TASKS.pop("parity", None)


@pytest.mark.parametrize("name", [*(name for name in TASKS if name != "parity"), "parity"])
def test_every_task_trains_with_the_options_and_saves_them(
    name, tmp_path, capsys, parity_registered
):
    found = TASKS[name].example(tmp_path)
    config = tmp_path / "example.json"
    config.write_text(json.dumps({**found.settings}), encoding="utf-8")
    out = tmp_path / "run"
    flags = ["--recurrent-dropout", 0.25, "--weight-drop", 0.5, "--zoneout", 0.125]
    argv = ["train", name, "--config", config, "--out", out, "--steps", 2, "--cell", "lstm"]
    code, _, err = run(capsys, *argv, *flags)
    assert code == 0, err
    last = load_checkpoint(out / "last.pt")
    saved = {"recurrent_dropout": 0.25, "weight_drop": 0.5, "zoneout": 0.125}
    assert {k: last["task_state"]["config"]["model"][k] for k in OPTIONS} == saved
    assert {k: last["model_config"][k] for k in OPTIONS} == saved
    assert all(torch.isfinite(p).all() for p in last["model_state"].values())


@pytest.mark.parametrize("name", REGULARISERS)
@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
def test_the_scan_cells_refuse_the_regularisers_saying_why(cls, name):
    with pytest.raises(ValueError) as info:
        cls(3, 4, **{name: 0.1})
    assert str(info.value) == (
        f"{name}: {cls.__name__} cannot use it (its gates see only the input, there is no "
        "recurrent weight, and a sequence runs as one scan); expected 0.0, got 0.1"
    )
    assert isinstance(cls(3, 4, **{name: 0.0}), cls)  # 0 is the option absent


def test_a_scan_cell_with_zoneout_on_the_command_line_is_one_line(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["train", "synthetic", "--task", "adding", "--cell", "minlstm", "--zoneout", "0.1"]
    code, printed, err = run(capsys, *argv, "--out", out)
    assert code == 2 and printed == "" and not out.exists()
    assert err == (
        "rnnkit: error: zoneout: MinLSTM cannot use it (its gates see only the input, there is no "
        "recurrent weight, and a sequence runs as one scan); expected 0.0, got 0.1\n"
    )
