"""Pretrained word vectors: reading GloVe / word2vec files (plain, gzipped, with a header), matching
them to a vocabulary, coverage, the ``--embeddings`` options of classify and tag, bad input."""

from __future__ import annotations

import gzip
import json

import pytest
import torch
from cli_helpers import assert_one_line_error, quiet, run, small_settings

from rnnkit import tasks
from rnnkit.config import ConfigError
from rnnkit.data.embeddings import (
    coverage,
    extend_vocabulary,
    put_vectors,
    read_vectors,
    vector_dimension,
)
from rnnkit.data.vocab import Vocabulary
from rnnkit.errors import RnnkitError
from rnnkit.tasks import resolve_config
from rnnkit.tasks.base import get_task
from rnnkit.training.optim import build_optimizer
from rnnkit.training.rng import seed_everything

pytestmark = pytest.mark.usefixtures("one_thread")

# 4-dimensional vectors; "zebra" occurs in no data, "Film" only as a cased variant of "film"
VECTORS = {
    "the": [0.5, 0.25, -0.125, 0.75],
    "good": [1.0, 1.5, -2.0, 0.25],
    "bad": [-1.0, -1.5, 2.0, -0.25],
    "Film": [9.0, 9.0, 9.0, 9.0],
    "film": [3.0, 2.0, 1.0, 0.0],
    "zebra": [0.5, 0.5, 0.5, 0.5],
}
TRAIN = [
    ("the film was good", "pos"),
    ("a good plot", "pos"),
    ("the plot was bad", "neg"),
    ("bad film", "neg"),
] * 6
VAL = [("an awful film", "neg"), ("the wonderful plot", "pos")]
SMALL = {
    "model": {"hidden_size": 6, "dropout": 0.0},
    "train": {"batch_size": 8, "eval_every": 5, "lr": 0.05, "seed": 0, "device": "cpu"},
}
SMALL["train"]["progress"] = False


def _glove(vectors=VECTORS) -> str:
    return "".join(f"{w} {' '.join(str(x) for x in v)}\n" for w, v in vectors.items())


@pytest.fixture
def files(tmp_path):
    """The vectors as GloVe text, gzipped GloVe and word2vec text with its header; the data."""
    glove = tmp_path / "glove.txt"
    glove.write_text(_glove(), encoding="utf-8")
    zipped = tmp_path / "glove.txt.gz"
    zipped.write_bytes(gzip.compress(_glove().encode()))
    w2v = tmp_path / "w2v.vec"
    w2v.write_text(f"{len(VECTORS)} 4\n" + _glove().replace("\n", " \n"), encoding="utf-8")
    for name, rows in (("train.tsv", TRAIN), ("dev.tsv", VAL)):
        lines = "".join(f"{t}\t{label}\n" for t, label in rows)
        (tmp_path / name).write_text("text\tlabel\n" + lines, encoding="utf-8")
    return tmp_path, [glove, zipped, w2v]


# --------------------------------------------------------------------------- reading
def test_the_three_formats_read_alike(files):
    _, paths = files
    for path in paths:
        vectors = read_vectors(path)
        assert vectors.words == list(VECTORS) and vectors.rows == 6 and vectors.dim == 4
        assert torch.equal(vectors.vectors, torch.tensor(list(VECTORS.values())))
        assert vector_dimension(path) == 4


def test_only_wanted_rows_are_kept_and_an_exact_case_wins(files):
    _, (glove, *_) = files
    vectors = read_vectors(glove, {"film", "good", "missing"}, lower=True)
    assert vectors.words == ["good", "film"] and vectors.rows == 6
    assert vectors.vectors[1].tolist() == VECTORS["film"]  # not "Film", seen first
    # a lower-cased match serves when no exact one exists
    only_cased = glove.parent / "cased.txt"
    only_cased.write_text("Film 1 2 3 4\n", encoding="utf-8")
    assert read_vectors(only_cased, {"film"}, lower=True).words == ["film"]
    assert read_vectors(only_cased, {"film"}, lower=False).words == []


