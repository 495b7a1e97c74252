"""What the fuzz tests (tests/test_fuzz.py) and the fuzz benchmark (benchmarks/fuzz.py) share:
hypothesis strategies of nasty inputs, the targets that feed them to rnnkit, and the property.

The property, for every target: the call returns a value of the documented type, or raises
:class:`~rnnkit.errors.RnnkitError` (the documented ``TypeError`` where a Python object of the
wrong type is passed) whose message is one line; nothing else escapes (no ``IndexError``,
``KeyError``, ``UnicodeDecodeError``, ``OverflowError``, no numpy ``RuntimeWarning``), and no call
takes longer than :data:`SLOW_S`. On the command line: exit code 0 or 2, and on failure one line
``rnnkit...: error: ...`` at the end of standard error, never a traceback.

File contents are drawn from mutations of valid seeds (each task's ``example(folder)`` files and a
few hand-written ones) mixed with random bytes and text: BOMs, NULs, CR and CRLF line ends,
Unicode line separators, long lines, empty files, lone headers, missing and extra columns, quotes,
separators inside fields, numbers like ``nan``/``inf``/``1e309``, malformed dates, CoNLL lines with
the wrong number of columns, IDs with ``-`` and ``.``, comments and blank lines in odd places.

A target is a function ``(data, workdir) -> None`` that raises :class:`Defect` when the property
fails; ``data`` is hypothesis's ``data()`` object, from which the target draws what it needs.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

from rnnkit.errors import RnnkitError

SLOW_S = 20.0  # one call taking longer than this is a defect (an endless loop, a blow-up)


class Defect(AssertionError):
    """The property failed: what escaped, and on what input."""


# --------------------------------------------------------------------------- the property
def one_line(text: str) -> bool:
    return len(text.splitlines()) == 1 and text.strip() == text.strip("\n\r")


def check_call(
    call: Callable[[], Any],
    returns: type | tuple[type, ...] | None = None,
    allowed: tuple[type[BaseException], ...] = (RnnkitError,),
    what: str = "",
) -> Any:
    """Run ``call()``: its value (of type ``returns``), or ``None`` after an allowed error with a
    one-line message; :class:`Defect` for anything else. numpy's RuntimeWarnings are errors here."""
    start = time.perf_counter()
    try:
        with warnings.catch_warnings(), np.errstate(all="warn"):
            warnings.simplefilter("error", RuntimeWarning)
            value = call()
    except allowed as error:
        message = str(error)
        if not message or not one_line(message):
            raise Defect(f"{what}: {type(error).__name__} message is not one line: {message!r}")
        return None
    except Defect:
        raise
    except Exception as error:  # whatever escapes is what we look for
        raise Defect(f"{what}: {type(error).__name__} escaped: {error!s:.300}") from error
    elapsed = time.perf_counter() - start
    if elapsed > SLOW_S:
        raise Defect(f"{what}: took {elapsed:.0f} s")
    if returns is not None and not isinstance(value, returns):
        raise Defect(f"{what}: returned {type(value).__name__}, expected {returns}")
    return value


# --------------------------------------------------------------------------- nasty pieces
NASTY_FIELDS = [
    "",
    " ",
    "nan",
    "NaN",
    "-nan",
    "inf",
    "-inf",
    "Infinity",
    "1e309",
    "-1e309",
    "1e-400",
    "-0",
    "0",
    "1_000",
    "0x10",
    "١٢",  # Arabic-Indic digits: float() reads them
    '""',
    '"',
    "'",
    '"a,b"',
    "a\tb",
    "a,b",
    "NA",
    "null",
    "None",
    "_",
    "-",
    ".",
    "1-2",
    "1.1",
    "0-0",
    "#",
    "# comment",
    "-DOCSTART-",
    "2020-13-45",
    "2020-02-30",
    "0000-00-00",
    "9999-12-31",
    "9999-12",
    "0001-01-01",
    "2020-1-1",
    "2020-01-01T25:00",
    "2020-01",
    "20200101",
    "\x00",
    "\ufeff",
    "\u2028",
    "\x85",
    "\x0b",
    "é",
    "日本",
    "🙂",
    "\\",
    "<unk>",
    "<pad>",
    "text",
    "label",
    "Date",
    "Temp",
]
NASTY_BYTES = [
    b"\xef\xbb\xbf",  # UTF-8 BOM
    b"\xff\xfe",  # UTF-16 BOM
    b"\xfe\xff",
    b"\x00",
    b"\x80",
    b"\xc3",  # a truncated two-byte sequence
    b"\xed\xa0\x80",  # a surrogate, invalid in UTF-8
    b"\r",
    b"\r\n",
    b"\n\n",
    b"\t",
    b",",
    b'"',
    b" ",
]
LINE_ENDS = [b"\r\n", b"\r", "\u2028".encode(), b"\n\n", b"\x0c", "\x85".encode()]
SEPARATORS = ["\t", ",", " "]


