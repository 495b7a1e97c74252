"""The public API: every exported name resolves, and re-exports are the objects of their modules."""

import dataclasses
import importlib
import types

import pytest

import rnnkit
import rnnkit.config
import rnnkit.data.conll
import rnnkit.data.labelled
import rnnkit.data.synthetic
import rnnkit.data.text
import rnnkit.data.timeseries
import rnnkit.data.vocab
import rnnkit.layers
import rnnkit.metrics.classification
import rnnkit.metrics.forecasting
import rnnkit.models.classifier
import rnnkit.models.crf
import rnnkit.models.forecaster
import rnnkit.models.language_model
import rnnkit.models.tagger
import rnnkit.tasks.classify
import rnnkit.tasks.forecast
import rnnkit.tasks.lm
import rnnkit.tasks.synthetic
import rnnkit.tasks.tag
import rnnkit.training.trainer

PACKAGES = ["rnnkit", "rnnkit.models", "rnnkit.data", "rnnkit.metrics", "rnnkit.tasks"]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_resolves_once(name):
    package = importlib.import_module(name)
    assert package.__doc__ and package.__doc__.strip()
    assert len(package.__all__) == len(set(package.__all__)), "a name is listed twice"
    missing = [attr for attr in package.__all__ if not hasattr(package, attr)]
    assert missing == []


def test_top_level_reexports_are_the_defining_objects():
    # the registry itself, not a copy: a cell registered later is seen through both names
    assert rnnkit.CELLS is rnnkit.layers.CELLS
    assert rnnkit.build_layer is rnnkit.layers.build_layer
    assert rnnkit.register_cell is rnnkit.layers.register_cell
    assert rnnkit.LanguageModel is rnnkit.models.language_model.LanguageModel
    assert rnnkit.LanguageModelConfig is rnnkit.models.language_model.LanguageModelConfig
    assert rnnkit.SequenceClassifier is rnnkit.models.classifier.SequenceClassifier
    assert rnnkit.SequenceClassifierConfig is rnnkit.models.classifier.SequenceClassifierConfig
    assert rnnkit.SequenceTagger is rnnkit.models.tagger.SequenceTagger
    assert rnnkit.SequenceTaggerConfig is rnnkit.models.tagger.SequenceTaggerConfig
    assert rnnkit.Forecaster is rnnkit.models.forecaster.Forecaster
    assert rnnkit.ForecasterConfig is rnnkit.models.forecaster.ForecasterConfig
    assert rnnkit.Trainer is rnnkit.training.Trainer
    assert rnnkit.TrainConfig is rnnkit.training.TrainConfig
    assert rnnkit.seed_everything is rnnkit.training.seed_everything


@pytest.mark.parametrize("name", PACKAGES[1:])
def test_subpackage_exports_are_public_names_of_its_modules(name):
    # Each re-exported name must be the very object a module of the package lists in its own
    # __all__, so the package never exposes something its module considers private.
    package = importlib.import_module(name)
    modules = [
        m
        for m in vars(package).values()
        if isinstance(m, types.ModuleType) and m.__name__.startswith(name + ".")
    ]
    assert modules
    for attr in package.__all__:
        owners = [
            m.__name__
            for m in modules
            if attr in m.__all__ and getattr(m, attr) is getattr(package, attr)
        ]
        assert owners, f"{name}.{attr} is in no module's __all__"


def test_every_task_is_registered_with_its_config_and_one_api_serves_them():
    assert list(rnnkit.TASKS) == ["lm", "classify", "tag", "forecast", "synthetic"]
    for name, task in rnnkit.TASKS.items():
        assert task.name == name and issubclass(task.config_class, rnnkit.config.Config)
        assert {f.name for f in dataclasses.fields(task.config_class)} == {"data", "model", "train"}
    for function in ("train", "load", "evaluate", "predict", "sample"):
        assert getattr(rnnkit, function) is getattr(rnnkit.tasks, function)
