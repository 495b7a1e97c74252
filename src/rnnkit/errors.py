"""The one exception type of rnnkit for bad data, files and options.

Shape and type errors in the layers raise ``ValueError``/``TypeError``/``RuntimeError`` as
``torch.nn`` does; everything about user files, checkpoints and options raises :class:`RnnkitError`
where it is detected (or re-raises one from the lower error, at the boundary where a setting
becomes a layer argument). The command line turns an :class:`RnnkitError` into one line on stderr
and exit code 2; any other exception is a bug, shown with its traceback (exit code 1).
"""

from __future__ import annotations


class RnnkitError(Exception):
    """A problem with the user's input (a file, a checkpoint, an option), explained in the message."""


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for a value from the user's input in a
    message: the repr escapes line breaks (``\\n``, ``\\r``, ``\\u2028``...) so the message stays
    one line, and the cut keeps a file read as one huge cell from flooding it."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 4]}...{text[-1]}"


def shown_names(names: list, limit: int = 12) -> str:
    """The first ``limit`` names (of columns...), comma-separated, and how many in all: a plain
    name as it is, one that is empty, long or holds a control character :func:`shown`."""

    def one(name: object) -> str:
        text = str(name)
        return text if text and text.isprintable() and len(text) <= 40 else shown(text, 40)

    head = ", ".join(one(name) for name in values[:limit]) if (values := list(names)) else "none"
    return head + (f", ... ({len(values)} in all)" if len(values) > limit else "")
