"""One training run per output directory: ``OUT/.lock``, which a ``kill -9`` cannot leave stuck.

:func:`lock_out_dir` is held while a run writes into ``OUT`` (``rnnkit.tasks.train`` around the
whole run, :meth:`rnnkit.training.Trainer.fit` around training; in one process it nests). The lock
file holds one line of JSON naming its owner (``pid``, ``host``, process start time, ``started``)
so that a second run can say which run holds the directory.

Where the operating system has ``flock`` (Linux, macOS, the BSDs), the file is held with an
exclusive ``flock``: the kernel drops it when the process dies however it dies, so a lock file
left by a killed run is free and the next run takes it over, with a note naming the dead run.
Elsewhere the file is created with ``O_CREAT | O_EXCL`` and a lock whose ``pid`` is no longer
alive on this host (or now belongs to another process, judged by its start time) is stale and is
taken over. A lock held from another host is never taken over; the message says how to remove it.

Under ``torchrun`` (``RANK`` set in the environment) only rank 0 takes the lock: the ranks of one
run share its output directory.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rnnkit.errors import RnnkitError
from rnnkit.training.checkpoint import is_partial_file

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK_NAME", "lock_out_dir", "read_lock"]

LOCK_NAME = ".lock"

# Locks this process holds: resolved directory -> [file descriptor or None, nesting depth].
_HELD: dict[str, list[Any]] = {}


def _start_time(pid: int) -> str | None:
    """The start time of process ``pid`` in clock ticks since boot (Linux), else ``None``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as file:
            text = file.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    fields = text.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else None


def _owner() -> dict[str, Any]:
    pid = os.getpid()
    return {
        "pid": pid,
        "host": socket.gethostname(),
        "start_time": _start_time(pid),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }


def read_lock(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The owner written in a lock file, or ``None`` when it is missing, empty or unreadable."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _alive(owner: dict[str, Any]) -> bool:
    """Whether the process named by ``owner`` (on this host) still runs."""
    pid = owner.get("pid")
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        return True
    except OSError:
        return False
    # the pid may have been reused by an unrelated process since the owner died
    recorded, now = owner.get("start_time"), _start_time(pid)
    return recorded is None or now is None or recorded == now


def _describe(owner: dict[str, Any] | None) -> str:
    if owner is None:
        return "another rnnkit run"
    return (
        f"another rnnkit run (pid {owner.get('pid')} on {owner.get('host')}, "
        f"started {owner.get('started')})"
    )


def _refuse(out_dir: Path, owner: dict[str, Any] | None, extra: str = "") -> RnnkitError:
    return RnnkitError(
        f"output directory {out_dir} is in use by {_describe(owner)}; wait for it to finish or "
        f"choose another --out{extra}"
    )


def _take_over(
    out_dir: Path, path: Path, owner: dict[str, Any] | None, note: Callable[[str], None]
) -> None:
    """Note the takeover of a dead run's lock and remove the files its writes left half done."""
    removed = 0
    for leftover in out_dir.iterdir():
        if is_partial_file(leftover):
            with contextlib.suppress(OSError):
                leftover.unlink()
                removed += 1
    partial = f"; removed {removed} partial file{'s' * (removed != 1)} it left" if removed else ""
    note(
        f"taking over the stale lock {path} of {_describe(owner)}, which is no longer "
        f"running{partial}"
    )


def _write_owner(fd: int) -> None:
    data = (json.dumps(_owner()) + "\n").encode("utf-8")
    os.ftruncate(fd, 0)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, data)


def _acquire_flock(out_dir: Path, path: Path, note: Callable[[str], None]) -> int:
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _refuse(out_dir, read_lock(path)) from None
        except OSError:
            os.close(fd)
            raise
        # the holder may have removed the file between our open and flock: lock the live file
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    previous = read_lock(path)
    if previous is not None:  # left by a run that died without removing it (kill -9, power loss)
        _take_over(out_dir, path, previous, note)
    _write_owner(fd)
    return fd


def _acquire_exclusive(out_dir: Path, path: Path, note: Callable[[str], None]) -> None:
    stale: dict[str, Any] | None | bool = False  # the owner of the stale lock removed, if any
    for _ in range(3):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            owner = read_lock(path)
            if owner is not None and owner.get("host") != socket.gethostname():
                raise _refuse(out_dir, owner, f" (if that run is gone, remove {path})") from None
            if owner is not None and _alive(owner):
                raise _refuse(out_dir, owner) from None
            if owner is None and time.time() - _mtime(path) < 5:  # being written right now
                raise _refuse(out_dir, owner) from None
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            stale = owner
            continue
        try:
            _write_owner(fd)
        finally:
            os.close(fd)
        if stale is not False:
            _take_over(out_dir, path, stale, note)
        return
    raise _refuse(out_dir, read_lock(path))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _acquire(out_dir: Path, path: Path, say: Callable[[str], None], made: list[Path]) -> int | None:
    """Take the lock (its descriptor with ``fcntl``); on failure remove the directories
    ``made`` for it and raise."""
    try:
        if fcntl is not None:
            return _acquire_flock(out_dir, path, say)
        _acquire_exclusive(out_dir, path, say)
        return None
    except OSError as error:
        raise RnnkitError(
            f"cannot write to output directory {out_dir}: {error.strerror or error}"
        ) from error
    except BaseException:
        for directory in made:
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


@contextlib.contextmanager
def lock_out_dir(
    out_dir: str | os.PathLike[str] | None, note: Callable[[str], None] | None = None
) -> Iterator[Path | None]:
    """Hold ``out_dir/.lock`` for the duration of the ``with`` block (nothing when ``None``).

    Raises :class:`~rnnkit.errors.RnnkitError` naming the other process when another live run
    holds it; a stale lock is taken over with a note passed to ``note`` (default: ignored). The
    directory is created if needed, and removed again at the end if the run left it empty (a run
    that fails on its data writes nothing). Nested use in one process is allowed (the outer one
    releases).
    """
    if out_dir is None:
        yield None
        return
    if os.environ.get("RANK", "0").strip() not in ("", "0"):  # another rank of rank 0's run
        yield Path(out_dir) / LOCK_NAME
        return
    out_dir = Path(out_dir)
    made = [d for d in (out_dir, *out_dir.parents) if not d.exists()]  # deepest first
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise RnnkitError(
            f"cannot write to output directory {out_dir}: {error.strerror or error}"
        ) from error
    path = out_dir / LOCK_NAME
    key = str(out_dir.resolve())
    held = _HELD.get(key)
    if held is not None:
        held[1] += 1
        try:
            yield path
        finally:
            held[1] -= 1
        return
    fd = _acquire(out_dir, path, note or (lambda message: None), made)
    _HELD[key] = [fd, 1]
    try:
        yield path
    finally:
        del _HELD[key]
        # remove the file while still holding it, so no other run can lock this file in between
        with contextlib.suppress(OSError):
            os.unlink(path)
        if fd is not None:
            os.close(fd)
        for directory in made:  # the directories made here, if the run left them empty
            try:
                directory.rmdir()
            except OSError:
                break
