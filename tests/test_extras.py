"""rnnkit.extras: a feature whose optional package is missing says which extra to install."""

import importlib
import re
from pathlib import Path

import pytest

from rnnkit.errors import RnnkitError
from rnnkit.extras import require


def test_require_imports_an_installed_extra():
    assert require("plot", "rnnkit plot").__name__ == "matplotlib"


def test_a_missing_extra_is_one_line_naming_it(monkeypatch):
    real = importlib.import_module

    def fake(name, *args):
        if name.startswith("tensorboard"):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return real(name, *args)

    monkeypatch.setattr(importlib, "import_module", fake)
    with pytest.raises(RnnkitError) as caught:
        require("tensorboard", "--logger tensorboard")
    message = str(caught.value)
    assert message.startswith("--logger tensorboard needs tensorboard, which is not installed: ")
    assert 'pip install "rnnkit[tensorboard]"' in message
    assert "\n" not in message


def test_an_unknown_extra_is_a_value_error():
    with pytest.raises(
        ValueError,
        match=(
            "extra: expected one of plot, tensorboard, onnx, text, pandas, datasets, forecast, "
            "got 'x'"
        ),
    ):
        require("x", "something")


def test_the_readme_asks_for_the_torch_of_pyproject():
    """One torch floor: the one pyproject.toml requires (the code needs torch 2.4's API)."""
    root = Path(__file__).resolve().parents[1]
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    (floor,) = re.findall(r'"torch(>=[0-9.]+)"', pyproject)
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert floor == ">=2.4"
    assert set(re.findall(r"torch(>=[0-9.]+)", readme)) == {floor}
