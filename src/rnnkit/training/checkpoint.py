"""Checkpoints: atomic saving and safe loading of plain-data dictionaries of tensors.

A checkpoint is one ``dict`` written with :func:`torch.save` and read back with
``torch.load(..., weights_only=True, map_location="cpu")``, so it may hold only tensors and plain
Python types (dict, list, tuple, str, int, float, bool, None). A file that would need to run code
to unpickle is refused with a clear :class:`~rnnkit.errors.RnnkitError`.

Layout written by :class:`rnnkit.training.Trainer` (tasks may add keys; readers ignore unknown ones)::

    {
      "format_version": 2,            # FORMAT_VERSION; readers refuse other versions
      "rnnkit_version": "0.1.0",
      "task": "lm",                    # "lm", "classify", "tag", "forecast", "synthetic": for dispatch
      "model_config": {...},           # asdict() of the model's config dataclass
      "model_state": {...},            # model.state_dict()
      "task_state": {...},             # the task's plain state: vocabulary, label maps, scalers...
      "train": {...},                  # optimizer, schedule, RNG, step, data position (Trainer only)
    }

Every write goes to a temporary file in the same directory, is flushed and fsync'ed, then renamed
over the target, so a crash mid-write leaves the previous checkpoint intact. The file gets the
permissions of any other file the process creates (``0o666 & ~umask``).
"""

from __future__ import annotations

import os
import pickle
import re
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch

from rnnkit import __version__
from rnnkit.errors import RnnkitError

__all__ = [
    "CHECKPOINT_NAMES",
    "FORMAT_VERSION",
    "atomic_write",
    "check_plain",
    "find_checkpoint",
    "is_partial_file",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT_VERSION = 2  # 2: task_state["config"] holds the whole task config (data, model, train)
# Looked for, in this order, when a directory is given instead of a file.
CHECKPOINT_NAMES = ("best.pt", "last.pt")

_PLAIN_LEAVES = (str, int, float, bool, type(None), torch.Tensor, torch.dtype, torch.Size)


def check_plain(obj: Any, where: str = "checkpoint") -> None:
    """Raise ``TypeError`` naming the key path when ``obj`` holds anything but tensors and plain types."""
    if isinstance(obj, _PLAIN_LEAVES):
        return
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if not isinstance(key, (str, int)):
                raise TypeError(
                    f"{where}: key {key!r} must be str or int, got {type(key).__name__}"
                )
            check_plain(value, f"{where}[{key!r}]")
        return
    if isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            check_plain(value, f"{where}[{index}]")
        return
    raise TypeError(
        f"{where} holds a {type(obj).__module__}.{type(obj).__qualname__}; checkpoints may hold only "
        "tensors and plain Python types (convert it with to_dict()/asdict()/tolist())"
    )


# The name of atomic_write's temporary file: ".NAME.XXXXXXXX.tmp" (mkstemp adds 8 characters).
PARTIAL_FILE = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")


def is_partial_file(path: Path) -> bool:
    """Whether ``path`` is a temporary file of :func:`atomic_write` (one a killed process left)."""
    return bool(PARTIAL_FILE.match(path.name)) and path.is_file()


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[Any], None], *, what: str = "file"
) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, fsync it, then rename it to ``path``.

    The rename is atomic on POSIX and Windows, so readers see either the old or the new file.
    The file's mode follows the umask (``0o666 & ~umask``), as for a file made with ``open()``.
    Whatever stops the write (an exception, Ctrl-C) removes the temporary file; a failure of the
    file system (a full disk, a quota, an I/O error) is an :class:`RnnkitError` naming ``what``
    and ``path``, such as ``cannot write checkpoint runs/x/last.pt: No space left on device``.
    """
    path = Path(path)
    directory = path.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise RnnkitError(f"cannot write to {directory}: {error.strerror or error}") from error
    try:
        # mkstemp makes the file private (0o600); give it the mode open() would have given it
        mode = 0o666 & ~_umask()
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        else:  # Windows before Python 3.13
            os.chmod(tmp_name, mode)
        with os.fdopen(fd, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp_name, path)
    except BaseException as error:
        try:
            os.unlink(tmp_name)
        except OSError:
            pass
        cause = _os_error(error) if isinstance(error, Exception) else None  # not Ctrl-C
        if cause is None:
            raise
        raise RnnkitError(
            f"cannot write {what} {path}: {cause.strerror or cause}; the previous {path.name} "
            "(if any) is unchanged"
        ) from error
    try:  # make the rename itself durable; not possible on every platform
        dir_fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


def _os_error(error: BaseException) -> OSError | None:
    """The ``OSError`` behind ``error``: itself, or one it was raised from or during.

    torch's zip writer turns a failed ``write()`` of the file (ENOSPC) into a ``RuntimeError``
    ("unexpected pos ...") raised while handling it; the ``OSError`` is its ``__context__``.
    """
    seen = 0
    while error is not None and seen < 10:
        if isinstance(error, OSError):
            return error
        error, seen = error.__cause__ or error.__context__, seen + 1
    return None


def _umask() -> int:
    """The process's umask, left as it is."""
    try:  # Linux shows it; reading it elsewhere means setting it, briefly, for every thread
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def save_checkpoint(path: str | os.PathLike[str], checkpoint: Mapping[str, Any]) -> Path:
    """Atomically save ``checkpoint`` (a dict with at least ``task``), adding the format version."""
    if "task" not in checkpoint or not isinstance(checkpoint["task"], str):
        raise ValueError("a checkpoint needs a 'task' string (e.g. 'lm', 'classify')")
    data = {"format_version": FORMAT_VERSION, "rnnkit_version": __version__, **checkpoint}
    check_plain(data)
    return atomic_write(path, lambda file: torch.save(data, file), what="checkpoint")