def _split_lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


@st.composite
def mutated(draw: Any, seeds: Sequence[bytes]) -> bytes:
    """A seed file changed by 1..5 mutations."""
    data = draw(st.sampled_from(seeds))
    for _ in range(draw(st.integers(1, 5))):
        kind = draw(
            st.sampled_from(
                [
                    "field",
                    "field",
                    "field",
                    "insert",
                    "delete",
                    "line_ends",
                    "bom",
                    "truncate",
                    "line",
                    "line",
                    "separator",
                    "long",
                ]
            )
        )
        lines = _split_lines(data)
        row = draw(st.integers(0, max(len(lines) - 1, 0)))
        if kind == "field":  # one field of one line replaced by a nasty one
            text = lines[row].decode("utf-8", "replace")
            sep = next((s for s in SEPARATORS if s in text), "\t")
            fields = text.split(sep)
            fields[draw(st.integers(0, len(fields) - 1))] = draw(
                st.sampled_from(NASTY_FIELDS) | st.text(max_size=6)
            )
            lines[row] = sep.join(fields).encode("utf-8", "surrogatepass")
            data = b"\n".join(lines)
        elif kind == "insert":
            at = draw(st.integers(0, len(data)))
            piece = draw(st.sampled_from(NASTY_BYTES) | st.binary(min_size=1, max_size=6))
            data = data[:at] + piece + data[at:]
        elif kind == "delete":
            at = draw(st.integers(0, len(data)))
            data = data[:at] + data[at + draw(st.integers(1, 40)) :]
        elif kind == "line_ends":
            data = data.replace(b"\n", draw(st.sampled_from(LINE_ENDS)))
        elif kind == "bom":
            data = draw(st.sampled_from(NASTY_BYTES[:3])) + data
        elif kind == "truncate":
            data = data[: draw(st.integers(0, len(data)))]
        elif kind == "line":  # a line doubled, dropped, blanked, or one inserted
            how = draw(st.sampled_from(["double", "drop", "blank", "spaces", "comment", "only"]))
            if how == "double":
                lines.insert(row, lines[row])
            elif how == "drop" and lines:
                del lines[row]
            elif how == "blank":
                lines.insert(row, b"")
            elif how == "spaces":
                lines.insert(row, b" \t ")
            elif how == "comment":
                lines.insert(row, b"# " + draw(st.binary(max_size=8)))
            else:  # only the header (or only one line)
                lines = lines[:1]
            data = b"\n".join(lines)
        elif kind == "separator":  # a column more or fewer on one line
            sep = draw(st.sampled_from(SEPARATORS)).encode()
            line = lines[row]
            if draw(st.booleans()) and sep in line:
                at = line.index(sep)
                lines[row] = line[:at] + line[at + 1 :]
            else:
                lines[row] = line + sep + draw(st.sampled_from([b"", b"x", b"1", b'"']))
            data = b"\n".join(lines)
        else:  # a very long line: longer than the csv module's field limit (131,072)
            size = draw(st.sampled_from([300, 5_000, 140_000]))
            fill = draw(st.sampled_from([b"x", b'"', b"1", b"\t", b","]))
            lines[row] = lines[row] + fill * size
            data = b"\n".join(lines)
    return data


def garbage() -> st.SearchStrategy[bytes]:
    """Random bytes, random text, and text built from the nasty pieces."""
    pieces = st.lists(
        st.sampled_from(NASTY_FIELDS) | st.sampled_from(["\n", "\t", ",", "\r\n", " "]),
        max_size=30,
    ).map(lambda parts: "".join(parts).encode("utf-8", "surrogatepass"))
    return st.one_of(
        st.just(b""),
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
        pieces,
    )


