"""Tokenizers (rnnkit.data.tokenizers) and the language model and classifier that read them:
round trips, saving and loading, one-line errors, the per-character score of a model whose
probabilities are known, and tiny runs of every kind through train, evaluate, sample and export."""

from __future__ import annotations

import io
import json
import math
import sys
from pathlib import Path

import pytest
import torch
from cli_helpers import assert_one_line_error, quiet, run

import rnnkit
from rnnkit.config import ConfigError
from rnnkit.data.labelled import Tokenizer
from rnnkit.data.tokenizers import (
    CharTokenizer,
    SubwordTokenizer,
    build_tokenizer,
    tokenizer_from_dict,
)
from rnnkit.errors import RnnkitError
from rnnkit.models.language_model import LanguageModel, LanguageModelConfig
from rnnkit.tasks import lm_defaults
from rnnkit.tasks.base import TrainedModel
from rnnkit.tasks.lm import LMConfig, LMState, SampleConfig, sample
from rnnkit.tasks.run import resolve_config

pytestmark = pytest.mark.usefixtures("one_thread")

PROSE = (
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n"
    "Second Citizen:\nWould you proceed especially against Caius Marcius? (He's a dog.)\n"
)
PTB = " the cat sat on the mat \n a <unk> dog ran to the cat \n the mat sat on a dog \n"
UNICODE = "Été, naïve café — ✓ 日本語!\n\ttabs  and  spaces\n"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("text") / "corpus.txt"
    path.write_text(PROSE * 30, encoding="utf-8")
    return path


# --------------------------------------------------------------------------- round trips
def test_word_tokens_of_tokenised_text_are_ptbs_convention():
    tokenizer = build_tokenizer("word", PTB)
    assert not tokenizer.prose
    assert tokenizer.token(0) == "<unk>" and tokenizer.token(1) == "<eos>"
    ids = tokenizer.encode(" the cat ran \n")
    assert [tokenizer.token(i) for i in ids] == ["the", "cat", "ran", "<eos>"]
    # the file's own <unk> is the unknown token; an unseen word reads as it too
    assert tokenizer.encode("a <unk> zebra") == [tokenizer.vocab.stoi["a"], 0, 0, 1]
    assert tokenizer.decode(tokenizer.encode(PTB)) == PTB.replace(" \n ", "\n").strip() + "\n"
    assert tokenizer.sentences(tokenizer.encode("the cat\nthe\n")) == [
        tokenizer.encode("the cat")[:-1],
        tokenizer.encode("the")[:-1],
    ]


def test_word_tokens_of_prose_split_punctuation_and_decode_without_stray_spaces():
    tokenizer = build_tokenizer("word", PROSE * 3)
    assert tokenizer.prose
    text = "Speak, speak. All: hear me speak. (He's a dog.)\nWould you proceed?\n"
    ids = tokenizer.encode(text)
    assert [tokenizer.token(i) for i in ids[:4]] == ["Speak", ",", "speak", "."]
    assert tokenizer.vocab.unk_id not in ids
    assert tokenizer.decode(ids) == text
    # a longer decoding extends a shorter one: text can be shown as it is generated
    for end in range(1, len(ids)):
        assert tokenizer.decode(ids[: end + 1]).startswith(tokenizer.decode(ids[:end]))


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_byte_level_subwords_give_any_text_back_exactly(kind):
    tokenizer = build_tokenizer(kind, PROSE * 20, vocab_size=300)
    assert isinstance(tokenizer, SubwordTokenizer) and tokenizer.vocab_size <= 300
    for text in (PROSE, UNICODE, " leading space", "x"):
        assert tokenizer.decode(tokenizer.encode(text)) == text
    assert len(tokenizer.encode(PROSE)) < len(PROSE.encode()) * 0.9  # it learnt merges
    assert tokenizer.decode(tokenizer.start_ids()) == "\n"


def test_char_tokenizer_is_the_character_vocabulary():
    tokenizer = build_tokenizer("char", "abca\n")
    assert isinstance(tokenizer, CharTokenizer)
    assert tokenizer.vocab.itos == ["<unk>", "\n", "a", "b", "c"]
    assert tokenizer.decode(tokenizer.encode("cab\n")) == "cab\n"
    assert tokenizer.predicted_chars("cab\n") == 3


