"""The docs run: every ```python block of README.md and docs/*.md, and every ``rnnkit`` command
line of their shell blocks and inline code parses with the real command line.

The blocks of one file run in order in one namespace (a later block may use an earlier one's
names), in a temporary working directory holding the small data files the snippets name (made
from the tasks' own ``example`` files). Every training run is capped at 2 steps: the snippets show
realistic settings, and this test only checks that they run.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
import shutil
import sys
import types
from pathlib import Path

import pytest
from parity_task import ParityTask

import rnnkit
from rnnkit.cli.main import build_parser
from rnnkit.data.conll import read_conll
from rnnkit.nn import CELLS
from rnnkit.tasks import TASKS, run

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```([\w-]*)[^\n]*\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE = re.compile(r"(?<!`)`(rnnkit [^`\n]+)`(?!`)")
SHELL = ("bash", "sh", "shell", "console", "")  # unlabelled blocks hold transcripts too
STEPS = 2


def fenced(path: Path, languages: tuple[str, ...]) -> list[tuple[int, str]]:
    """``(line of the block's first line of code, code)`` of the blocks in ``languages``."""
    text = path.read_text(encoding="utf-8")
    return [
        (text.count("\n", 0, m.start(2)) + 1, m.group(2))
        for m in FENCE.finditer(text)
        if m.group(1) in languages
    ]


def write_data(folder: Path) -> None:
    """The files the snippets name, made from the tasks' example files."""
    examples = folder / "examples"
    for name in ("lm", "classify", "tag", "forecast", "parity"):
        (examples / name).mkdir(parents=True)
    classify = rnnkit.TASKS["classify"].example(examples / "classify")
    train = Path(classify.settings["data"]["train"])
    shutil.copy(train, folder / "train.tsv")
    for name in ("dev.tsv", "test.tsv"):
        shutil.copy(classify.evaluate, folder / name)
    shutil.copy(classify.predict, folder / "texts.txt")

    lm = rnnkit.TASKS["lm"].example(examples / "lm")
    text = Path(lm.settings["data"]["text"]).read_text(encoding="utf-8")
    (folder / "shakespeare.txt").write_text(text * 3, encoding="utf-8")  # enough for 32 x 64
    shutil.copy(lm.evaluate, folder / "held_out.txt")

    tag = rnnkit.TASKS["tag"].example(examples / "tag")
    corpus = read_conll(tag.settings["data"]["train"])
    sentences = [
        "\n".join(
            f"{i}\t{word}\t_\t{tag}\t_\t_\t_\t_\t_\t_"
            for i, (word, tag) in enumerate(zip(words, tags), start=1)
        )
        for words, tags in zip(corpus.tokens, corpus.tags)
    ]
    (folder / "train.conllu").write_text("\n\n".join(sentences) + "\n", encoding="utf-8")

    parity = ParityTask().example(examples / "parity")
    shutil.copy(parity.settings["data"]["train"], folder / "bits.txt")
    shutil.copy(parity.predict, folder / "some.txt")

    forecast = rnnkit.TASKS["forecast"].example(examples / "forecast")
    series = Path(forecast.settings["data"]["csv"]).read_text(encoding="utf-8").splitlines()
    shutil.copy(forecast.settings["data"]["csv"], folder / "temps.csv")
    recent = [series[0], *series[-40:]]  # the header line and the last 40 days
    (folder / "recent.csv").write_text("\n".join(recent) + "\n", encoding="utf-8")


def write_named_files(path: Path, folder: Path) -> None:
    """A TOML or JSON block whose first line is ``# NAME`` is the file NAME the snippets read."""
    for _, code in fenced(path, ("toml", "json")):
        first = code.splitlines()[0]
        if first.startswith("# "):
            (folder / first[2:].strip()).write_text(code, encoding="utf-8")


@pytest.fixture
def capped_training(monkeypatch):
    """Every run trains STEPS steps, evaluating and saving at each (whatever its settings), and
    the trainer refuses a run that escaped the cap (a config object given to rnnkit.train)."""
    resolve, trainer = run.resolve_config, run.Trainer
    runs = []

    def capped_resolve(*args, **kwargs):
        config, checkpoint = resolve(*args, **kwargs)
        train = dataclasses.replace(
            config.train, max_steps=STEPS, max_minutes=None, eval_every=1, save_every=1
        )
        return dataclasses.replace(config, train=train), checkpoint

    def checked_trainer(model, run_context, *args, **kwargs):
        settings = run_context.settings  # the run's TrainConfig
        assert settings.max_steps == STEPS and settings.max_minutes is None, (
            "a documented training run is not capped: pass rnnkit.train a dict of settings"
        )
        runs.append(settings)
        return trainer(model, run_context, *args, **kwargs)

    monkeypatch.setattr(run, "resolve_config", capped_resolve)
    monkeypatch.setattr(run, "Trainer", checked_trainer)
    return runs


@pytest.fixture
def parity_registered():
    """Leave the registries as they were (docs/tasks.md registers the parity task, docs/cells.md
    a cell)."""
    before, cells = dict(TASKS), dict(CELLS)
    yield
    TASKS.clear()
    TASKS.update(before)
    CELLS.clear()
    CELLS.update(cells)


def test_the_docs_hold_python_blocks():
    assert (ROOT / "docs" / "tasks.md") in DOCS
    assert all(fenced(path, ("python",)) for path in DOCS), "a guide without a Python example"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_python_blocks_run(path, tmp_path, monkeypatch, capped_training, parity_registered):
    write_data(tmp_path)
    write_named_files(path, tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(Path(__file__).parent))  # parity_task, as docs/tasks.md says
    module = types.ModuleType("docs_snippet")  # one namespace, importable as a module is
    monkeypatch.setitem(sys.modules, module.__name__, module)
    blocks = fenced(path, ("python",))
    for line, code in blocks:
        # padded so that a traceback gives the line of the Markdown file; no __future__ inherited
        compiled = compile("\n" * (line - 1) + code, str(path), "exec", dont_inherit=True)
        exec(compiled, module.__dict__)  # noqa: S102 -- the docs' own examples, the point here
    if any("rnnkit.train(" in code for _, code in blocks):
        assert capped_training, "the training runs did not go through the runner"


def command_lines(path: Path) -> list[tuple[int, list[str]]]:
    """``(line, argv)`` of every ``rnnkit`` command in the file's shell blocks and inline code;
    ``python rnnkit_parity.py`` (docs/tasks.md's launcher) counts as ``rnnkit``."""
    found = []
    for start, code in fenced(path, SHELL):
        for offset, line in enumerate(code.replace("\\\n", " ").splitlines()):
            found += [(start + offset, argv) for argv in _commands(line.strip().removeprefix("$ "))]
    # inline code outside the blocks (each block blanked, its line breaks kept)
    text = FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), path.read_text(encoding="utf-8"))
    for match in INLINE.finditer(text):
        # a command line, not a command's name (`rnnkit sample`) nor a pattern (TASK, NAME)
        if " --" in match.group(1) and not re.search(r"\b(TASK|NAME|COMMAND)\b", match.group(1)):
            found += [
                (text.count("\n", 0, match.start()) + 1, argv) for argv in _commands(match.group(1))
            ]
    return found