def contents(seeds: Sequence[bytes]) -> st.SearchStrategy[bytes]:
    """File contents: mostly mutated seeds, sometimes the seeds as they are, sometimes garbage."""
    return st.one_of(
        mutated(seeds), mutated(seeds), mutated(seeds), st.sampled_from(seeds), garbage()
    )


# --------------------------------------------------------------------------- seeds
CONLLU_SEED = (
    "# sent_id = 1\n"
    "# text = The cat's toy\n"
    "1\tThe\tthe\tDET\tDT\t_\t2\tdet\t_\t_\n"
    "2-3\tcat's\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "2\tcat\tcat\tNOUN\tNN\t_\t4\tnmod\t_\t_\n"
    "3\t's\t's\tPART\tPOS\t_\t2\tcase\t_\t_\n"
    "3.1\tgone\tgo\tVERB\tVBN\t_\t_\t_\t_\t_\n"
    "4\ttoy\ttoy\tNOUN\tNN\t_\t0\troot\t_\t_\n"
    "\n"
    "# sent_id = 2\n"
    "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n"
    "2\t!\t!\tPUNCT\t.\t_\t1\tpunct\t_\t_\n"
)
CONLL_SEED = "-DOCSTART- O\n\nJohn B-PER\nlives\tO\nin O\nParis B-LOC\n\nHi O\n"
QUOTED_CSV_SEED = 'text,label\n"a film, with commas",1\n"a ""quoted"" word",0\n\'x\',1\n'
MONTHLY_SEED = '"Month","Passengers","Rain"\n"1949-01",112,3\n"1949-02",118,NA\n"1949-03",132,\n'


def task_seeds(folder: Path) -> dict[str, list[bytes]]:
    """The example files of each task (its ``example(folder)``), plus hand-written seeds, by the
    reader they feed: ``text``, ``labelled``, ``conllu``, ``conll``, ``series``, ``lines``."""
    from rnnkit.tasks import TASKS

    for name in ("lm", "classify", "tag", "forecast", "synthetic"):
        (folder / name).mkdir(parents=True, exist_ok=True)
        TASKS[name].example(folder / name)

    def read(*names: str) -> list[bytes]:
        return [(folder / name).read_bytes() for name in names]

    return {
        "text": read("lm/text.txt", "lm/held.txt", "lm/bad.txt"),
        "labelled": [
            *read("classify/train.tsv", "classify/dev.tsv", "classify/bad.tsv"),
            QUOTED_CSV_SEED.encode(),
            (folder / "classify/train.tsv").read_bytes().replace(b"\t", b","),
        ],
        "conllu": [CONLLU_SEED.encode(), *read("tag/bad.conllu")],
        "conll": [CONLL_SEED.encode(), *read("tag/train.conll")],
        "series": [*read("forecast/temps.csv", "forecast/bad.csv"), MONTHLY_SEED.encode()],
        "lines": read("classify/inputs.txt", "tag/inputs.txt", "synthetic/waves.jsonl"),
    }


_SEED_DIR = Path(tempfile.mkdtemp(prefix="rnnkit-fuzz-seeds-"))
SEEDS = task_seeds(_SEED_DIR)
ALL_SEEDS = [seed for group in SEEDS.values() for seed in group]


def write(workdir: Path, name: str, data: bytes) -> Path:
    path = workdir / name
    path.write_bytes(data)
    return path


# --------------------------------------------------------------------------- reader targets
def target_text(data: Any, workdir: Path) -> None:
    from rnnkit.data.text import Corpus, load_corpus, read_text

    path = write(workdir, "corpus.txt", data.draw(contents(ALL_SEEDS), "file"))
    check_call(lambda: read_text(path), str, what="read_text")
    check_call(lambda: load_corpus(path), Corpus, what="load_corpus")


def target_labelled(data: Any, workdir: Path) -> None:
    from rnnkit.data.labelled import LabelledText, build_label_vocab, encode_labels, read_labelled

    suffix = data.draw(st.sampled_from([".tsv", ".csv", ".txt", ""]), "suffix")
    path = write(workdir, f"labelled{suffix}", data.draw(contents(SEEDS["labelled"]), "file"))
    label_col = data.draw(st.sampled_from(["label", None]), "label_col")
    delimiter = data.draw(st.sampled_from([None, None, "\t", ",", ";"]), "delimiter")

    def read() -> LabelledText:
        rows = read_labelled(path, "text", label_col, delimiter=delimiter)
        if label_col is not None:
            vocab = build_label_vocab(rows.labels)
            encode_labels(rows.labels, vocab, "data")
        return rows

    check_call(read, LabelledText, what=f"read_labelled({suffix!r}, {label_col!r})")