def find_checkpoint(path: str | os.PathLike[str]) -> Path:
    """The checkpoint file for ``path``: the file itself, or ``best.pt`` then ``last.pt`` in a directory."""
    path = Path(path)
    if path.is_dir():
        for name in CHECKPOINT_NAMES:
            if (path / name).is_file():
                return path / name
        raise RnnkitError(f"no checkpoint ({' or '.join(CHECKPOINT_NAMES)}) in directory {path}")
    if not path.exists():
        raise RnnkitError(f"checkpoint not found: {path}")
    if not path.is_file():
        raise RnnkitError(f"checkpoint is not a regular file: {path}")
    return path


def load_checkpoint(path: str | os.PathLike[str], *, task: str | None = None) -> dict[str, Any]:
    """Load a checkpoint file (or the one in a directory, see :func:`find_checkpoint`) onto the CPU.

    Raises ``RnnkitError`` for a missing, corrupt, truncated, unsafe (code-running), foreign or
    newer-format file, and when ``task`` is given and differs from the checkpoint's task.
    The returned dict has an extra key ``"path"`` (str) naming the file read.
    """
    file = find_checkpoint(path)
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols of foreign files
            warnings.simplefilter("ignore")
            data = torch.load(file, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        text = " ".join(str(error).split())
        name = _unsafe_global(text)
        if name is not None:
            raise RnnkitError(
                f"refusing to load {file}: it holds Python objects that would run code when loaded "
                f"({name}); rnnkit checkpoints hold only tensors and plain data"
            ) from error
        if "weights only load failed" in text.lower():
            raise RnnkitError(
                f"refusing to load {file}: it is corrupt or is not a plain-data checkpoint (rnnkit "
                "checkpoints hold only tensors and plain data)"
            ) from error
        raise RnnkitError(f"checkpoint {file} is corrupt{_reason(text)}") from error
    except (
        RuntimeError,
        EOFError,
        zipfile.BadZipFile,
        ValueError,
        OSError,
        KeyError,
        # torch's weights-only unpickler, fed a file that is no pickle (a text file given as
        # RUN), fails inside its own stack handling (pop from an empty list) or types
        IndexError,
        TypeError,
        AttributeError,
        OverflowError,
        struct.error,
    ) as error:
        reason = _reason(" ".join(str(error).split()))
        raise RnnkitError(f"checkpoint {file} is corrupt or truncated{reason}") from error
    if not isinstance(data, dict) or "format_version" not in data:
        raise RnnkitError(f"{file} is not an rnnkit checkpoint (no format_version)")
    version = data["format_version"]
    if not isinstance(version, int) or version != FORMAT_VERSION:
        raise RnnkitError(
            f"checkpoint {file} has format version {version!r}, but this rnnkit ({__version__}) "
            f"reads version {FORMAT_VERSION}; use the rnnkit version that wrote it"
        )
    for key in ("task", "model_config", "model_state"):
        if key not in data:
            raise RnnkitError(f"checkpoint {file} is incomplete: it has no {key!r}")
    if task is not None and data["task"] != task:
        raise RnnkitError(f"checkpoint {file} is for task {data['task']!r}, not {task!r}")
    data["path"] = str(file)
    return data


def _reason(text: str, limit: int = 200) -> str:
    """`` (first sentence of text)``, or ``""`` when that sentence is empty or longer than ``limit``.

    torch's messages run on with advice ("This is an internal miniz error. If you are seeing...");
    the first sentence is the reason, and a message is never cut mid-sentence.
    """
    sentence = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0].rstrip(".")
    return f" ({sentence})" if sentence and len(sentence) <= limit else ""


def _unsafe_global(text: str) -> str | None:
    """The code-running global (e.g. 'posix.system') named in torch's weights-only error, if any."""
    match = re.search(r"GLOBAL ([A-Za-z_][\w.]*\.[A-Za-z_]\w*)(?= whose| was|\s*$)", text)
    return match.group(1) if match else None
