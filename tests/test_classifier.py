"""SequenceClassifier: parameter count, padding invariance, readouts, config round trip, errors."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict

import pytest
import torch

from rnnkit.config import ConfigError
from rnnkit.models.classifier import SequenceClassifier, SequenceClassifierConfig

pytestmark = pytest.mark.usefixtures("one_thread")


def test_mean_sign_model_has_13314_parameters():
    config = SequenceClassifierConfig(
        num_classes=2, input_size=10, cell="rnn", nonlinearity="tanh", hidden_size=64, num_layers=2
    )
    model = SequenceClassifier(config)
    assert sum(p.numel() for p in model.parameters()) == 13_314
    assert model(torch.randn(4, 20, 10)).shape == (4, 2)


@pytest.mark.parametrize("pooling", ["last", "mean", "max"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_alone_equals_inside_padded_batch(pooling, cell):
    torch.manual_seed(0)
    config = SequenceClassifierConfig(
        num_classes=3,
        vocab_size=30,
        embedding_dim=8,
        hidden_size=6,
        num_layers=2,
        bidirectional=True,
        cell=cell,
        pooling=pooling,
        dropout=0.3,
    )
    model = SequenceClassifier(config).eval()
    lengths = torch.tensor([9, 4, 1, 6])
    x = torch.randint(2, 30, (4, 9))
    for n, length in enumerate(lengths.tolist()):
        x[n, length:] = 0  # padding id
    batch_logits = model(x, lengths)
    for n, length in enumerate(lengths.tolist()):
        alone = model(x[n : n + 1, :length])
        torch.testing.assert_close(alone[0], batch_logits[n], atol=1e-5, rtol=1e-5)
        assert alone.argmax(-1).item() == batch_logits[n].argmax().item()


def test_padding_content_does_not_matter_for_continuous_inputs():
    torch.manual_seed(1)
    config = SequenceClassifierConfig(num_classes=2, input_size=3, hidden_size=5, pooling="max")
    model = SequenceClassifier(config).eval()
    x = torch.randn(2, 6, 3)
    lengths = torch.tensor([6, 2])
    y = x.clone()
    y[1, 2:] = 100.0  # garbage in the padding
    torch.testing.assert_close(model(x, lengths), model(y, lengths))


def test_last_readout_is_final_state_of_both_directions():
    torch.manual_seed(2)
    config = SequenceClassifierConfig(
        num_classes=2, input_size=3, hidden_size=4, cell="gru", bidirectional=True, pooling="last"
    )
    model = SequenceClassifier(config).eval()
    x = torch.randn(1, 5, 3)
    outputs, _ = model.rnn(x)  # (1, 5, 8)
    expected = torch.cat([outputs[0, -1, :4], outputs[0, 0, 4:]])  # forward end, backward start
    torch.testing.assert_close(model.features(x)[0], expected)


def test_config_round_trip_rebuilds_same_model():
    config = SequenceClassifierConfig(num_classes=4, vocab_size=12, embedding_dim=5, hidden_size=3)
    model = SequenceClassifier(config)
    again = SequenceClassifier.from_config_dict(asdict(config))
    again.load_state_dict(model.state_dict())
    x = torch.randint(0, 12, (2, 3))
    torch.testing.assert_close(model.eval()(x), again.eval()(x))
    probs = model.predict_proba(x)
    torch.testing.assert_close(probs.sum(-1), torch.ones(2))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_classes": 1, "vocab_size": 5}, "num_classes must be >= 2, got 1"),
        ({"num_classes": 2}, "continuous inputs (vocab_size=0) need input_size >= 1, got 0"),
        ({"num_classes": 2, "vocab_size": 5, "pooling": "sum"}, "pooling must be one of"),
        (
            {"num_classes": 2, "vocab_size": 5, "cell": "tcn"},
            "cell: expected one of rnn, lstm, gru, lnlstm, lngru, indrnn, mingru, minlstm, got 'tcn'",
        ),
        ({"num_classes": 2, "vocab_size": 5, "dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
    ],
)
def test_bad_config(kwargs, message):
    with pytest.raises(ValueError) as info:
        SequenceClassifierConfig(**kwargs)
    assert message in str(info.value)


def test_bad_inputs():
    model = SequenceClassifier(SequenceClassifierConfig(num_classes=2, input_size=3, hidden_size=4))
    with pytest.raises(
        ValueError, match=r"expected features of shape \(N, L, 3\), got \(2, 5, 4\)"
    ):
        model(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=r"lengths must be in \[1, 5\], got min 0 and max 5"):
        model(torch.randn(2, 5, 3), torch.tensor([5, 0]))


def test_config_from_dict_refuses_an_unknown_key():
    data = asdict(SequenceClassifierConfig(num_classes=2, input_size=3))
    assert SequenceClassifierConfig.from_dict(data) == SequenceClassifierConfig(**data)
    with pytest.raises(ConfigError, match="colour: unknown key; accepted: num_classes, ") as info:
        SequenceClassifierConfig.from_dict({**data, "colour": 1})
    assert info.value.key == "colour"


@pytest.mark.parametrize("pooling", ["mean", "max"])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [True, False])
def test_padded_runs_equal_packing_and_single_examples(pooling, cell, bidirectional):
    """One layer with pooled outputs runs the padded batch (no packing): the same logits as the
    packed run and as each text alone, to 1e-6."""
    torch.manual_seed(3)
    config = SequenceClassifierConfig(
        num_classes=3, vocab_size=30, embedding_dim=8, hidden_size=6, cell=cell,
        bidirectional=bidirectional, pooling=pooling,
    )  # fmt: skip
    model = SequenceClassifier(config).eval()
    packed = SequenceClassifier(dataclasses.replace(config, padded_runs=False)).eval()
    packed.load_state_dict(model.state_dict())
    lengths = torch.tensor([9, 4, 1, 6])
    x = torch.randint(2, 30, (4, 9))
    for n, length in enumerate(lengths.tolist()):
        x[n, length:] = 0
    batch = model(x, lengths)
    torch.testing.assert_close(batch, packed(x, lengths), atol=1e-6, rtol=0)
    for n, length in enumerate(lengths.tolist()):
        torch.testing.assert_close(model(x[n : n + 1, :length])[0], batch[n], atol=1e-6, rtol=0)