def test_coverage_message_and_vocabulary_extension(files):
    _, (glove, *_) = files
    vectors = read_vectors(glove, {"the", "film", "good", "plot"}, lower=True)
    counts = {"the": 5, "film": 3, "plot": 2}
    assert coverage(counts, vectors) == (
        "2 of 3 training word types have a vector, 80.0% of tokens"
    )
    vocab = Vocabulary(["<pad>", "<unk>", "the", "plot"], pad_token="<pad>", unk_token="<unk>")
    extended = extend_vocabulary(vocab, vectors)
    assert extended.itos == ["<pad>", "<unk>", "the", "plot", "good", "film"]  # the file's order
    embedding = torch.nn.Embedding(len(extended), 4, padding_idx=0)
    before = embedding.weight.detach().clone()
    assert put_vectors(embedding, extended, vectors, freeze=True) == 3
    # words without a vector (<unk>, "plot") keep their random start
    assert torch.equal(embedding.weight[[1, 3]], before[[1, 3]])
    assert embedding.weight[5].tolist() == VECTORS["film"] and not embedding.weight.requires_grad
    assert embedding.weight[0].abs().sum() == 0  # the padding row stays zero


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a 1 2\nb 1 2 3\n", "line 2: expected a word and 2 numbers as on line 1, got 3 fields"),
        ("2 3\na 1 2 3\nb 1 2\n", "line 3: expected a word and 3 numbers as the header line 1"),
        ("a 1 x\n", "line 1: expected a number, got 'x'"),
        ("", "holds no vectors"),
        ("3 300\n", "holds no vectors"),
        ("a 1 nan\n", "expected finite numbers, got nan or inf"),
    ],
)
def test_bad_files_say_what_and_where(tmp_path, text, expected):
    path = tmp_path / "v.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RnnkitError) as caught:
        read_vectors(path)
    assert str(caught.value).startswith(f"embeddings file {path}") and expected in str(caught.value)


