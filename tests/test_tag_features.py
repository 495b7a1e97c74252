"""The tag task with the features of issue 18: a character BiLSTM, word shapes (casing) and
pretrained vectors together, from training to predict and export."""

from __future__ import annotations

import json
import random

import pytest
import torch
from cli_helpers import quiet

from rnnkit import tasks
from rnnkit.export import export
from rnnkit.tasks.tag import TagConfig
from rnnkit.tasks.tag_defaults import ENTITY_DEFAULTS

pytestmark = pytest.mark.usefixtures("one_thread")

NAMES = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Edsger", "Donald", "Frances", "Niklaus"]
WORDS = ["the", "a", "went", "home", "saw", "it", "and", "then", "left", "early", "late", "on"]


def _sentence(rng: random.Random, name: str) -> list[tuple[str, str]]:
    words = [(w, "O") for w in rng.sample(WORDS, 4)]
    words.insert(rng.randrange(5), (name, "B-PER"))
    return words


def _write(path, sentences) -> None:
    lines = ["\n".join(f"{w} {t}" for w, t in s) + "\n" for s in sentences]
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("features")
    rng = random.Random(0)
    _write(root / "train.txt", [_sentence(rng, rng.choice(NAMES[:6])) for _ in range(60)])
    _write(root / "dev.txt", [_sentence(rng, rng.choice(NAMES[6:])) for _ in range(12)])
    vectors = [f"{w} " + " ".join(f"{rng.uniform(-1, 1):.3f}" for _ in range(6)) for w in WORDS]
    (root / "vectors.txt").write_text("\n".join(vectors) + "\n", encoding="utf-8")
    settings = {
        "data": {
            "train": str(root / "train.txt"),
            "val": str(root / "dev.txt"),
            "format": "conll",
            "embeddings": str(root / "vectors.txt"),
        },
        "model": {
            "hidden_size": 16,
            "char_embedding_dim": 8,
            "char_filters": 8,
            "char_encoder": "lstm",
            "casing": True,
            "use_crf": True,
            "dropout": 0.0,
        },
        "train": {
            "max_steps": 60,
            "batch_size": 16,
            "lr": 0.02,
            "warmup_steps": 2,
            "eval_every": 60,
            "seed": 0,
            "device": "cpu",
            "progress": False,
            "out_dir": str(root / "run"),
        },
    }
    return root, tasks.train("tag", settings, log=quiet)


def test_options_and_defaults():
    model = TagConfig().model
    assert (model.char_encoder, model.casing) == ("cnn", False)
    with pytest.raises(Exception, match=r"model\.char_encoder: expected one of cnn, lstm"):
        TagConfig.from_dict({"model": {"char_encoder": "gru"}})


def test_entity_defaults_are_valid_settings():
    config = TagConfig.from_dict(ENTITY_DEFAULTS)
    for section, settings in ENTITY_DEFAULTS.items():
        for key, value in settings.items():
            assert getattr(getattr(config, section), key) == value
            assert getattr(getattr(TagConfig(), section), key) != value  # each one a change


def test_features_with_pretrained_vectors_learn_unseen_names(run):
    root, result = run
    model = result.trained.model
    assert (model.char_lstm is not None, model.casing_embedding is not None) == (True, True)
    assert model.embedding.weight.shape[1] == 6  # the vectors' size
    saved = json.loads((root / "run" / "config.json").read_text("utf-8"))
    assert saved["model"]["char_encoder"] == "lstm" and saved["model"]["casing"] is True
    assert result.train.train_loss < 0.1
    # names never seen in training, in new positions: the shapes and characters find them
    out = tasks.predict(result.trained, [["then", "Niklaus", "left"], ["Frances", "saw", "it"]])
    assert [r["tags"] for r in out] == [["O", "B-PER", "O"], ["B-PER", "O", "O"]]
    again = tasks.load(root / "run")
    assert tasks.predict(again, [["then", "Niklaus", "left"]])[0]["tags"] == ["O", "B-PER", "O"]


def test_a_tagger_with_features_exports_equal_to_pytorch(run, tmp_path):
    pytest.importorskip("onnxruntime")
    _, result = run
    done = export(result.trained, "onnx", tmp_path / "tag.onnx")
    assert done.max_difference <= 1e-4
    import onnx

    names = [i.name for i in onnx.load(str(tmp_path / "tag.onnx")).graph.input]
    assert names == ["words", "lengths", "chars", "shapes"]
    assert torch.is_tensor(result.trained.model.casing_embedding.weight)
