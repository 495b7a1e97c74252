"""Plugins (rnnkit.tasks.plugins): installed packages that register cells and tasks on import.

Most tests fake the entry points (``importlib.metadata.entry_points``); the last ones install two
plugins for real, as a ``*.dist-info`` folder on ``PYTHONPATH``, and run the command in a
subprocess: one that breaks costs one warning line, the one that works has its command.
"""

from __future__ import annotations

import importlib.metadata
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from parity_task import ParityTask

import rnnkit
from rnnkit.cli import main
from rnnkit.nn import CELLS
from rnnkit.tasks import TASKS, load_plugins, register
from rnnkit.tasks.plugins import GROUP, OLD_GROUP

TESTS = Path(__file__).resolve().parent
SRC = TESTS.parent / "src"


class Entry:
    """An ``importlib.metadata.EntryPoint``: a name and what loading it does."""

    def __init__(self, name, load):
        self.name, self.load = name, load


def _add_cell_and_task():
    register_cell = rnnkit.register_cell
    register_cell("plugin-gru", CELLS["gru"])  # what the registry holds for gru, by a new name
    register(ParityTask())


def _broken():
    raise ModuleNotFoundError("No module named 'torchx'")


@pytest.fixture
def plugins(monkeypatch):
    """Install fake entry points: ``plugins({group: [Entry...]})``; undone after the test."""

    def install(groups):
        monkeypatch.setattr(importlib.metadata, "entry_points", lambda group: groups.get(group, []))

    yield install
    TASKS.pop("parity", None)
    CELLS.pop("plugin-gru", None)


def test_a_plugin_registers_cells_and_tasks_that_the_command_line_offers(plugins, capsys):
    TASKS.pop("parity", None)
    plugins({GROUP: [Entry("parity", _add_cell_and_task)]})
    assert load_plugins() == ["parity"]
    assert "parity" in TASKS and "plugin-gru" in CELLS
    assert main(["train", "parity", "--help"]) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "plugin-gru" in help_text  # a choice of --cell of every task


def test_the_old_group_still_works_with_a_deprecation_warning(plugins):
    TASKS.pop("parity", None)
    plugins({OLD_GROUP: [Entry("parity", lambda: register(ParityTask()))]})
    with pytest.warns(
        DeprecationWarning, match=f"'parity' uses the entry-point group '{OLD_GROUP}'"
    ):
        assert load_plugins() == ["parity"]
    assert "parity" in TASKS


def test_a_plugin_that_fails_is_one_warning_line_and_the_others_load(plugins, caplog, recwarn):
    TASKS.pop("parity", None)
    entries = [Entry("broken", _broken), Entry("parity", _add_cell_and_task)]
    plugins({GROUP: entries, OLD_GROUP: [Entry("old-broken", lambda: 1 / 0)]})
    with caplog.at_level(logging.WARNING, logger="rnnkit.tasks.plugins"):
        assert load_plugins() == ["parity"]
    failed = "rnnkit: warning: the plugin {} failed to load ({}); rnnkit works without it"
    assert [record.getMessage() for record in caplog.records] == [
        failed.format("'broken'", "ModuleNotFoundError: No module named 'torchx'"),
        failed.format("'old-broken'", "ZeroDivisionError: division by zero"),
    ]
    assert [type(w.message) for w in recwarn] == [DeprecationWarning]  # for old-broken's group
    assert "parity" in TASKS and "plugin-gru" in CELLS


def _install(folder: Path, group: str, entries: dict[str, str], modules: dict[str, str]) -> None:
    """A package ``fakeplugins`` installed in ``folder``: its dist-info names ``entries`` (entry
    name -> module) in ``group``; ``modules`` are the modules' sources."""
    info = folder / "fakeplugins-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplugins\nVersion: 0.1\n")
    lines = [f"[{group}]", *(f"{name} = {module}" for name, module in entries.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for name, source in modules.items():
        (folder / f"{name}.py").write_text(source)


def _rnnkit(folder: Path, *argv: str) -> subprocess.CompletedProcess:
    path = os.pathsep.join([str(folder), str(TESTS), str(SRC)])
    env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1"}
    env.pop("RNNKIT_DEBUG", None)
    command = [sys.executable, "-m", "rnnkit", *argv]
    return subprocess.run(
        command, check=False, capture_output=True, text=True, env=env, timeout=120
    )


def test_an_installed_plugin_that_fails_to_import_costs_one_line(tmp_path):
    # the working plugin does what docs/tasks.md shows: `import rnnkit` and rnnkit.register
    working = "import rnnkit\nfrom parity_task import ParityTask\nrnnkit.register(ParityTask())\n"
    modules = {"broken_plugin": "import no_such_module_here\n", "parity_plugin": working}
    entries = {"broken": "broken_plugin", "parity": "parity_plugin"}
    _install(tmp_path, GROUP, entries, modules)
    done = _rnnkit(tmp_path, "--version")
    assert done.returncode == 0 and done.stdout == f"rnnkit {rnnkit.__version__}\n"
    assert done.stderr == (
        "rnnkit: warning: the plugin 'broken' failed to load (ModuleNotFoundError: No module "
        "named 'no_such_module_here'); rnnkit works without it\n"
    )
    done = _rnnkit(tmp_path, "train", "parity", "--help")
    assert done.returncode == 0 and done.stdout.startswith("usage: rnnkit train parity ")