def test_exact_messages(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text("a 1 2\nb 1 2 3\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="^") as caught:
        read_vectors(path)
    assert str(caught.value) == (
        f"embeddings file {path}, line 2: expected a word and 2 numbers as on line 1, "
        "got 3 fields after the word"
    )
    path.write_text("", encoding="utf-8")
    with pytest.raises(RnnkitError) as caught:
        read_vectors(path)
    assert str(caught.value) == f"embeddings file {path} holds no vectors"
    with pytest.raises(RnnkitError) as caught:
        read_vectors(tmp_path / "nothing.txt")
    assert str(caught.value) == f"embeddings file not found: {tmp_path / 'nothing.txt'}"


# --------------------------------------------------------------------------- classify and tag
def _settings(root, out=None, steps=6, **data):
    files = {"train": str(root / "train.tsv"), "val": str(root / "dev.tsv"), **data}
    return small_settings(SMALL, files, steps, out)


def _setup(task: str, settings: dict, logs: list[str] | None = None):
    config, _ = resolve_config(task, settings)
    seed_everything(config.train.seed)  # as training does: the same random rows
    return config, get_task(task).setup(config, None, (logs if logs is not None else []).append)


def test_classify_rows_equal_the_file_and_the_vocabulary_grows_with_the_data(files):
    root, paths = files
    for path in paths:
        logs: list[str] = []
        config, setup = _setup("classify", _settings(root, embeddings=str(path)), logs)
        assert config.model.embedding_dim == 4  # the file's dimension
        vocab, weight = setup.state.tokenizer.vocab, setup.model.embedding.weight
        for word in ("the", "good", "bad", "film"):
            assert weight[vocab.stoi[word]].tolist() == VECTORS[word]
        # validation-only "awful"/"wonderful" have no vector; "zebra" is in no data
        assert "zebra" not in vocab and "awful" not in vocab and weight.requires_grad
        assert logs[0] == (
            f"{path}: 4 of 6 vectors (4 dimensions) used, 0 words added to the vocabulary"
        )
        assert logs[1] == "4 of 7 training word types have a vector, 61.5% of tokens"  # 8 of 13
    _, every = _setup("classify", _settings(root, embeddings=str(paths[0]), embeddings_vocab="all"))
    assert "zebra" in every.state.tokenizer.vocab
    assert len(every.state.tokenizer.vocab) == len(vocab) + 1  # "Film" is "film" lower-cased


def test_validation_words_with_a_vector_join_the_vocabulary(files):
    root, (glove, *_) = files
    glove.write_text(_glove({**VECTORS, "awful": [7.0, 7.0, 7.0, 7.0]}), encoding="utf-8")
    _, setup = _setup("classify", _settings(root, embeddings=str(glove), min_freq=100))
    vocab, weight = setup.state.tokenizer.vocab, setup.model.embedding.weight
    assert vocab.itos[:2] == ["<pad>", "<unk>"] and "awful" in vocab and "plot" not in vocab
    assert weight[vocab.stoi["awful"]].tolist() == [7.0] * 4


def test_frozen_vectors_stay_fixed_and_are_not_decayed(files, tmp_path):
    root, (glove, *_) = files
    settings = _settings(root, tmp_path / "run", steps=6, embeddings=str(glove))
    settings["model"]["freeze_embeddings"] = True
    settings["train"]["weight_decay"] = 0.5
    config, setup = _setup("classify", settings)
    assert not setup.model.embedding.weight.requires_grad
    grouped = [
        p
        for group in build_optimizer(setup.model, config.train).param_groups
        for p in group["params"]
    ]
    assert all(p is not setup.model.embedding.weight for p in grouped)
    before = setup.model.embedding.weight.detach().clone()
    result = tasks.train("classify", settings, log=quiet)
    after = result.trained.model.embedding.weight
    assert torch.equal(before, after.detach().cpu())
    # the run stands alone: evaluate and predict without the vectors file
    glove.unlink()
    trained = tasks.load(tmp_path / "run")
    assert torch.equal(trained.model.embedding.weight.detach(), before)
    assert tasks.evaluate(trained, str(root / "dev.tsv"))[0].rows["accuracy"]["model"] >= 0
    assert tasks.predict(trained, ["good film"])[0]["label"] in ("pos", "neg")
    # and resumes (the vectors come from the checkpoint; still frozen)
    settings["train"]["max_steps"] = 8
    resumed = tasks.train("classify", settings, resume=True, log=quiet)
    assert torch.equal(resumed.trained.model.embedding.weight.detach().cpu(), before)


def test_unfrozen_vectors_train(files, tmp_path):
    root, (glove, *_) = files
    _, setup = _setup("classify", _settings(root, embeddings=str(glove)))
    before = setup.model.embedding.weight.detach().clone()
    result = tasks.train("classify", _settings(root, embeddings=str(glove)), log=quiet)
    assert not torch.equal(before, result.trained.model.embedding.weight.detach().cpu())


def test_tag_looks_up_lower_cased_words(files, tmp_path):
    _, (glove, *_) = files
    sentences = [("The", "DET"), ("Film", "NOUN"), ("was", "VERB"), ("good", "ADJ")]
    text = "\n".join(f"{w}\t{t}" for w, t in sentences) + "\n\n"
    (tmp_path / "t.conll").write_text(text * 8, encoding="utf-8")
    data = {"train": str(tmp_path / "t.conll"), "embeddings": str(glove)}
    settings = small_settings(SMALL, data, 4)
    settings["model"]["char_filters"] = 4
    _, setup = _setup("tag", settings)
    words, weight = setup.state.words, setup.model.embedding.weight
    assert weight[words.stoi["film"]].tolist() == VECTORS["film"]  # the exact "film" row
    assert weight[words.stoi["the"]].tolist() == VECTORS["the"]


# --------------------------------------------------------------------------- bad settings
def test_an_embedding_size_that_disagrees_is_one_line(files):
    root, (glove, *_) = files
    settings = _settings(root, embeddings=str(glove))
    settings["model"]["embedding_dim"] = 8
    with pytest.raises(ConfigError) as caught:
        _setup("classify", settings)
    assert str(caught.value) == (
        f"model.embedding_dim: expected 4, the dimension of the vectors in embeddings file "
        f"{glove}, got 8"
    )


def test_freezing_needs_vectors_and_char_tokens_take_none(files):
    root, (glove, *_) = files
    settings = _settings(root)
    settings["model"]["freeze_embeddings"] = True
    with pytest.raises(ConfigError, match="^model.freeze_embeddings: needs pretrained vectors"):
        _setup("classify", settings)
    with pytest.raises(ConfigError) as caught:
        _setup("classify", _settings(root, embeddings=str(glove), tokenizer="char"))
    assert str(caught.value) == "data.embeddings: word vectors need the word tokenizer, got 'char'"
    with pytest.raises(ConfigError) as caught:
        _setup("classify", _settings(root, embeddings={"the": [1.0, 2.0]}))
    assert str(caught.value) == "data.embeddings: expected a path to a vectors file, got dict"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            ["--embedding", "8", "--embeddings", "GLOVE"],
            "--embedding: expected 4, the dimension of the vectors in embeddings file GLOVE, got 8",
        ),
        (["--embeddings", "MISSING"], "embeddings file not found: MISSING"),
        (
            ["--embeddings", "BAD"],
            (
                "embeddings file BAD, line 2: expected a word and 2 numbers as on line 1, got 3 "
                "fields after the word"
            ),
        ),
        (["--embeddings", "EMPTY"], "embeddings file EMPTY holds no vectors"),
    ],
)
def test_command_line_errors_are_one_line_and_write_nothing(files, capsys, extra, expected):
    root, (glove, *_) = files
    (root / "bad.txt").write_text("a 1 2\nb 1 2 3\n", encoding="utf-8")
    (root / "empty.txt").write_text("\n", encoding="utf-8")
    names = {"GLOVE": glove, "MISSING": root / "missing.txt", "BAD": root / "bad.txt"}
    names["EMPTY"] = root / "empty.txt"
    for name, path in names.items():
        expected = expected.replace(name, str(path))
    out = root / "run"
    argv = ["train", "classify", "--data", root / "train.tsv", "--out", out, "--steps", "2"]
    code, _, err = run(capsys, *argv, *[names.get(a, a) for a in extra])
    assert_one_line_error(code, err, expected)
    assert not out.exists()


