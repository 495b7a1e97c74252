"""rnnkit.data.inputs: the inputs of predict, read with their line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from rnnkit.data.inputs import held_out, numbered_lines, numbered_texts, python_items
from rnnkit.errors import RnnkitError


def test_numbered_texts_of_a_file_and_of_a_list(tmp_path):
    path = tmp_path / "in.tsv"
    path.write_text("id\ttext\n1\ta film\n2\t\n", encoding="utf-8")
    assert numbered_texts(path, "text") == [(2, "a film"), (3, "")]
    assert numbered_texts(["x", ""], "text") == [(1, "x"), (2, "")]
    assert numbered_lines(["a", "b"]) == [(1, "a"), (2, "b")]
    with pytest.raises(TypeError, match="inputs: expected a file path or a list of strings"):
        numbered_texts([1], "text")


def test_a_field_over_the_csv_limit_is_an_error_with_its_line(tmp_path):
    """Found by fuzzing: a quoted field longer than the csv module's limit (131,072 characters)
    escaped as csv.Error from ``rnnkit predict``."""
    path = tmp_path / "in.csv"
    path.write_text('text\n"' + "x" * 140_000 + '"\n', encoding="utf-8")
    with pytest.raises(RnnkitError, match=r"in.csv, line 2: malformed CSV \(field larger"):
        numbered_texts(path, "text")


def test_a_header_without_the_column_is_named_on_one_line(tmp_path):
    """Found by fuzzing: the header was joined as it was, so a form feed, U+2028 or a whole file
    read as one field (no line end the csv module knows) made a message of many lines."""
    path = tmp_path / "in.tab"
    path.write_text("review\tlabel\x0cbad film\t0\x0cgood film\t1\n", encoding="utf-8")
    with pytest.raises(RnnkitError) as error:
        numbered_texts(path, "text")
    assert len(str(error.value).splitlines()) == 1
    header = "review, 'label\\x0cbad film', '0\\x0cgood film', 1"
    assert str(error.value).endswith(f"its header: {header}")


@pytest.mark.parametrize("delimiter", ["", "ab", '"', "\n"])
def test_a_delimiter_must_be_one_character(tmp_path, delimiter):
    """Found by fuzzing: ``--delimiter ab`` escaped the csv module's TypeError ("delimiter" must
    be a 1-character string), naming neither the option nor the value."""
    path = tmp_path / "in.csv"
    path.write_text("text\na\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="delimiter: expected one character other than a quote"):
        numbered_texts(path, "text", delimiter)


def test_a_string_that_names_no_file_is_one_input(tmp_path, monkeypatch):
    """``rnnkit.predict(model, "good film")`` said "input file not found: good film"."""
    monkeypatch.chdir(tmp_path)
    assert numbered_texts("good film", "text") == [(1, "good film")]
    assert numbered_lines("The cat sat .") == [(1, "The cat sat .")]
    (tmp_path / "good film").write_text("a\nb\n", encoding="utf-8")  # an existing file is read
    assert numbered_texts("good film", "text") == [(1, "a"), (2, "b")]
    with pytest.raises(RnnkitError, match="input file not found: missing.txt"):
        numbered_lines(Path("missing.txt"))  # a Path is always a file name
    with pytest.raises(RnnkitError, match="is a directory, not a file"):
        numbered_lines(str(tmp_path))


class _Table:
    """Iterates over its column names, as a pandas DataFrame does."""

    ndim = 2
    columns = ("text", "label")

    def __iter__(self):
        return iter(self.columns)


def test_unsupported_objects_are_one_line_naming_what_is_accepted():
    """``rnnkit.evaluate(model, dataframe)`` failed with "too many values to unpack"."""
    for given, name in ((_Table(), "_Table"), ({"a": 1}, "dict"), (3, "int")):
        with pytest.raises(RnnkitError) as error:
            numbered_texts(given, "text")
        assert str(error.value) == (
            "expected a file path, '-' for standard input, one input text, or a list of inputs, "
            f"got {name}"
        )
    assert python_items(t for t in ["a", "b"]) == ["a", "b"]
    assert [int(v) for v in python_items(torch.tensor([1, 2]))] == [1, 2]  # 1-D
    with pytest.raises(RnnkitError, match="^expected pairs, got _Table$"):
        python_items(_Table(), "pairs")


def test_held_out_counts_in_words():
    with pytest.raises(RnnkitError, match="^1 training row is too few to hold out"):
        held_out(1, 0.5, 0, "training rows")
    with pytest.raises(RnnkitError, match="^2 training rows are too few to hold out"):
        held_out(2, 0.9, 0, "training rows")