def target_conll(data: Any, workdir: Path) -> None:
    from rnnkit.data.conll import TaggedCorpus, read_tagged, split_sentences

    fmt = data.draw(st.sampled_from(["conllu", "conll", "auto"]), "format")
    seeds = SEEDS["conllu"] + SEEDS["conll"]
    name = data.draw(st.sampled_from(["tags.conllu", "tags.conll", "tags.txt"]), "name")
    path = write(workdir, name, data.draw(contents(seeds), "file"))

    def read() -> TaggedCorpus:
        corpus = read_tagged(path, fmt)
        if len(corpus) > 1:
            split_sentences(corpus, 0.5)
        return corpus

    check_call(read, TaggedCorpus, what=f"read_tagged({name}, {fmt!r})")


def target_series(data: Any, workdir: Path) -> None:
    from rnnkit.data.timeseries import (
        StandardScaler,
        TimeSeries,
        calendar_features,
        chronological_split,
        next_dates,
        read_series,
    )

    path = write(workdir, "series.csv", data.draw(contents(SEEDS["series"]), "file"))
    fill = data.draw(st.sampled_from([None, "ffill", "interpolate"]), "fill")
    date_column = data.draw(st.sampled_from([None, "", "Date", "Month"]), "date_column")
    columns = data.draw(st.sampled_from([None, ["Temp"], ["Passengers", "Rain"]]), "columns")
    from_text = data.draw(st.booleans(), "text")

    def read() -> TimeSeries:
        text = path.read_text("utf-8", "replace") if from_text else None
        series = read_series(path, date_column=date_column, columns=columns, fill=fill, text=text)
        values = series.values
        assert values.dtype == np.float64 and np.all(np.isfinite(values)), values
        calendar_features(series.dates)
        next_dates(series.dates, 3)
        split = chronological_split(len(series), val_size=0.2, test_size=0.2)
        StandardScaler.fit(values[: split.train_end]).transform(values)
        return series

    check_call(read, TimeSeries, what=f"read_series(fill={fill!r}, date_column={date_column!r})")


def target_inputs(data: Any, workdir: Path) -> None:
    from rnnkit.data.conll import read_tokens
    from rnnkit.data.inputs import numbered_lines, numbered_texts

    suffix = data.draw(st.sampled_from([".tsv", ".csv", ".txt", ".tab"]), "suffix")
    seeds = SEEDS["lines"] + SEEDS["labelled"]
    path = write(workdir, f"inputs{suffix}", data.draw(contents(seeds), "file"))
    delimiter = data.draw(st.sampled_from([None, "\t", ",", "|"]), "delimiter")
    check_call(lambda: numbered_texts(path, "text", delimiter), list, what="numbered_texts")
    check_call(lambda: numbered_lines(path), list, what="numbered_lines")
    check_call(lambda: read_tokens(path.read_text("utf-8", "replace")), list, what="read_tokens")


# --------------------------------------------------------------------------- config files
TASK_NAMES = ["lm", "classify", "tag", "forecast", "synthetic"]


def _config_keys() -> dict[str, list[str]]:
    from rnnkit.tasks import TASKS

    keys: dict[str, list[str]] = {}
    for name in TASK_NAMES:
        defaults = TASKS[name].config_class().to_dict()
        keys[name] = [f"{section}.{key}" for section in defaults for key in defaults[section]]
    return keys