def _commands(line: str) -> list[list[str]]:
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split, lexer.commenters = True, "#"
    try:
        tokens = list(lexer)
    except ValueError:  # not shell (an output line with an open quote)
        return []
    commands, current, skip = [], [], False
    for token in tokens + [";"]:
        if skip:
            skip = False
        elif token in (">", ">>", "<"):
            skip = True  # and the file after it
        elif token in ("|", "||", "&&", ";", "(", ")", "&"):
            commands.append(current)
            current = []
        else:
            current.append(token)
    found = []
    for words in commands:
        if words[:1] == ["rnnkit"]:
            found.append(words[1:])
        elif words[:2] == ["python", "rnnkit_parity.py"]:
            found.append(words[2:])
    return [[w for w in argv if w not in ("-h", "--help")] for argv in found]


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_rnnkit_command_lines_parse(path, parity_registered, capsys):
    rnnkit.register(ParityTask())
    parser, _ = build_parser()
    lines = command_lines(path)
    assert lines, f"{path.name} shows no rnnkit command"
    failures = []
    for line, argv in lines:
        try:
            args = parser.parse_args(argv)
        except SystemExit:
            failures.append(
                f"{path.name}:{line}: rnnkit {shlex.join(argv)}\n  "
                + capsys.readouterr().err.strip().splitlines()[-1]
            )
            continue
        if args.command is None or (args.command == "train" and args.task is None):
            failures.append(f"{path.name}:{line}: rnnkit {shlex.join(argv)}: no command to run")
    assert not failures, "\n".join(failures)


def test_a_wrong_option_in_the_docs_would_be_caught(parity_registered):
    rnnkit.register(ParityTask())
    parser, _ = build_parser()
    assert _commands('echo "x" | rnnkit predict runs/tag --input - > out.jsonl') == [
        ["predict", "runs/tag", "--input", "-"]
    ]
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "lm", "--text-file", "notes.txt"])


IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


@pytest.mark.parametrize("path", DOCS, ids=lambda p: p.name)
def test_the_pictures_exist_and_are_small(path):
    """Each picture a doc shows is in the repository, a PNG of under 200 KB."""
    for name in IMAGE.findall(path.read_text(encoding="utf-8")):
        image = path.parent / name
        assert image.is_file(), f"{path.name} shows {name}, which is missing"
        assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", f"{name} is not a PNG"
        assert image.stat().st_size < 200_000, f"{name} is {image.stat().st_size:,} bytes"
