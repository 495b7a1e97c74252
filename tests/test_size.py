"""The shape rules of the sources (issue 16, docs/ARCHITECTURE.md): no class longer than 300 lines,
no function longer than 60, no module longer than 600, so that every piece fits in a reader's head.
Checked with ``ast`` on every module under src/ (nothing is imported); a docstring counts."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "rnnkit"
LIMITS = {"class": 300, "function": 60, "module": 600}


def too_long(source: str, where: str) -> list[str]:
    """``where:line name (kind, N lines > limit)`` for each piece of ``source`` over its limit."""
    found = []
    lines = len(source.splitlines())
    if lines > LIMITS["module"]:
        found.append(f"{where} (module, {lines} lines > {LIMITS['module']})")
    for node in ast.walk(ast.parse(source, filename=where)):
        if isinstance(node, ast.ClassDef):
            kind = "class"
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            kind = "function"
        else:
            continue
        size = node.end_lineno - node.lineno + 1
        if size > LIMITS[kind]:
            found.append(
                f"{where}:{node.lineno} {node.name} ({kind}, {size} lines > {LIMITS[kind]})"
            )
    return found


def test_no_class_function_or_module_is_over_its_limit():
    found = []
    for path in sorted(SRC.rglob("*.py")):
        found += too_long(path.read_text(encoding="utf-8"), str(path.relative_to(SRC.parent)))
    assert found == [], "over the size limits:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n" + "    x = 1\n" * 60, ["m.py:1 f (function, 61 lines > 60)"]),
        ("def f():\n" + "    x = 1\n" * 59, []),
        (
            "class A:\n    def g(self):\n        pass\n" + "    y = 1\n" * 298,
            ["m.py:1 A (class, 301 lines > 300)"],
        ),
        ("x = 1\n" * 601, ["m.py (module, 601 lines > 600)"]),
    ],
)
def test_the_check_counts_lines_of_each_kind(source, expected):
    assert too_long(source, "m.py") == expected