def values() -> st.SearchStrategy[Any]:
    """Values of a config setting: of every JSON type, edge numbers, nested garbage."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-5, 5),
        st.sampled_from([0, -1, 2**63, 10**400, -(10**30)]),
        st.floats(allow_nan=True, allow_infinity=True),
        st.sampled_from(["", "none", "nan", "inf", "lstm", "gru", "sine", "cpu", "cuda", "auto"]),
        st.sampled_from(["jsonl", "csv", "bogus", "0.5", "1e309", "é", "\x00"]),
        st.text(max_size=8),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(["a", "lr", "data", "train"]), inner, max_size=2)
        ),
        max_leaves=6,
    )


@st.composite
def config_tables(draw: Any, task: str) -> dict[str, Any]:
    """A config table: known sections and keys (and some unknown ones) with random values."""
    table: dict[str, Any] = {}
    keys = _CONFIG_KEYS[task] + ["data.bogus", "nope.x", "train.lr.x", "model"]
    for key in draw(st.lists(st.sampled_from(keys), max_size=5)):
        section, _, name = key.partition(".")
        value = draw(values())
        if not name:
            table[section] = value
        elif isinstance(table.setdefault(section, {}), dict):
            table[section][name] = value
    return table


_CONFIG_KEYS = _config_keys()


def _toml(table: dict[str, Any]) -> str:
    """A TOML rendering (not always valid TOML: the parser's errors are part of the test)."""
    from rnnkit.config import dump_config

    try:
        return dump_config(table, "toml")
    except (TypeError, ValueError):
        return json.dumps(table)


def target_config(data: Any, workdir: Path) -> None:
    from rnnkit.config import read_config_file
    from rnnkit.tasks import resolve_config

    task = data.draw(st.sampled_from(TASK_NAMES), "task")
    fmt = data.draw(st.sampled_from([".json", ".toml"]), "format")
    table = data.draw(config_tables(task), "table")
    text = json.dumps(table) if fmt == ".json" else _toml(table)
    raw = text.encode("utf-8", "surrogatepass")
    if data.draw(st.integers(0, 3), "mutate") == 0:
        raw = data.draw(mutated([raw]), "mutated")
    path = write(workdir, f"config{fmt}", raw)

    def resolve() -> Any:
        return resolve_config(task, read_config_file(path))[0]

    check_call(resolve, None, what=f"config {fmt} for {task}")


READERS: dict[str, Callable[[Any, Path], None]] = {
    "text": target_text,
    "labelled": target_labelled,
    "conll": target_conll,
    "series": target_series,
    "inputs": target_inputs,
    "config": target_config,
}


# --------------------------------------------------------------------------- trained models
def train_tiny(folder: Path) -> dict[str, tuple[Any, Path]]:
    """Each task's example trained for 2 steps (the synthetic task for each of its kinds), saved:
    ``name -> (TrainedModel, run directory)``."""
    import rnnkit
    from rnnkit.tasks import TASKS, load

    runs: dict[str, tuple[Any, Path]] = {}
    plans = {name: {} for name in ("lm", "classify", "tag", "forecast")}
    plans.update(
        {
            f"synthetic-{kind}": {"data": {"task": kind, "n_val": 8, "n_test": 8, "seq_len": 6}}
            for kind in ("sine", "adding", "mean-sign", "copy", "sentence")
        }
    )
    for plan, extra in plans.items():
        name = plan.split("-")[0]
        where = folder / plan
        where.mkdir(parents=True, exist_ok=True)
        settings = json.loads(json.dumps(TASKS[name].example(where).settings))
        for section, table in extra.items():
            settings[section].update(table)
        if plan == "synthetic-sentence":
            del settings["data"]["seq_len"]
        out = where / "run"
        settings["train"].update(
            max_steps=2, eval_every=1, save_every=1, out_dir=str(out), device="cpu", progress=False
        )
        rnnkit.train(name, settings, log=lambda message: None)
        runs[plan] = (load(out, "cpu"), out)
    return runs


# --------------------------------------------------------------------------- predict inputs
def _python_inputs() -> st.SearchStrategy[Any]:
    atoms = st.one_of(
        st.text(max_size=12),
        st.sampled_from(NASTY_FIELDS),
        st.integers(-3, 12),
        st.floats(allow_nan=True, allow_infinity=True),
        st.none(),
        st.booleans(),
    )
    nested = st.recursive(atoms, lambda inner: st.lists(inner, max_size=4), max_leaves=12)
    json_lines = st.lists(
        st.lists(st.floats(allow_nan=True, allow_infinity=True) | st.integers(-2, 12), max_size=12)
        | st.lists(st.lists(st.floats(-2, 2) | st.integers(0, 1), max_size=11), max_size=4),
        max_size=4,
    )
    return st.one_of(
        st.lists(st.text(max_size=20), max_size=4),
        st.lists(nested, max_size=4),
        json_lines,
        st.lists(json_lines.map(json.dumps), max_size=3),
        nested,
    )


def target_predict(runs: dict[str, tuple[Any, Path]]) -> Callable[[Any, Path], None]:
    """Predict (and evaluate) with a tiny trained model of a random task on a random input: a file
    (by the task's reader's seeds, of several suffixes) or Python objects."""
    from rnnkit.data.timeseries import TimeSeries
    from rnnkit.tasks import evaluate, predict

    seeds = {
        "lm": SEEDS["text"],
        "classify": SEEDS["lines"] + SEEDS["labelled"],
        "tag": SEEDS["lines"] + SEEDS["conllu"] + SEEDS["conll"],
        "forecast": SEEDS["series"],
        "synthetic": SEEDS["lines"],
    }
    suffixes = {
        "lm": [".txt"],
        "classify": [".txt", ".tsv", ".csv"],
        "tag": [".txt", ".conllu", ".conll"],
        "forecast": [".csv", ".txt"],
        "synthetic": [".jsonl", ".txt"],
    }

    def target(data: Any, workdir: Path) -> None:
        plan = data.draw(st.sampled_from(sorted(runs)), "model")
        trained, _ = runs[plan]
        name = plan.split("-")[0]
        if data.draw(st.integers(0, 2), "kind") < 2:
            suffix = data.draw(st.sampled_from(suffixes[name]), "suffix")
            inputs: Any = write(
                workdir, f"inputs{suffix}", data.draw(contents(seeds[name]), "file")
            )
            inputs = str(inputs) if data.draw(st.booleans(), "str") else inputs
            allowed: tuple[type[BaseException], ...] = (RnnkitError,)
        elif name == "forecast":
            steps = data.draw(st.integers(0, 14), "steps")
            values_ = data.draw(
                st.lists(
                    st.floats(allow_nan=True, allow_infinity=True), min_size=steps, max_size=steps
                ),
                "values",
            )
            dates = data.draw(
                st.lists(st.sampled_from(NASTY_FIELDS), min_size=steps, max_size=steps), "dates"
            )
            inputs = TimeSeries(dates, np.array(values_, dtype=np.float64).reshape(-1, 1), ["Temp"])
            allowed = (RnnkitError,)
        else:
            inputs = data.draw(_python_inputs(), "objects")
            allowed = (RnnkitError, TypeError)  # documented: inputs of the wrong Python type
        check_call(lambda: predict(trained, inputs), list, allowed, what=f"predict {plan}")
        if name in ("lm", "classify", "tag", "forecast") and isinstance(inputs, (str, Path)):
            check_call(lambda: evaluate(trained, inputs), list, allowed, what=f"evaluate {plan}")

    return target


def target_checkpoint(runs: dict[str, tuple[Any, Path]]) -> Callable[[Any, Path], None]:
    """Load a checkpoint that is damaged (a real one mutated or cut), or is no checkpoint."""
    from rnnkit.tasks import TrainedModel, load
    from rnnkit.training.checkpoint import load_checkpoint

    seeds = [(out / "last.pt").read_bytes() for _, out in runs.values()][:3] + SEEDS["text"]

    def target(data: Any, workdir: Path) -> None:
        raw = data.draw(contents(seeds), "file")
        path = write(workdir, data.draw(st.sampled_from(["last.pt", "x.txt"]), "name"), raw)
        check_call(lambda: load_checkpoint(path), dict, what="load_checkpoint")
        check_call(lambda: load(path, "cpu"), TrainedModel, what="load")

    return target


# --------------------------------------------------------------------------- command lines
ERROR_LINE = re.compile(r"^rnnkit( \S+)*: error: \S")


def run_cli(argv: list[str], stdin: str = "") -> tuple[int, str, str]:
    """``rnnkit ARGV`` in-process: ``(exit code, stdout, stderr)``; a :class:`Defect` for an
    exception that escapes ``main``."""
    from rnnkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    except Exception as error:  # whatever escapes main is a defect
        raise Defect(
            f"rnnkit {argv!r}: {type(error).__name__} escaped main: {error!s:.300}"
        ) from error
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


def check_cli(argv: list[str], stdin: str = "") -> int:
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a warning is not an error of the command line
        code, out, err = run_cli(argv, stdin)
    elapsed = time.perf_counter() - start
    if "Traceback" in err or "Traceback" in out:
        raise Defect(f"rnnkit {argv!r}: a traceback: {err[-500:]!r}")
    if code not in (0, 2):
        raise Defect(f"rnnkit {argv!r}: exit code {code}: {err[-300:]!r}")
    lines = err.splitlines()
    errors = [line for line in lines if ERROR_LINE.match(line)]
    bare = err.startswith("usage:")  # a bare `rnnkit` or `rnnkit train` prints its help
    if code == 2 and not bare and (len(errors) != 1 or not err.endswith(errors[0] + "\n")):
        raise Defect(f"rnnkit {argv!r}: exit 2 without one error line at the end: {err!r}")
    if code == 0 and errors:
        raise Defect(f"rnnkit {argv!r}: exit 0 with an error line: {err!r}")
    if elapsed > SLOW_S:
        raise Defect(f"rnnkit {argv!r}: took {elapsed:.0f} s")
    return code


INT_EDGES = ["0", "-1", "-0", " 2", "2.0", "1e3", "1" + "0" * 30, "-" + "9" * 25, "nan", ""]
FLOAT_EDGES = ["0", "-0", "-1", "1", "0.5", "0.999999", "2", "nan", "inf", "-inf", "1e309"]
FLOAT_EDGES += ["1e-320", "1e400", "", "0x1p-3", "1_0", "١٢"]
WORDS = ["", " ", "none", "None", "yes", "-", "--", "a,b", ",", "é", "🙂", "\x00", "x" * 300]
WORDS += ["lstm", "cpu", "cuda", "cuda:7", "meta", "auto", "jsonl,csv", "tensorboard", "bogus"]
# Options whose size sets the work done or the memory taken: small values in real training.
HEAVY = {"hidden", "embedding", "layers", "batch-size", "seq-len", "n-val", "n-test", "lookback"}
HEAVY |= {"horizon", "max-length", "eval-chars", "eval-streams", "char-filters", "length", "chars"}
HEAVY |= {"num-samples", "n-copy", "n-symbols", "max-builtin-chars", "char-embedding", "steps"}
PATH_DESTS = {"data", "input", "text", "prompt_file", "config", "resume", "output", "out"}


def _value(action: Any, paths: Sequence[str], light: bool) -> st.SearchStrategy[str]:
    """A value for an argparse action, mostly of its type (so that the command goes on past the
    parsing), sometimes an edge of it, sometimes anything."""
    kind = getattr(action.type, "__name__", "str") if action.type is not None else "str"
    dest = action.dest.removeprefix("setting:").rpartition(".")[2]
    flag = action.option_strings[0].lstrip("-") if action.option_strings else ""
    anything = st.sampled_from(WORDS) | st.text(max_size=6)
    if action.choices:
        typed = st.sampled_from([str(c) for c in action.choices])
    elif flag == "out" and not action.dest.startswith("setting:"):  # plot's and inspect's image
        typed = st.sampled_from(["out.png", "out.svg", "out.pdf", "out.html", "x.txt", "no/x.png"])
    elif kind == "int":
        small = st.integers(-1, 6).map(str)
        typed = small if light and flag in HEAVY else small | st.sampled_from(INT_EDGES)
    elif kind == "float":
        typed = st.sampled_from(FLOAT_EDGES) | st.floats(-2, 2).map(repr)
    elif dest in PATH_DESTS or flag in ("data", "val", "out", "csv", "text"):
        typed = st.sampled_from(list(paths))
    else:
        typed = anything | st.sampled_from(list(paths))
    return st.one_of(typed, typed, typed, typed, typed, anything) if not light else typed


def _options(parser: Any) -> list[Any]:
    """The option actions of an argparse parser, --help and --version left out."""
    return [
        action
        for action in parser._actions
        if action.option_strings and not {"-h", "--version"} & set(action.option_strings)
    ]


def _subparsers(parser: Any) -> dict[str, Any]:
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@st.composite
def argv_lists(
    draw: Any,
    command: str,
    runs: Sequence[str],
    paths: Sequence[str],
    real_train: bool = False,
    configs: dict[str, str] | None = None,
) -> list[str]:
    """A command line of ``command`` (``train`` picks a task): the required arguments (mostly
    valid), then known options with values mostly of their type, sometimes an edge value or
    anything; now and then an unknown option, a missing value or a stray argument.

    ``real_train``: a real training run of one step on the task's example data (``configs``:
    task -> its example settings as a JSON file), with small values for the options that set
    the size of the work."""
    from rnnkit.cli.main import build_parser

    parser, _ = build_parser()
    sub = _subparsers(parser)[command]
    argv = [command]
    anywhere = st.sampled_from(list(runs) + list(paths))
    if command == "train":
        task = draw(st.sampled_from(TASK_NAMES))
        argv.append(task)
        sub = _subparsers(sub)[task]
        if real_train and configs:
            argv += ["--config", configs[task]]
    elif command == "plot":
        argv += draw(st.lists(st.sampled_from(list(runs)) | anywhere, min_size=1, max_size=2))
    else:
        argv.append(draw(st.sampled_from(list(runs)) | st.sampled_from(list(runs)) | anywhere))
    options = _options(sub)
    required = [action for action in options if action.required]
    light = real_train
    for action in required:  # --input of predict, --out of plot and inspect
        if draw(st.integers(0, 19)):
            argv += [action.option_strings[0], draw(_value(action, paths, True))]
    for _ in range(draw(st.integers(0, 4))):
        action = draw(st.sampled_from(options))
        if light and action.dest in ("setting:train.max_minutes", "setting:train.max_steps"):
            continue
        argv.append(draw(st.sampled_from(action.option_strings)))
        if action.nargs == 0:
            continue
        if action.nargs == "?" and draw(st.booleans()):
            continue
        if not light and not draw(st.integers(0, 19)):
            continue  # the value is missing
        argv.append(draw(_value(action, paths, light)))
    if not light:
        extra = draw(st.integers(0, 19))
        if extra == 0:
            argv.append(draw(st.sampled_from(["--bogus", "--lr=", "-x", "--no-such", "stray"])))
        elif extra == 1:
            argv.insert(draw(st.integers(1, len(argv))), draw(st.sampled_from(WORDS)))
    if command == "train":
        if real_train:
            # one step on the CPU: the options above are the ones fuzzed
            argv += ["--steps", "1", "--max-minutes", "none", "--device", "cpu", "--no-progress"]
        else:
            argv.append("--print-config")
    return argv


def example_configs(workdir: Path) -> dict[str, str]:
    """Each task's example settings (on the seed folder's files) as a JSON config file."""
    from rnnkit.tasks import TASKS

    workdir.mkdir(parents=True, exist_ok=True)
    configs = {}
    for name in TASK_NAMES:
        settings = TASKS[name].example(_SEED_DIR / name).settings
        path = workdir / f"{name}-example.json"
        path.write_text(json.dumps(settings), encoding="utf-8")
        configs[name] = str(path)
    return configs


def cli_paths(
    workdir: Path, runs: dict[str, tuple[Any, Path]]
) -> tuple[list[str], list[str], dict[str, str]]:
    """``(runs, paths, configs)`` for command lines: run directories and checkpoint files of the
    tiny models; data files of every format, missing files, a directory, a garbage checkpoint,
    config files; and each task's example settings as a config file."""
    workdir.mkdir(parents=True, exist_ok=True)
    run_dirs = [str(out) for _, out in runs.values()]
    run_dirs += [str(Path(run_dirs[0]) / "last.pt")]
    files = {
        "garbage.pt": os.urandom(200),
        "empty.txt": b"",
        "bad.tsv": b"text\tlabel\nx\n",
        "latin1.txt": "caf\xe9\n".encode("latin-1"),
        "bom.csv": b"\xef\xbb\xbfDate,Temp\n2020-01-01,1\n",
        "config.json": json.dumps({"train": {"lr": "fast"}}).encode(),
        "config.toml": b"[train]\nlr = inf\n",
        "broken.toml": b"[train\n",
        "list.json": b"[1, 2]",
        "nan.csv": b"Date,Temp\n2020-01-01,nan\n2020-01-02,1e309\n",
    }
    paths = [str(write(workdir, name, data)) for name, data in files.items()]
    for seed_group in SEEDS.values():
        paths.append(str(write(workdir, f"seed{len(paths)}.txt", seed_group[0])))
    paths += [str(_SEED_DIR / "classify/train.tsv"), str(_SEED_DIR / "tag/train.conll")]
    paths += [str(_SEED_DIR / "forecast/temps.csv"), str(_SEED_DIR / "synthetic/waves.jsonl")]
    paths += [str(workdir / "missing.txt"), str(workdir), str(workdir / "out.png")]
    paths += [str(workdir / "out.svg"), str(workdir / "no/such/dir/out.html"), "out.pdf"]
    paths += [str(workdir / "out.html"), str(workdir / "out.jsonl"), str(workdir / "new/out.pt")]
    configs = example_configs(workdir)
    return run_dirs, paths + list(configs.values()), configs
