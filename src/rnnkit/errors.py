"""The one exception type of rnnkit for bad data, files and options.

Shape and type errors in the layers raise ``ValueError``/``TypeError``/``RuntimeError`` as
``torch.nn`` does; everything about user files, checkpoints and options raises :class:`RnnkitError`.
The command line turns all of them into one line on stderr and exit code 2.
"""

from __future__ import annotations


class RnnkitError(Exception):
    """A problem with the user's input (a file, a checkpoint, an option), explained in the message."""
