"""How rnnkit writes numbers for people: the one formatter of report figures, rates and counts.

At the bottom of the layers (it imports nothing from rnnkit), so that reports, progress lines and
messages of every package print a number the same way.
"""

from __future__ import annotations

__all__ = ["count", "figure", "rate"]


def figure(value: float) -> str:
    """A score as reports print it: an integer, or a whole float from 1,000 up, with thousands
    separators (``12,345``); four decimals from 0.001 to 100,000 and for 0 (``0.8123``); else
    four significant digits (``1.235e-05``, ``2.5e+05`` for 250,000.5)."""
    if isinstance(value, int) or (float(value).is_integer() and abs(value) >= 1000):
        return f"{int(value):,}"
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4f}"
    return f"{value:.4g}"


def rate(value: float) -> str:
    """A rate with one decimal and a k or M suffix: ``950.0``, ``12.3k``, ``4.5M``."""
    for unit, scale in (("M", 1e6), ("k", 1e3)):
        if value >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value:.1f}"


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` things in words: ``1 sentence``, ``0 sentences``, ``1,024 sentences`` (``plural``:
    the plural when it is not ``noun + "s"``)."""
    return f"{n:,} {noun if n == 1 else plural or noun + 's'}"
