"""rnnkit.data.inputs: the inputs of predict, read with their line numbers."""

from __future__ import annotations

import pytest

from rnnkit.data.inputs import numbered_lines, numbered_texts
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
