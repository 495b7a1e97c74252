"""rnnkit.models.recurrent: one config of the recurrent layer, inherited by every model config,
and IndRNN's nonlinearity (relu for new models, tanh for models stored before it was stored)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import asdict
from pathlib import Path

import pytest

import rnnkit
from rnnkit.models import (
    ForecasterConfig,
    LanguageModel,
    LanguageModelConfig,
    RecurrentConfig,
    SequenceClassifier,
    SequenceClassifierConfig,
    SequenceTaggerConfig,
)
from rnnkit.tasks import options as o
from rnnkit.tasks.classify import ClassifyModel
from rnnkit.tasks.forecast import ForecastModel
from rnnkit.tasks.lm import LMModel
from rnnkit.tasks.synthetic import SyntheticModel
from rnnkit.tasks.tag import TagModel
from rnnkit.training.checkpoint import load_checkpoint

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "v0_1"
MODEL_CONFIGS = [
    (SequenceClassifierConfig, {"num_classes": 2, "input_size": 3}),
    (SequenceTaggerConfig, {"vocab_size": 5, "num_tags": 3}),
    (LanguageModelConfig, {"vocab_size": 5}),
    (ForecasterConfig, {}),
]


@pytest.mark.parametrize(("cls", "sizes"), MODEL_CONFIGS)
def test_every_model_config_is_a_recurrent_config_with_flat_keys(cls, sizes):
    config = cls(**sizes, cell="gru", hidden_size=6, zoneout=0.1)
    assert isinstance(config, RecurrentConfig)
    stored = asdict(config)
    assert {f.name for f in dataclasses.fields(RecurrentConfig)} <= set(stored)
    assert (stored["cell"], stored["hidden_size"], stored["zoneout"]) == ("gru", 6, 0.1)
    assert cls.from_dict(stored) == config


@pytest.mark.parametrize(("cls", "sizes"), MODEL_CONFIGS)
@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"cell": "tcn"}, "cell: expected one of rnn, lstm, gru"),
        ({"hidden_size": 0}, "hidden_size must be >= 1, got 0"),
        ({"num_layers": 0}, "num_layers must be >= 1, got 0"),
        ({"dropout": 1.0}, "dropout must be in [0, 1), got 1.0"),
        ({"zoneout": -0.1}, "zoneout: expected a float in [0, 1), got -0.1"),
        ({"weight_drop": True}, "weight_drop: expected a float in [0, 1), got True"),
        ({"nonlinearity": "gelu"}, "nonlinearity must be 'tanh' or 'relu', got 'gelu'"),
    ],
)
def test_every_model_config_checks_the_recurrent_settings_the_same_way(
    cls, sizes, settings, message
):
    with pytest.raises(ValueError) as info:
        cls(**sizes, **settings)
    assert message in str(info.value)


def test_one_directional_models_refuse_bidirectional():
    with pytest.raises(ValueError, match="a language model reads left to right"):
        LanguageModelConfig(vocab_size=5, bidirectional=True)
    with pytest.raises(ValueError, match="a forecaster reads the window forwards"):
        ForecasterConfig(bidirectional=True)


def test_defaults_of_each_model():
    assert SequenceTaggerConfig(vocab_size=5, num_tags=3).bidirectional is True
    assert SequenceClassifierConfig(num_classes=2, input_size=1).bidirectional is False
    assert LanguageModelConfig(vocab_size=5).hidden_size == 512
    assert ForecasterConfig().hidden_size == 32


@pytest.mark.parametrize(("cls", "sizes"), MODEL_CONFIGS)
def test_indrnn_gets_relu_and_the_other_cells_tanh(cls, sizes):
    assert cls(**sizes, cell="indrnn").nonlinearity == "relu"
    assert cls(**sizes, cell="rnn").nonlinearity == "tanh"
    assert cls(**sizes, cell="indrnn", nonlinearity="tanh").nonlinearity == "tanh"
    layer = cls(**sizes, cell="indrnn").layer(3)
    assert {cell.nonlinearity for cell in layer.cells} == {"relu"}


def test_a_stored_config_without_a_nonlinearity_ran_tanh():
    # language models stored no nonlinearity before it was stored; their IndRNN ran tanh
    stored = asdict(LanguageModelConfig(vocab_size=5, cell="indrnn"))
    assert stored["nonlinearity"] == "relu"
    del stored["nonlinearity"]
    old = LanguageModelConfig.from_dict(stored)
    assert old.nonlinearity == "tanh"
    assert {cell.nonlinearity for cell in LanguageModel(old).rnn.cells} == {"tanh"}


def test_the_old_indrnn_run_loads_with_tanh_and_a_new_one_trains_with_relu(tmp_path):
    old = rnnkit.load(FIXTURES / "adding-indrnn" / "run", "cpu")
    assert old.model.config.nonlinearity == "tanh"
    assert {cell.nonlinearity for cell in old.model.rnn.cells} == {"tanh"}
    settings = json.loads((FIXTURES / "adding-indrnn" / "run" / "config.json").read_text())
    settings["train"].update(out_dir=str(tmp_path / "new"), max_steps=2, progress=False)
    run = rnnkit.train("synthetic", settings, log=lambda message: None)
    assert {cell.nonlinearity for cell in run.trained.model.rnn.cells} == {"relu"}
    stored = load_checkpoint(tmp_path / "new" / "last.pt")["model_config"]
    assert (stored["cell"], stored["nonlinearity"]) == ("indrnn", "relu")


def test_unknown_keys_are_listed_in_the_constructor_order():
    with pytest.raises(
        Exception,
        match="accepted: num_classes, vocab_size, .*, pooling, bag_buckets, padded_runs, cell, ",
    ):
        SequenceClassifierConfig.from_dict({"num_classes": 2, "colour": 1})


@pytest.mark.parametrize(
    "section", [LMModel, ClassifyModel, TagModel, ForecastModel, SyntheticModel]
)
def test_every_task_model_section_inherits_the_recurrent_options(section):
    assert issubclass(section, o.RecurrentOptions)
    recurrent = section().recurrent()
    assert {"cell", "hidden_size", "num_layers", "zoneout"} <= set(recurrent)
    assert set(recurrent) <= {f.name for f in dataclasses.fields(RecurrentConfig)}


def test_task_defaults_are_kept():
    assert (LMModel().hidden_size, ForecastModel().cell, ForecastModel().hidden_size) == (
        256,
        "gru",
        32,
    )
    assert (SyntheticModel().cell, SyntheticModel().hidden_size) == ("rnn", 6)
    assert ClassifyModel().bidirectional and TagModel().bidirectional
    assert (
        "bidirectional" not in LMModel().to_dict() and "dropout" not in SyntheticModel().to_dict()
    )


def test_a_classifier_from_the_recurrent_config():
    config = SequenceClassifierConfig(
        num_classes=3, input_size=2, hidden_size=5, bidirectional=True
    )
    model = SequenceClassifier(config)
    assert model.head.in_features == 10 == config.num_directions * config.hidden_size
