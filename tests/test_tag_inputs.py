"""The tag task's inputs: column files through the command line (bad input named, nothing written)
and long inputs tagged in windows."""

from __future__ import annotations

import json
import random
import time

import pytest
from cli_helpers import assert_one_line_error, run

from rnnkit import tasks
from rnnkit.cli import main
from rnnkit.data.conll import LAYOUT
from rnnkit.tasks.tag_inputs import CONTEXT, WINDOW, tag_in_windows, windows

pytestmark = pytest.mark.usefixtures("one_thread")

LEXICON = {"the": "DET", "a": "DET", "dog": "NOUN", "cat": "NOUN", "runs": "VERB", ".": "PUNCT"}
SMALL = [
    "--embedding", 8, "--hidden", 8, "--char-filters", 8, "--char-embedding", 8,
    "--batch-size", 8, "--lr", 0.02, "--warmup", 2, "--eval-every", 10, "--seed", 0,
    "--device", "cpu", "--no-progress",
]  # fmt: skip


def _conll2003(count: int, seed: int) -> str:
    """``count`` sentences in CoNLL-2003's 4 columns, tag last, documents of 5 sentences."""
    rng, lines = random.Random(seed), []
    for n in range(count):
        if n % 5 == 0:
            lines += ["-DOCSTART- -X- -X- O", ""]
        words = [rng.choice(["the", "a"]), rng.choice(["dog", "cat"]), "runs", "."]
        lines += [f"{w} POS B-NP {LEXICON[w]}" for w in words] + [""]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def column_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("columns")
    (root / "train.txt").write_text(_conll2003(60, 0), encoding="utf-8")
    argv = [
        "train",
        "tag",
        "--data",
        root / "train.txt",
        "--format",
        "conll",
        "--tag-col",
        4,
        "--crf",
    ]
    assert (
        main(
            [
                str(a)
                for a in [
                    *argv,
                    *SMALL,
                    "--steps",
                    40,
                    "--select-on",
                    "loss",
                    "--out",
                    root / "run",
                ]
            ]
        )
        == 0
    )
    return root


# --------------------------------------------------------------------------- windows
@pytest.mark.parametrize("length", [0, 1, 199, 200, 201, 399, 400, 401, 750, 751, 1000, 1234])
def test_windows_cover_every_token_once_with_context(length):
    parts = windows(length)
    kept = [i for _, a, b in parts for i in range(a, b)]
    assert kept == list(range(length))
    for start, keep_start, keep_end in parts:
        assert 0 <= start <= keep_start <= keep_end <= min(start + WINDOW, length)
        # each kept tag sees CONTEXT tokens on each side, or the input's own end
        assert keep_start - start >= CONTEXT or start == 0
        end = min(start + WINDOW, length)
        assert end - keep_end >= CONTEXT or end == length


def test_tag_in_windows_stitches_in_order_and_batches_once():
    calls = []

    def tag(pieces):
        calls.append(pieces)
        return [[f"{token}!" for token in piece] for piece in pieces]

    long = [str(i) for i in range(1000)]
    out = tag_in_windows(tag, [["a"], long, []])
    assert out == [["a!"], [f"{i}!" for i in range(1000)], []]
    assert len(calls) == 1 and max(map(len, calls[0])) == WINDOW  # one call, all windows in it


# --------------------------------------------------------------------------- the command line
def test_train_reads_a_four_column_file_and_predicts_a_long_line_in_windows(column_run, tmp_path):
    root = column_run
    config = json.loads((root / "run" / "config.json").read_text(encoding="utf-8"))
    assert (config["data"]["token_col"], config["data"]["tag_col"]) == (1, 4)
    model = tasks.load(root / "run", device="cpu")
    short = "the dog runs . a cat runs ."
    (expected,) = tasks.predict(model, [short])
    assert expected["tags"] == ["DET", "NOUN", "VERB", "PUNCT"] * 2
    tokens = short.split() * 5000  # 40,000 tokens on one line
    started = time.perf_counter()
    (record,) = tasks.predict(model, [" ".join(tokens)])
    seconds = time.perf_counter() - started
    assert record["tokens"] == tokens
    assert record["tags"] == expected["tags"] * 5000  # every token tagged, in order
    assert seconds < 30, f"40,000 tokens took {seconds:.1f} s"


def test_bad_columns_on_the_command_line_name_the_option_and_write_nothing(
    column_run, tmp_path, capsys
):
    train, out = column_run / "train.txt", tmp_path / "run"
    argv = ["train", "tag", "--data", train, *SMALL, "--steps", 2, "--out", out]
    code, _, err = run(capsys, *argv, "--tag-col", 6)
    assert_one_line_error(
        code,
        err,
        f"--tag-col: expected a column from 1 to 4 ({train}, line 3 has 4 columns), got 6",
    )
    code, _, err = run(capsys, *argv, "--token-col", 0)
    assert_one_line_error(code, err, "--token-col: expected a value >= 1, got 0")
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("text\tlabel\na fine film\tpos\n", "{path}, line 1: 'text' and 'label' look like the "),
        ("-DOCSTART- -X- O\n\n", "tagged file {path} holds only 1 -DOCSTART- line and no "),
        ("The cat sat .\nIt purred .\n", "{path}, line 2: expected 4 columns as on line 1 "),
    ],
)
def test_files_that_are_not_tagged_fail_on_the_command_line(tmp_path, capsys, text, expected):
    path, out = tmp_path / "data.txt", tmp_path / "run"
    path.write_text(text, encoding="utf-8")
    code, _, err = run(capsys, "train", "tag", "--data", path, *SMALL, "--out", out)
    assert code == 2 and err.startswith("rnnkit: error: " + expected.format(path=path))
    assert err.endswith(f"{LAYOUT}\n") and err.count("\n") == 1
    assert not out.exists()


def test_evaluate_and_predict_read_the_training_columns(column_run, tmp_path, capsys):
    root = column_run
    test = tmp_path / "test.conll"
    test.write_text(_conll2003(10, 1), encoding="utf-8")
    code, out, err = run(capsys, "evaluate", root / "run", "--data", test, "--device", "cpu")
    assert code == 0, err
    assert "10 sentences of" in out
    records = tasks.predict(tasks.load(root / "run", device="cpu"), str(test))
    assert len(records) == 10 and records[0]["tokens"][2:] == ["runs", "."]
