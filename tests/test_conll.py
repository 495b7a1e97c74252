"""CoNLL-U and 2-column CoNLL reading."""

from __future__ import annotations

import pytest

from rnnkit.data.conll import read_conll, read_conllu, read_tagged, read_tokens, split_sentences
from rnnkit.errors import RnnkitError

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
    with pytest.raises(RnnkitError, match=r"line 2: expected 2 columns \(token and tag\), got 3"):
        read_conll(path)


def test_empty_file_and_split(tmp_path):
    path = tmp_path / "e.conll"
    path.write_text("\n\n", encoding="utf-8")
    with pytest.raises(RnnkitError, match="holds no sentences"):
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
        f"{path}, line 2: the token 'a good film' holds spaces; expected one token a line: a "
        "tagged file has one token a line, its columns separated by a tab (token<TAB>tag, or the "
        "10 columns of CoNLL-U), and a blank line after each sentence"
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
