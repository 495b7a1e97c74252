"""Shared fixtures: the reference data sets in ../shared/data, skipped cleanly when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# Set before any test module imports torch (OpenMP reads it once, when torch loads it): threads
# that busy-wait make small models tens of times slower when the 2 cores are shared.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The folder of real data sets beside the project; skips the test where it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="module")
def one_thread():
    """Tiny models run fastest on one thread; several threads on a busy machine spin and crawl.
    A test module asks for it with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