def test_print_config_shows_the_files_dimension(files, capsys):
    root, (glove, *_) = files
    argv = ["train", "tag", "--data", root / "t.conll", "--embeddings", glove]
    code, out, err = run(capsys, *argv, "--print-config", "json")
    assert code == 0 and err == "" and json.loads(out)["model"]["embedding_dim"] == 4


# --------------------------------------------------------------------------- word language model
def test_word_language_model_starts_from_the_vectors(files, tmp_path):
    _, (glove, *_) = files
    (tmp_path / "lm.txt").write_text("the film was good\nthe plot was bad\n" * 20, "utf-8")
    (tmp_path / "val.txt").write_text("the plot was good\n" * 2, "utf-8")
    data = {"train": str(tmp_path / "lm.txt"), "val": str(tmp_path / "val.txt")}
    data.update(tokenizer="word", embeddings=str(glove))
    settings = small_settings(SMALL, data, 4, tmp_path / "lm")
    settings["model"] = {"hidden_size": 6, "freeze_embeddings": True}
    settings["data"]["seq_len"] = 4
    logs: list[str] = []
    config, setup = _setup("lm", settings, logs)
    vocab, weight = setup.state.tokenizer.vocab, setup.model.embedding.weight
    assert config.model.embedding_size == 4 and not weight.requires_grad
    for word in ("the", "film", "good", "bad"):
        assert weight[vocab.stoi[word]].tolist() == VECTORS[word]
    # <eos> is no word: 4 of the 6 words have a vector, 5 of the 8 words of the two lines
    assert "4 of 6 training word types have a vector, 62.5% of tokens" in logs
    run_ = tasks.train("lm", settings, log=quiet)
    assert torch.equal(run_.trained.model.embedding.weight.detach().cpu(), weight.detach())
    with pytest.raises(ConfigError) as caught:
        _setup("lm", {**settings, "data": {**data, "tokenizer": "char"}})
    assert str(caught.value) == "data.embeddings: word vectors need the word tokenizer, got 'char'"
