"""Layering: no module of rnnkit imports from a layer above its own.

Every module is parsed with ``ast`` (nothing is imported), so an import inside a function counts as
much as one at the top of the file. A module may import from its own layer and from those below it;
``from rnnkit import __version__`` is allowed anywhere; the top-level ``rnnkit/__init__.py`` (the
public API, which gathers every layer) and ``rnnkit/__main__.py`` are exempt.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SRC / "rnnkit"

# Bottom up: a layer may use those before it in this list, never those after it.
LAYERS = [
    "rnnkit.errors",
    "rnnkit.extras",
    "rnnkit.formatting",  # how numbers are written, for every layer
    "rnnkit.config",
    "rnnkit.nn",
    "rnnkit.layers",  # the older names of rnnkit.nn
    "rnnkit.cells",
    "rnnkit.data",
    "rnnkit.metrics",
    "rnnkit.models",
    "rnnkit.training",
    "rnnkit.inspection",
    "rnnkit.export",  # what is traced of a model and how the file is written (below the tasks)
    "rnnkit.tasks",
    "rnnkit.plots",
    "rnnkit.cli",
]
EXEMPT = {"rnnkit", "rnnkit.__main__"}
ANYWHERE = {"rnnkit.__version__"}  # names of the top-level package any module may import
TOP = "the top-level package rnnkit (the public API, above every layer)"


def _module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _layer(module: str) -> str | None:
    """The layer ``module`` belongs to: the longest entry of LAYERS that is it or a package of it."""
    found = [layer for layer in LAYERS if module == layer or module.startswith(layer + ".")]
    return max(found, key=len) if found else None


def _at(layer: str) -> str:
    """How a message names ``layer``: "layer 8 of 16, rnnkit.models" (the count follows LAYERS)."""
    return f"layer {LAYERS.index(layer) + 1} of {len(LAYERS)}, {layer}"


def _describe(layer: str | None) -> str:
    if layer is None:
        return "no layer (add it to LAYERS in tests/test_layering.py)"
    return f"layer {LAYERS.index(layer) + 1} of {len(LAYERS)}, {layer}"


def _imports(tree: ast.AST, module: str, is_package: bool) -> list[tuple[str, int]]:
    """``(imported module or top-level name, line)`` for every rnnkit import in ``tree``."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[tuple[str, int]] = []
    for node in ast.walk(tree):  # every node: imports inside functions and branches too
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . import x, from ..data import y
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source == "rnnkit":
                # from rnnkit import layers -> rnnkit.layers; from rnnkit import X -> rnnkit.X,
                # a submodule or a name of the top-level package (told apart in _check)
                found += [(f"rnnkit.{alias.name}", node.lineno) for alias in node.names]
            else:
                found.append((source, node.lineno))
    return [(name, line) for name, line in found if name.split(".")[0] == "rnnkit"]


def _is_submodule(name: str, root: Path) -> bool:
    """Whether ``rnnkit.X`` names a module or package of the source tree (not an attribute)."""
    path = root.joinpath(*name.split(".")[1:])
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _check(source: str, module: str, is_package: bool, where: str, root: Path) -> list[str]:
    """The layering violations of one module's ``source``, one message each."""
    problems = []
    own = _layer(module)
    for imported, line in _imports(ast.parse(source, filename=where), module, is_package):
        if imported in ANYWHERE:
            continue
        top_level = imported == "rnnkit" or (
            imported.count(".") == 1 and not _is_submodule(imported, root)
        )
        if top_level:
            problems.append(
                f"{where}:{line}: {module} ({_describe(own)}) imports {imported} from {TOP}"
            )
            continue
        target = _layer(imported)
        if own is None or target is None or LAYERS.index(target) > LAYERS.index(own):
            problems.append(
                f"{where}:{line}: {module} ({_describe(own)}) imports {imported} "
                f"({_describe(target)}), a layer above its own"
            )
    return problems


def _modules(root: Path) -> list[tuple[Path, str]]:
    return [(path, _module_name(path, root.parent)) for path in sorted(root.rglob("*.py"))]


def test_every_module_is_in_a_layer():
    modules = _modules(PACKAGE)
    assert len(modules) > 20, f"expected the sources under {PACKAGE}"
    outside = [name for _, name in modules if name not in EXEMPT and _layer(name) is None]
    assert outside == [], f"modules in no layer; add them to LAYERS: {outside}"


def test_no_module_imports_from_a_layer_above_its_own():
    problems = []
    for path, module in _modules(PACKAGE):
        if module in EXEMPT:
            continue
        source = path.read_text(encoding="utf-8")
        where = str(path.relative_to(SRC.parent))
        problems += _check(source, module, path.name == "__init__.py", where, PACKAGE)
    assert problems == [], "imports against the layer order:\n" + "\n".join(problems)


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "rnnkit.models.classifier",
            "def f():\n    from rnnkit.training import Trainer\n",
            (
                f"x.py:2: rnnkit.models.classifier ({_at('rnnkit.models')}) imports "
                f"rnnkit.training ({_at('rnnkit.training')}), a layer above its own"
            ),
        ),
        (
            "rnnkit.data.text",
            "from .. import training\n",
            (
                f"x.py:1: rnnkit.data.text ({_at('rnnkit.data')}) imports rnnkit.training "
                f"({_at('rnnkit.training')}), a layer above its own"
            ),
        ),
        (
            "rnnkit.nn.runner",
            "from rnnkit import __version__, GRU\n",
            f"x.py:1: rnnkit.nn.runner ({_at('rnnkit.nn')}) imports rnnkit.GRU from {TOP}",
        ),
        (
            "rnnkit.nn.cells",
            "import rnnkit.cli.main\n",
            (
                f"x.py:1: rnnkit.nn.cells ({_at('rnnkit.nn')}) imports rnnkit.cli.main "
                f"({_at('rnnkit.cli')}), a layer above its own"
            ),
        ),
    ],
)
def test_the_check_names_both_modules_and_both_layers(module, source, expected):
    assert _check(source, module, False, "x.py", PACKAGE) == [expected]


def test_the_check_allows_own_layer_lower_layers_and_the_version():
    source = (
        "from rnnkit import __version__, nn\n"
        "from rnnkit.models.crf import CRF\n"
        "from rnnkit.errors import RnnkitError\n"
        "from . import crf\n"
        "import torch\n"
    )
    assert _check(source, "rnnkit.models.tagger", False, "x.py", PACKAGE) == []