# --------------------------------------------------------------------------- saving
@pytest.mark.parametrize("kind", ["char", "word", "bpe", "unigram"])
def test_a_saved_tokenizer_is_plain_data_and_encodes_the_same(kind, tmp_path):
    tokenizer = build_tokenizer(
        kind, PROSE * 20, vocab_size=300 if kind in ("bpe", "unigram") else None
    )
    saved = tokenizer.to_dict()
    assert json.loads(json.dumps(saved)) == saved  # strings, numbers and lists only
    again = tokenizer_from_dict(saved)
    assert type(again) is type(tokenizer) and again.encode(UNICODE + PROSE) == tokenizer.encode(
        UNICODE + PROSE
    )
    path = tokenizer.save(tmp_path)
    if kind in ("bpe", "unigram"):
        assert path == tmp_path / "tokenizer.json"
        read = build_tokenizer(kind, "", file=str(path))
        assert read.encode(PROSE) == tokenizer.encode(PROSE)
    elif kind == "word":
        assert path.read_text(encoding="utf-8").splitlines()[:2] == ["<unk>", "<eos>"]


def test_a_sentencepiece_model_file_is_read(tmp_path):
    spm = pytest.importorskip("sentencepiece")
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter((PROSE * 20).splitlines()),
        model_writer=model,
        vocab_size=50,
        minloglevel=2,
    )
    (tmp_path / "sp.model").write_bytes(model.getvalue())
    tokenizer = build_tokenizer("unigram", "", file=str(tmp_path / "sp.model"))
    assert tokenizer.vocab_size == 50 and tokenizer.library == "sentencepiece"
    assert tokenizer.decode(tokenizer.encode("Speak, speak.")) == "Speak, speak."
    again = tokenizer_from_dict(json.loads(json.dumps(tokenizer.to_dict())))
    assert again.encode(PROSE) == tokenizer.encode(PROSE)


