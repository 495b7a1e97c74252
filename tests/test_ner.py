"""Named entities in the ``tag`` task (issue 18): schemes detected and written back, entity reports,
selection on entity F1, entities, ``--output-format conll`` and ``--top-k`` out of predict."""

from __future__ import annotations

import json
import random

import pytest
import torch
from cli_helpers import assert_one_line_error, quiet, run, small_settings

from rnnkit import tasks
from rnnkit.config import ConfigError
from rnnkit.tasks import tag_entities as ne
from rnnkit.tasks.tag_defaults import ENTITY_DEFAULTS

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {
    "model": {"embedding_dim": 16, "hidden_size": 16, "char_filters": 8, "dropout": 0.1},
    "train": {
        "batch_size": 16,
        "eval_every": 20,
        "warmup_steps": 5,
        "lr": 0.02,
        "seed": 0,
        "device": "cpu",
        "progress": False,
    },
}
PEOPLE = [["Ada", "Lovelace"], ["Alan", "Turing"], ["Grace", "Hopper"], ["Bob"], ["Linus"]]
PLACES = [["Paris"], ["New", "York"], ["London"], ["Rio", "de", "Janeiro"]]
ORGS = [["Acme", "Corp"], ["IBM"], ["United", "Nations"]]


def sentences(count: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """Generated sentences with PER, LOC and ORG entities, IOB2 tags."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        per, loc, org = rng.choice(PEOPLE), rng.choice(PLACES), rng.choice(ORGS)
        form = rng.randrange(3)
        if form == 0:
            parts = [(per, "PER"), (["went", "to"], None), (loc, "LOC"), (["."], None)]
        elif form == 1:
            parts = [(["the"], None), (org, "ORG"), (["hired"], None), (per, "PER")]
        else:
            parts = [(["in"], None), (loc, "LOC"), ([",", "she", "met"], None), (per, "PER")]
        tokens, tags = [], []
        for words, kind in parts:
            tokens += words
            tags += ["O"] * len(words) if kind is None else [f"B-{kind}"]
            tags += [] if kind is None else [f"I-{kind}"] * (len(words) - 1)
        out.append((tokens, tags))
    return out


def write(path, data, scheme: str = "iob2") -> str:
    blocks = [
        "".join(f"{w} {t}\n" for w, t in zip(tokens, ne.convert(tags, "iob2", scheme)))
        for tokens, tags in data
    ]
    path.write_text("\n".join(blocks), encoding="utf-8")
    return str(path)


def settings(root, steps: int, scheme: str = "iob2", **model) -> dict:
    data = {
        "train": write(root / f"train.{scheme}.conll", sentences(120, 0), scheme),
        "val": write(root / f"dev.{scheme}.conll", sentences(30, 1), scheme),
    }
    out = small_settings(SMALL, data, steps, root / f"run-{scheme}-{model.get('use_crf')}")
    out["model"].update(model)
    return out


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner")
    return root, tasks.train("tag", settings(root, 80, use_crf=False), log=quiet)


@pytest.fixture(scope="module")
def crf_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("ner-crf")
    return root, tasks.train("tag", settings(root, 60, use_crf=True), log=quiet)


# --------------------------------------------------------------------------- reports
def test_entity_report_beside_both_baselines(ner_run):
    _, result = ner_run
    report = result.reports[0]
    assert list(report.rows) == ["entity F1", "entity precision", "entity recall", "token accuracy"]
    assert report.columns == ["model", "most-frequent-tag", "memoriser"]
    # every dev entity string occurs in training with the same type: the memoriser finds them all
    assert report.rows["entity F1"]["memoriser"] == 1.0
    assert report.rows["entity F1"]["model"] > 0.5
    state = result.trained.state
    assert (state.entities.scheme, state.entities.internal) == ("iob2", "iobes")
    assert any(line.startswith("PER ") for line in report.details)
    view = tasks.views(result.trained)[0]  # per-tag F1 of the model's (IOBES) tags
    assert "E-PER" in view.x and len(view.values["most-frequent-tag"]) == len(view.x)


def test_report_agrees_with_seqeval_on_the_predictions(ner_run):
    seqeval = pytest.importorskip("seqeval.metrics")
    root, result = ner_run
    dev = sentences(30, 1)
    predicted = tasks.predict(result.trained, [tokens for tokens, _ in dev])
    gold = [tags for _, tags in dev]
    tags = [r["tags"] for r in predicted]
    report = tasks.evaluate(result.trained, str(root / "dev.iob2.conll"))[0]
    expected = seqeval.f1_score(gold, tags, mode="strict", scheme=seqeval_scheme("iob2"))
    assert report.rows["entity F1"]["model"] == pytest.approx(expected, abs=1e-9)


def seqeval_scheme(name: str):
    from seqeval import scheme

    return {"iob2": scheme.IOB2, "iobes": scheme.IOBES, "bilou": scheme.BILOU}[name]


def test_best_weights_are_chosen_on_entity_f1(ner_run):
    root, result = ner_run
    assert result.config.model.select_on == "auto"
    lines = (root / "run-iob2-False" / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    evals = [r for r in map(json.loads, lines) if "val_f1" in r]
    assert evals, "validation logs entity F1"
    best = min(evals, key=lambda r: (-r["val_f1"], r["step"]))
    assert result.weights == f"best.pt (step {best['step']})"


def test_entity_defaults_follow_the_training_tags(ner_run, tmp_path):
    root, _ = ner_run
    config, _ = tasks.resolve_config("tag", {"data": {"train": str(root / "train.iob2.conll")}})
    assert config.model.use_crf and config.model.casing and config.train.lr == 4e-3
    assert ENTITY_DEFAULTS == {"model": {"use_crf": True, "casing": True}, "train": {"lr": 4e-3}}
    pos = tmp_path / "pos.conll"
    pos.write_text("the DET\ncat NOUN\n\na DET\ndog NOUN\n", encoding="utf-8")
    config, _ = tasks.resolve_config("tag", {"data": {"train": str(pos)}})
    assert not config.model.use_crf and not config.model.casing  # the tag task's own defaults


# --------------------------------------------------------------------------- predict
def test_entities_point_at_their_text(ner_run):
    _, result = ner_run
    lines = ["Yesterday  Ada Lovelace went to New   York .", "", "the IBM hired Bob"]
    records = tasks.predict(result.trained, lines)
    assert records[1]["skipped"] and records[1]["entities"] == []
    found = 0
    for line, record in zip(lines, records):
        for entity in record["entities"]:
            found += 1
            assert line[entity["char_start"] : entity["char_end"]] == entity["text"]
            assert entity["text"].split() == record["tokens"][entity["start"] : entity["end"]]
            assert 0.0 <= entity["score"] <= 1.0
    assert found >= 2
    tokens = tasks.predict(result.trained, [["the", "IBM", "hired", "Bob"]])[0]
    assert all("char_start" not in e for e in tokens["entities"])  # token lists: no offsets


def test_output_format_conll_reads_back(ner_run, capsys):
    root, result = ner_run
    dev = root / "dev.iob2.conll"
    code, out, err = run(capsys, "predict", root / "run-iob2-False", "--input", dev,
                         "--output-format", "conll")  # fmt: skip
    assert code == 0, err
    blocks = [block.splitlines() for block in out.strip("\n").split("\n\n")]
    records = tasks.predict(result.trained, str(dev))
    assert len(blocks) == len(records) == 30
    for block, record, (tokens, gold) in zip(blocks, records, sentences(30, 1)):
        columns = [line.split("\t") for line in block]
        assert [c[0] for c in columns] == tokens
        assert [c[1] for c in columns] == gold
        assert [c[2] for c in columns] == record["tags"]


def test_top_k_needs_a_crf(ner_run, capsys, tmp_path):
    root, result = ner_run
    (tmp_path / "in.txt").write_text("Ada went to Paris\n", encoding="utf-8")
    code, out, err = run(capsys, "predict", root / "run-iob2-False", "--input",
                         tmp_path / "in.txt", "--top-k", 3)  # fmt: skip
    expected = "--top-k: the N best tag sequences need a CRF: this run was trained without --crf"
    assert_one_line_error(code, err, expected)
    assert out == ""
    with pytest.raises(ConfigError, match=r"^top_k: the N best tag sequences need a CRF"):
        tasks.predict(result.trained, ["Ada went to Paris"], top_k=3)


def test_predict_refuses_an_option_the_task_lacks(ner_run):
    _, result = ner_run
    with pytest.raises(ConfigError) as error:
        tasks.predict(result.trained, ["Ada went to Paris"], beam=3)
    assert str(error.value) == (
        "beam: predict of a 'tag' model has no such option (it takes top_k, gold)"
    )


def test_top_k_scores_decrease_and_the_first_is_viterbi(crf_run):
    _, result = crf_run
    lines = ["Ada Lovelace went to New York .", "in Paris , she met Bob"]
    for record in tasks.predict(result.trained, lines, top_k=4):
        scores = [path["log_probability"] for path in record["top_k"]]
        assert len(scores) == 4 and scores == sorted(scores, reverse=True)
        assert record["top_k"][0]["tags"] == record["tags"]
        assert all(0.0 <= e["score"] <= 1.0 for e in record["entities"])


def test_a_crf_run_is_constrained_and_scores_entities_exactly(crf_run):
    _, result = crf_run
    crf, state = result.trained.model.crf, result.trained.state
    start, transitions, end = ne.allowed_transitions(state.tags.itos, "iobes")
    assert crf.constrained and torch.equal(crf.allowed_transitions, transitions)
    assert torch.equal(crf.allowed_start, start) and torch.equal(crf.allowed_end, end)
    loaded = tasks.load(result.trained.path)  # constrained again after loading
    assert loaded.model.crf.constrained
    record = tasks.predict(loaded, ["Ada Lovelace went to New York ."])[0]
    tokens = record["tokens"]
    inputs = state.batch([tokens])
    emissions = loaded.model(*inputs)
    ids = torch.tensor([[state.tags.stoi[t] for t in ne.convert(record["tags"], "iob2", "iobes")]])
    for entity in record["entities"]:
        span = [(0, entity["start"], entity["end"])]
        expected = float(loaded.model.crf.span_probability(emissions, None, ids, span)[0])
        assert entity["score"] == pytest.approx(expected, abs=1e-6)


# --------------------------------------------------------------------------- schemes
@pytest.mark.parametrize("scheme", ["iob1", "bilou"])
def test_predictions_come_back_in_the_input_scheme(tmp_path, scheme):
    result = tasks.train("tag", settings(tmp_path, 60, scheme, use_crf=False), log=quiet)
    assert result.trained.state.entities.scheme == scheme
    assert result.trained.state.entities.internal == "iobes"
    data = sentences(30, 1)
    records = tasks.predict(result.trained, [tokens for tokens, _ in data])
    allowed = {"iob1": "BIO", "bilou": "BILUO"}[scheme]
    tags = [t for r in records for t in r["tags"]]
    assert all(t[0] in allowed for t in tags)
    assert {t[0] for t in tags} - {"O", "B"}, "the scheme's own prefixes are written"
    for record in records:  # written back: well-formed in the input's scheme
        assert ne.convert(record["tags"], scheme, scheme) == record["tags"]


def test_a_forced_scheme_that_the_tags_do_not_fit(tmp_path):
    bad = settings(tmp_path, 2, "iobes", use_crf=False)
    bad["data"]["scheme"] = "iob2"
    with pytest.raises(ConfigError) as error:
        tasks.train("tag", bad, log=quiet)
    assert str(error.value).startswith("data.scheme: the tag ")
    assert "is not a tag of scheme 'iob2'" in str(error.value)


def test_a_forced_scheme_must_read_the_tags_as_written(tmp_path):
    # IOB2 tags are all tags of IOBES too, but a one-token entity is B-X there, not S-X
    data = tmp_path / "iob2.txt"
    rows = [f"Ada B-PER\nwent O\nto O\nRome B-LOC\nand O\nParis B-LOC\n{i} O\n" for i in range(99)]
    data.write_text("\n".join(rows), encoding="utf-8")
    bad = {
        "data": {"train": str(data), "val": str(data), "scheme": "iobes"},
        "train": {"max_steps": 1},
    }
    with pytest.raises(ConfigError) as error:
        tasks.train("tag", bad, log=quiet)
    assert str(error.value) == (
        f"data.scheme: expected the tags of {data} to be well-formed in scheme 'iobes', got 99 of "
        "99 sentences that are not (the first: sentence 1, B-PER O O B-LOC O B-LOC O); the "
        "detected scheme is 'iob2'"
    )


def test_an_old_tag_run_has_no_entities():
    from pathlib import Path

    run_dir = Path(__file__).parent / "fixtures" / "v0_1" / "tag" / "run"
    trained = tasks.load(run_dir)
    assert trained.state.entities is None
    record = tasks.predict(trained, ["the cat sat"])[0]
    assert set(record) == {"line", "tokens", "tags"}


@pytest.mark.parametrize(
    ("bad", "expected"),
    [("B_PER", "'B_PER'"), ("X-PER", "'X-PER'")],
)
def test_a_tag_that_fits_no_scheme_is_one_clear_error(tmp_path, capsys, bad, expected):
    data = sentences(20, 0)
    data[3] = (data[3][0], [bad if t == "B-PER" else t for t in data[3][1]])
    train = tmp_path / "bad.conll"
    train.write_text("\n".join("".join(f"{w} {t}\n" for w, t in zip(*s)) for s in data), "utf-8")
    code, _, err = run(capsys, "train", "tag", "--data", train, "--out", tmp_path / "out")
    assert code == 2 and err.count("\n") == 1 and expected in err, err
    assert not (tmp_path / "out").exists()


def test_a_long_line_is_tagged_in_windows_with_its_entities(crf_run):
    _, result = crf_run
    line = " ".join(["Ada Lovelace went to New York ."] * 150)  # 1,050 tokens: 3 windows
    record = tasks.predict(result.trained, [line])[0]
    assert len(record["tags"]) == len(record["tokens"]) == 1050
    assert len(record["entities"]) >= 150
    for entity in record["entities"]:
        assert line[entity["char_start"] : entity["char_end"]] == entity["text"]
        assert 0.0 <= entity["score"] <= 1.0
