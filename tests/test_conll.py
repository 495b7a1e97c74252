"""CoNLL-U and column-file (CoNLL) reading, and the messages about files that are not tagged."""

from __future__ import annotations

import pytest

from rnnkit.config import ConfigError
from rnnkit.data.conll import (
    LAYOUT,
    read_conll,
    read_conllu,
    read_tagged,
    read_tokens,
    split_sentences,
)
from rnnkit.errors import RnnkitError

CONLL2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP B-ORG
rejects VBZ B-VP O
German JJ B-NP B-MISC

Peter NNP B-NP B-PER

-DOCSTART- -X- -X- O

Two CD B-NP O
"""

CONLLU = """# sent_id = 1
# text = I can't go.
1\tI\tI\tPRON\tPRP\t_\t3\tnsubj\t_\t_
2-3\tcan't\t_\t_\t_\t_\t_\t_\t_\t_
2\tca\tcan\tAUX\tMD\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
3.1\tgo\tgo\tVERB\tVB\t_\t_\t_\t_\t_
4\tgo\tgo\tVERB\tVB\t_\t0\troot\t_\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_

"""


def test_conllu_form_and_upos_skipping_multiword_and_empty_nodes(tmp_path):
    path = tmp_path / "a.conllu"
    path.write_text(CONLLU, encoding="utf-8")
    corpus = read_tagged(path)
    assert corpus.tokens == [["I", "ca", "n't", "go", "."], ["Hi"]]
    assert corpus.tags == [["PRON", "AUX", "PART", "VERB", "PUNCT"], ["INTJ"]]
    assert corpus.num_tokens == 6


def test_conllu_wrong_column_count_gives_line_number(tmp_path):
    path = tmp_path / "bad.conllu"
    lines = CONLLU.splitlines()
    lines[5] = "3\tn't\tnot\tPART"
    path.write_text("\n".join(lines), encoding="utf-8")
    with pytest.raises(RnnkitError) as info:
        read_conllu(path)
    assert str(info.value) == f"{path}, line 6: expected 10 tab-separated CoNLL-U columns, got 4"


def test_two_column_conll(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("-DOCSTART- O\n\nJohn B-PER\nruns\tO\n\n\nParis B-LOC\n", encoding="utf-8")
    corpus = read_tagged(path)
    assert corpus.tokens == [["John", "runs"], ["Paris"]]
    assert corpus.tags == [["B-PER", "O"], ["B-LOC"]]
    path.write_text("John B-PER\nruns O extra\n", encoding="utf-8")
    with pytest.raises(RnnkitError) as info:
        read_conll(path)
    assert str(info.value) == (
        f"{path}, line 2: expected 2 columns as on line 1 (the sentence's first), got 3: {LAYOUT}"
    )


def _file(tmp_path, text: str, name: str = "a.txt"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_conll2003_four_columns_with_docstart_as_document_boundaries(tmp_path):
    path = _file(tmp_path, CONLL2003)
    corpus = read_tagged(path, "conll")
    assert corpus.tokens == [["EU", "rejects", "German"], ["Peter"], ["Two"]]
    assert corpus.tags == [["B-ORG", "O", "B-MISC"], ["B-PER"], ["O"]]
    assert corpus.docs == [0, 0, 1]
    pos = read_tagged(path, token_col=1, tag_col=2)  # the POS tags, counted as cut counts
    assert pos.tags == [["NNP", "VBZ", "JJ"], ["NNP"], ["CD"]]
    chunks = read_conll(path, token_col=2, tag_col=3)
    assert chunks.tokens[0] == ["NNP", "VBZ", "JJ"] and chunks.tags[2] == ["B-NP"]
    train, val = split_sentences(corpus, 0.67)
    assert (train.docs, val.docs) == ([0, 0], [1])
    # A -DOCSTART- line without a blank line before it still ends the sentence.
    path.write_text("a x O\n-DOCSTART- -X- O\nb y O\n\nc z O\n", encoding="utf-8")
    corpus = read_conll(path)
    assert (corpus.tokens, corpus.docs) == ([["a"], ["b"], ["c"]], [0, 1, 1])


def test_tab_separated_tokens_keep_their_spaces(tmp_path):
    path = _file(tmp_path, "New York\tNNP\tB-LOC\nis\tVBZ\tO\n\n3 000\tCD\tO \n")
    corpus = read_tagged(path)
    assert corpus.tokens == [["New York", "is"], ["3 000"]]
    assert corpus.tags == [["B-LOC", "O"], ["O"]]  # trailing white space is no column
    assert read_conll(path, tag_col=2).tags == [["NNP", "VBZ"], ["CD"]]
    assert corpus.docs == [0, 0]


def test_conllu_newdoc_starts_a_document(tmp_path):
    path = _file(tmp_path, "# newdoc id = a\n" + CONLLU + "# newdoc id = b\n" + CONLLU, "d.conllu")
    corpus = read_tagged(path)
    assert len(corpus) == 4 and corpus.docs == [0, 0, 1, 1]
    assert read_conllu(_file(tmp_path, CONLLU, "e.conllu")).docs == [0, 0]


def test_a_column_beyond_the_lines_names_the_setting(tmp_path):
    path = _file(tmp_path, CONLL2003)
    with pytest.raises(ConfigError) as info:
        read_conll(path, tag_col=5)
    assert str(info.value) == (
        f"tag_col: expected a column from 1 to 4 ({path}, line 3 has 4 columns), got 5"
    )
    with pytest.raises(ConfigError, match=r"^token_col: expected a column from 1 to 4 .*got 9$"):
        read_conll(path, token_col=9)
    with pytest.raises(ConfigError, match=r"^tag_col: expected a column number from 1, got 0$"):
        read_conll(path, tag_col=0)
    path.write_text("a\tB\tO\nb\t\tO\n", encoding="utf-8")
    with pytest.raises(RnnkitError) as info:
        read_conll(path, tag_col=2)
    assert str(info.value) == f"{path}, line 2: empty tag (column 2)"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("John\nruns\n", "{path}, line 1: expected a token and its tag, got one column ('John'): "),
        ("\tO\n", "{path}, line 1: empty token (column 1)"),
        (
            "-DOCSTART- O\n\n-DOCSTART- O\n",
            "tagged file {path} holds only 2 -DOCSTART- lines and no sentences: ",
        ),
        (
            "text\tlabel\na good film\tpos\n",
            (
                "{path}, line 1: 'text' and 'label' look like the header of a table, not a token "
                "and its tag; "
            ),
        ),
        (
            "it 's a good film \t1\nawful\t0\nso so , really\t1\n",
            (
                "{path}, line 1: the tokens hold 3.3 words on average, as in a table of one text "
                "a line; "
            ),
        ),
        (
            "The cat sat .\n\nIt purred on the mat .\n",
            "{path}: every sentence is a single line of 4 to 6 words, as in plain text; ",
        ),
    ],
)
def test_files_that_are_not_tagged_say_what_a_tagged_file_looks_like(tmp_path, text, expected):
    path = _file(tmp_path, text)
    with pytest.raises(RnnkitError) as info:
        read_tagged(path)
    message = expected.format(path=path)
    assert str(info.value) == (message + LAYOUT if message.endswith(" ") else message)


def test_empty_file_and_split(tmp_path):
    path = tmp_path / "e.conll"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="holds no sentences: a tagged file has"):
        read_tagged(path)
    path.write_text("".join(f"w{i} T{i % 2}\n\n" for i in range(10)), encoding="utf-8")
    train, val = split_sentences(read_tagged(path), 0.9)
    assert len(train) == 9 and len(val) == 1 and val.tokens == [["w9"]]
    assert read_tokens("a b\n\n c \n") == [["a", "b"], ["c"]]
    path.write_text("w1 T\n\nw2 T\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match=r"2 sentences are too few to split 90% / 10%$"):
        split_sentences(read_tagged(path), 0.9)


def test_a_file_that_is_not_tagged_says_what_a_tagged_file_looks_like(tmp_path):
    """``rnnkit train tag`` on a TSV of one text a line read the whole file as one sentence and
    said "1 sentences are too few to split 90% / 10%"."""
    path = tmp_path / "reviews.tsv"
    path.write_text("text\tlabel\na good film\tpos\nawful\tneg\n", encoding="utf-8")
    with pytest.raises(RnnkitError) as error:
        read_tagged(path)
    assert str(error.value) == (
        f"{path}, line 1: 'text' and 'label' look like the header of a table, not a token and its "
        "tag; a tagged file has one token a line followed by its tag in columns separated by a "
        "tab or spaces (token<TAB>tag, CoNLL-2003's 4 columns or CoNLL-U's 10), and a blank line "
        "after each sentence"
    )
    path.write_text("The DET\ncat NOUN\nsat VERB\n", encoding="utf-8")  # no blank lines
    with pytest.raises(RnnkitError) as error:
        split_sentences(read_tagged(path), 0.9)
    message = str(error.value)
    assert message.startswith(f"{path}: 1 sentence is too few to split 90% / 10% (no blank line")
    assert message.endswith("and a blank line after each sentence)")


def test_real_ud_ewt_dev(shared_data):
    corpus = read_conllu(shared_data / "ud_en_ewt" / "en_ewt-ud-dev.conllu")
    assert len(corpus) == 2001
    assert corpus.num_tokens == 25147
    assert len({tag for tags in corpus.tags for tag in tags}) == 17


@pytest.mark.parametrize(
    ("name", "sentences", "tokens", "entities"),
    [("wikiann-en/test.txt", 10_000, 80_326, 13_958), ("wnut17/train.txt", 3_394, 62_730, 1_975)],
)
def test_real_ner_sets_read_as_published(shared_data, name, sentences, tokens, entities):
    corpus = read_tagged(shared_data / "ner" / name, "conll")
    assert (len(corpus), corpus.num_tokens) == (sentences, tokens)
    assert sum(tag.startswith("B-") for tags in corpus.tags for tag in tags) == entities