# --------------------------------------------------------------------------- bad input
def test_a_tokenizer_file_that_does_not_parse_is_one_line(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text('{"model": 3', encoding="utf-8")
    with pytest.raises(RnnkitError) as error:
        build_tokenizer("bpe", "", file=str(bad))
    message = str(error.value)
    assert message.startswith(
        f"tokenizer_file: expected a tokenizers JSON file, got {bad}, which does not parse ("
    )
    assert "\n" not in message


def test_bad_tokenizer_settings_are_one_line_and_write_nothing(corpus, tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run(
        capsys, "train", "lm", "--data", corpus, "--tokenizer", "bpe", "--vocab-size", 100,
        "--out", out,
    )  # fmt: skip
    assert_one_line_error(
        code,
        err,
        "--vocab-size: expected at least 256 for the byte-level bpe tokenizer (its initial "
        "alphabet: the 256 bytes), got 100",
    )
    bad = tmp_path / "bad.json"
    bad.write_text("not json", encoding="utf-8")
    code, _, err = run(
        capsys, "train", "lm", "--data", corpus, "--tokenizer", "unigram", "--tokenizer-file",
        bad, "--out", out,
    )  # fmt: skip
    assert code == 2 and err.startswith(
        f"rnnkit: error: tokenizer_file: expected a tokenizers JSON file, got {bad}, which does "
        "not parse ("
    )
    assert err.count("\n") == 1 and not out.exists()
    with pytest.raises(ConfigError, match=r"^data\.tokenizer_file: expected the tokenizer bpe or "):
        resolve_config("lm", {"data": {"tokenizer": "word", "tokenizer_file": str(bad)}})


def test_a_missing_extra_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import tokenizers fails
    with pytest.raises(RnnkitError) as error:
        build_tokenizer("bpe", PROSE, vocab_size=300)
    assert str(error.value).startswith(
        'the bpe tokenizer needs tokenizers, which is not installed: pip install "rnnkit[text]"'
    )


# --------------------------------------------------------------------------- per character
def _uniform(tokenizer, train_text: str) -> TrainedModel:
    """A model whose logits are all zero: every token has probability 1 / V."""
    state, _ = (
        LMState.for_chars(train_text, train_text, "test")
        if tokenizer == "char"
        else LMState.fit(tokenizer, train_text, "test")
    )
    size = state.tokenizer.vocab_size
    model = LanguageModel(LanguageModelConfig(vocab_size=size, embedding_size=4, hidden_size=4))
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.zero_()
    return TrainedModel("lm", model.eval(), LMConfig(), state)


@pytest.mark.parametrize(
    ("kind", "tokens", "chars"),
    [
        ("char", 27, 27),  # 28 characters, the first one is context
        ("word", 9, 25),  # the cat sat . <eos> the dog ran . <eos>; "the" is context
        ("bpe", None, None),  # all but the first piece's characters ("the", learnt)
        ("unigram", None, None),
    ],
)
def test_per_character_scores_of_a_uniform_model(kind, tokens, chars):
    text = "the cat sat .\nthe dog ran .\n"
    tokenizer = (
        "char"
        if kind == "char"
        else build_tokenizer(kind, text * 50, vocab_size=300 if kind != "word" else None)
    )
    trained = _uniform(tokenizer, text * 50)
    size = trained.state.tokenizer.vocab_size
    ids = trained.state.tokenizer.encode(text)
    tokens = tokens or len(ids) - 1
    if kind in ("bpe", "unigram"):
        chars = len(text) - len(trained.state.tokenizer.decode(ids[:1]))
    (report,) = rnnkit.evaluate(trained, [text.removesuffix("\n")] if kind == "char" else [text])
    if kind == "char":  # the characters' report, as it always was
        assert report.rows["loss (nats/char)"]["model"] == pytest.approx(math.log(size))
        return
    assert report.title == f"{tokens:,} tokens ({chars:,} characters) of the given text"
    assert report.rows["loss (nats/token)"]["model"] == pytest.approx(math.log(size))
    assert report.rows["perplexity"]["model"] == pytest.approx(size)
    expected = tokens * math.log(size) / chars
    assert report.rows["nats/char"]["model"] == pytest.approx(expected)
    assert report.rows["bits/char"]["model"] == pytest.approx(expected / math.log(2))
    # the n-gram baseline, estimated on the very text, knows it far better than uniform
    assert report.rows["perplexity"]["kneser-ney 3"] < report.rows["perplexity"]["unigram"] < size


# --------------------------------------------------------------------------- tiny runs
def _settings(corpus: Path, kind: str, out: Path, **data) -> dict:
    return {
        "data": {"train": str(corpus), "tokenizer": kind, "seq_len": 8, **data},
        "model": {"embedding_size": 16, "hidden_size": 16},
        "train": {
            "max_steps": 6, "eval_every": 3, "batch_size": 4, "device": "cpu",
            "progress": False, "out_dir": str(out),
        },
    }  # fmt: skip


@pytest.mark.parametrize("kind", ["word", "bpe", "unigram"])
def test_a_tiny_model_of_each_tokenizer_trains_evaluates_samples_and_exports(
    kind, corpus, tmp_path, capsys
):
    out = tmp_path / "run"
    extra = {"vocab_size": 280} if kind != "word" else {}
    result = rnnkit.train("lm", _settings(corpus, kind, out, **extra), log=quiet)
    (report,) = result.reports
    assert " tokens/s); the reports score " in result.summary()  # the speed counts tokens
    assert report.columns == ["model", "unigram", "kneser-ney 3"]
    assert list(report.rows) == ["loss (nats/token)", "perplexity", "nats/char", "bits/char"]
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any("val_nats_per_char" in r for r in records)
    saved = out / ("vocab.txt" if kind == "word" else "tokenizer.json")
    assert saved.is_file()
    code, printed, err = run(capsys, "evaluate", out, "--data", corpus, "--device", "cpu")
    assert code == 0, err
    assert "kneser-ney 3" in printed and "nats/char" in printed
    trained = rnnkit.load(out)
    texts = sample(trained, SampleConfig(prompt="Speak", length=12, seed=1, num_samples=2))
    assert all(t.startswith("Speak") and len(t) > 5 for t in texts)
    code, streamed, err = run(capsys, "sample", out, "--prompt", "All", "--length", 8, "--seed", 1)
    assert code == 0, err
    single = sample(trained, SampleConfig(prompt="All", length=8, seed=1))[0]
    assert streamed == single + "\n"
    code, _, err = run(capsys, "predict", out, "--input", corpus)
    assert code == 2 and "use sample" in err
    if kind != "word":  # the learnt tokenizer can be given to a new run
        again = rnnkit.train(
            "lm", _settings(corpus, kind, tmp_path / "again", tokenizer_file=str(saved)), log=quiet
        )
        assert again.trained.state.tokenizer.encode(PROSE) == trained.state.tokenizer.encode(PROSE)
    path = tmp_path / "lm.pt"
    rnnkit.export.export(trained, "torchscript", path)
    assert path.is_file()


def test_a_resumed_word_run_keeps_its_tokenizer(corpus, tmp_path):
    out = tmp_path / "run"
    first = rnnkit.train("lm", _settings(corpus, "word", out), log=quiet)
    settings = _settings(corpus, "word", out)
    settings["train"]["max_steps"] = 8
    resumed = rnnkit.train("lm", settings, resume=True, log=quiet)
    assert resumed.train.step == 8
    assert resumed.trained.state.tokenizer.vocab == first.trained.state.tokenizer.vocab


def test_each_tokenizer_merges_its_own_defaults(monkeypatch):
    monkeypatch.setitem(
        lm_defaults.TOKENIZER_DEFAULTS, "word", {"model": {"hidden_size": 24, "dropout": 0.5}}
    )
    config, _ = resolve_config("lm", {"data": {"tokenizer": "word"}})
    assert (config.model.hidden_size, config.model.dropout) == (24, 0.5)
    config, _ = resolve_config("lm", {"data": {"tokenizer": "word"}, "model": {"dropout": 0.1}})
    assert (config.model.hidden_size, config.model.dropout) == (24, 0.1)  # the user's wins
    config, _ = resolve_config("lm", {})
    assert config.model.hidden_size == LMConfig().model.hidden_size


@pytest.mark.parametrize("kind", ["bpe", "unigram"])
def test_a_classifier_reads_subwords(kind, tmp_path):
    rows = [
        f"{'good great fine' if i % 2 else 'bad awful poor'} film {i}\t{i % 2}" for i in range(60)
    ]
    (tmp_path / "train.tsv").write_text("text\tlabel\n" + "\n".join(rows) + "\n", encoding="utf-8")
    settings = {
        "data": {"train": str(tmp_path / "train.tsv"), "tokenizer": kind, "vocab_size": 270},
        "model": {"embedding_dim": 8, "hidden_size": 8},
        "train": {"max_steps": 4, "eval_every": 2, "device": "cpu", "progress": False,
                  "out_dir": str(tmp_path / "run")},
    }  # fmt: skip
    result = rnnkit.train("classify", settings, log=quiet)
    tokenizer = result.trained.state.tokenizer
    assert tokenizer.kind == kind and tokenizer.vocab.itos[:2] == ["<pad>", "<unk>"]
    loaded = rnnkit.load(tmp_path / "run")
    assert loaded.state.tokenizer.encode("Good film") == tokenizer.encode("good film")
    assert "".join(tokenizer.tokenize("good film")).replace("Ġ", " ") == "good film"
    (record,) = rnnkit.predict(loaded, ["a great film"])
    assert set(record["probabilities"]) == {"0", "1"}
    assert isinstance(Tokenizer.from_dict(json.loads(json.dumps(tokenizer.to_dict()))), Tokenizer)


def test_a_classifier_refuses_a_tokenizer_file_for_words(tmp_path):
    with pytest.raises(RnnkitError) as error:
        Tokenizer.build(["a text"], "word", file=str(tmp_path / "tokenizer.json"))
    assert str(error.value) == (
        "tokenizer_file: expected the tokenizer bpe or unigram with a tokenizer file, got word"
    )
