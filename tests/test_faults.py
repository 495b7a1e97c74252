"""Faults: ``kill -9`` during a checkpoint write, a full disk, two runs into one directory, Ctrl-C
twice, losses and weights that turn non-finite. ``benchmarks/faults.py`` kills a run 20 times.

The subprocess tests run ``rnnkit train lm`` on a tiny model; ``CHILD`` can make every checkpoint
write pause halfway (``FAULTS_PAUSE_IN_WRITE`` seconds, after half the bytes are on disk), so that
a signal lands while the temporary file is half written.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from cli_helpers import run
from torch import nn
from torch.nn import functional as F

import rnnkit
import rnnkit.training.checkpoint as ckpt_mod
from rnnkit.data.batching import ShuffledBatches
from rnnkit.errors import RnnkitError
from rnnkit.training.checkpoint import load_checkpoint, save_checkpoint
from rnnkit.training.lock import LOCK_NAME, lock_out_dir, read_lock
from rnnkit.training.rng import seed_everything
from rnnkit.training.settings import StepOutput, TrainConfig
from rnnkit.training.trainer import Trainer

SRC = str(Path(rnnkit.__file__).resolve().parents[1])

# `rnnkit ARGV` in a child process that can pause in checkpoint writes (see the file)
CHILD = str(Path(__file__).with_name("faults_child.py"))

# Holds OUT's lock until killed: another live run.
HOLDER = r"""
import sys, time
from rnnkit.training.lock import lock_out_dir
with lock_out_dir(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def _env(pause: float = 0.0) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    env.pop("RNNKIT_DEBUG", None)
    env["FAULTS_PAUSE_IN_WRITE"] = str(pause) if pause else ""
    return env


def _lm_args(text: Path, out: Path, steps: int = 40) -> list[str]:
    return [
        "train", "lm", "--text", str(text), "--out", str(out), "--steps", str(steps),
        "--hidden", "24", "--embedding", "8", "--seq-len", "16", "--batch-size", "4",
        "--eval-chars", "500", "--eval-every", "1000", "--warmup", "5", "--save-every", "5",
        "--device", "cpu", "--no-progress", "--seed", "3",
    ]  # fmt: skip


@pytest.fixture
def text(tmp_path) -> Path:
    path = tmp_path / "text.txt"
    line = "the quick brown fox jumps over the lazy dog; pack my box with five dozen jugs.\n"
    path.write_text(line * 40, encoding="utf-8")
    return path


def _start(args: list[str], pause: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, CHILD, *args],
        env=_env(pause),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(args: list[str], pause: float = 0.0) -> tuple[int, str]:
    child = _start(args, pause)
    _, err = child.communicate(timeout=120)
    return child.returncode, err


def _partial(out: Path) -> list[Path]:
    """Temporary files of atomic writes in ``out``."""
    return sorted(out.glob(".*.tmp"))


def _wait_for(condition, timeout: float = 60.0, what: str = "a condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.005)


def _weights(out: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(out / "last.pt")["model_state"]


# --------------------------------------------------------------------------- kill -9
def test_kill_during_checkpoint_write_then_resume_equals_uninterrupted_run(tmp_path, text):
    code, err = _finish(_lm_args(text, tmp_path / "full"))
    assert code == 0, err

    out = tmp_path / "killed"
    child = _start(_lm_args(text, out), pause=0.4)
    try:  # the first last.pt is whole; kill during the write of the next one
        _wait_for(lambda: (out / "last.pt").is_file(), what="the first last.pt")
        _wait_for(lambda: bool(_partial(out)), what="the second checkpoint write")
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        child.kill()
    assert child.returncode == -signal.SIGKILL
    assert _partial(out) and (out / LOCK_NAME).is_file()  # what a kill -9 leaves behind
    saved = load_checkpoint(out / "last.pt")  # whole: the write in progress never replaced it
    assert saved["train"]["step"] % 5 == 0 and 5 <= saved["train"]["step"] < 40

    code, err = _finish(["train", "lm", "--resume", str(out)])
    assert code == 0, err
    assert f"taking over the stale lock {out / LOCK_NAME}" in err
    assert "removed 1 partial file it left" in err
    assert not _partial(out) and not (out / LOCK_NAME).exists()
    full, resumed = _weights(tmp_path / "full"), _weights(out)
    assert load_checkpoint(out / "last.pt")["train"]["step"] == 40
    for name in full:  # bit for bit: the resume restores every state the next steps read
        assert torch.equal(full[name], resumed[name]), name


# --------------------------------------------------------------------------- a full disk
class _FullDisk:
    """A file that takes ``room`` bytes, then fails as a full disk does."""

    def __init__(self, file, room: int) -> None:
        self.file, self.room = file, room

    def write(self, data) -> int:
        if len(data) > self.room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.room -= len(data)
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)


def _fill_disk_after(monkeypatch, saves: int, room: int = 2000) -> None:
    """The checkpoint writes after the first ``saves`` find the disk full after ``room`` bytes."""
    real_save, calls = torch.save, []

    def save(obj, file):
        calls.append(1)
        real_save(obj, file if len(calls) <= saves else _FullDisk(file, room))

    monkeypatch.setattr(ckpt_mod.torch, "save", save)


def test_full_disk_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    path = tmp_path / "last.pt"
    save_checkpoint(path, {"task": "toy", "model_config": {}, "model_state": {"w": torch.ones(2)}})
    _fill_disk_after(monkeypatch, saves=0)
    big = {"task": "toy", "model_config": {}, "model_state": {"w": torch.zeros(10_000)}}
    # torch's zip writer turns the failed write into a RuntimeError; the message finds the cause
    with pytest.raises(RnnkitError) as caught:
        save_checkpoint(path, big)
    assert str(caught.value) == (
        f"cannot write checkpoint {path}: No space left on device; the previous last.pt "
        "(if any) is unchanged"
    )
    monkeypatch.undo()
    assert torch.equal(load_checkpoint(path)["model_state"]["w"], torch.ones(2))
    assert os.listdir(tmp_path) == ["last.pt"]


def test_full_disk_during_training_stops_with_one_line(tmp_path, text, monkeypatch, capsys):
    out = tmp_path / "run"
    _fill_disk_after(monkeypatch, saves=2)  # last.pt at steps 5 and 10, then the disk is full
    code, _, err = run(capsys, *_lm_args(text, out, steps=20))
    monkeypatch.undo()
    assert code == 2
    assert err.splitlines()[-1] == (
        f"rnnkit: error: cannot write checkpoint {out / 'last.pt'}: No space left on device; "
        "the previous last.pt (if any) is unchanged"
    )
    assert "Traceback" not in err
    assert load_checkpoint(out / "last.pt")["train"]["step"] == 10
    assert not _partial(out) and not (out / LOCK_NAME).exists()


# --------------------------------------------------------------------------- one run per directory
def test_second_run_into_the_same_directory_refuses(tmp_path, text, capsys):
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], env=_env(), stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline() == "held\n"
        code, _, err = run(capsys, *_lm_args(text, out, steps=5))
        host = socket.gethostname()
        assert code == 2
        assert err.startswith(
            f"rnnkit: error: output directory {out} is in use by another rnnkit run "
            f"(pid {holder.pid} on {host}, started "
        )
        assert err.endswith("); wait for it to finish or choose another --out\n")
        assert not (out / "config.json").exists()  # refused before writing anything
        holder.kill()  # kill -9: the lock file stays, but nothing holds it
        holder.wait(timeout=30)
        assert read_lock(out / LOCK_NAME)["pid"] == holder.pid
        code, _, err = run(capsys, *_lm_args(text, out, steps=5))
        assert code == 0, err
        assert f"taking over the stale lock {out / LOCK_NAME} of another rnnkit run " in err
        assert f"(pid {holder.pid} on {host}," in err
        assert not (out / LOCK_NAME).exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path, text, capsys):
    out = tmp_path / "run"
    out.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner = {"pid": dead.pid, "host": socket.gethostname(), "started": "earlier"}
    (out / LOCK_NAME).write_text(json.dumps(owner) + "\n", encoding="utf-8")
    (out / ".last.pt.abcd_123.tmp").write_bytes(b"half a checkpoint")
    code, _, err = run(capsys, *_lm_args(text, out, steps=5))
    assert code == 0, err
    assert f"(pid {dead.pid} on {socket.gethostname()}, started earlier), which is no longer" in err
    assert not _partial(out) and not (out / LOCK_NAME).exists()


def test_lock_without_flock(tmp_path, monkeypatch):
    """Where there is no flock (Windows), the lock is O_EXCL and a dead owner's pid frees it."""
    monkeypatch.setattr("rnnkit.training.lock.fcntl", None)
    notes: list[str] = []
    with lock_out_dir(tmp_path, note=notes.append) as path:
        assert read_lock(path)["pid"] == os.getpid()
        with lock_out_dir(tmp_path):  # nested in one process
            pass
        assert path.is_file()
    assert not path.exists() and notes == []

    here = socket.gethostname()
    path.write_text(json.dumps({"pid": os.getppid(), "host": here}), encoding="utf-8")
    busy = f"in use by another rnnkit run \\(pid {os.getppid()} "
    with pytest.raises(RnnkitError, match=busy), lock_out_dir(tmp_path):
        pass
    path.write_text(json.dumps({"pid": os.getpid(), "host": "elsewhere"}), encoding="utf-8")
    with (
        pytest.raises(RnnkitError, match=f"if that run is gone, remove {path}"),
        lock_out_dir(tmp_path),
    ):
        pass
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    path.write_text(json.dumps({"pid": dead.pid, "host": here}), encoding="utf-8")
    with lock_out_dir(tmp_path, note=notes.append):
        assert read_lock(path)["pid"] == os.getpid()
    assert len(notes) == 1 and f"(pid {dead.pid} on {here}" in notes[0]
    assert not path.exists()


# --------------------------------------------------------------------------- the Trainer
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin1 = nn.Linear(4, 16)
        self.drop = nn.Dropout(0.3)
        self.lin2 = nn.Linear(16, 2)

    def forward(self, x):
        return self.lin2(self.drop(torch.tanh(self.lin1(x))))


def _trainer(out_dir, callbacks=(), bad=lambda step: False, **overrides) -> Trainer:
    """A small classifier; ``bad(step)`` makes the loss of that (1-based) step NaN."""
    seed_everything(0)
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=generator)
    y = (x.sum(1) > 0).long()
    options = {"max_steps": 30, "lr": 1e-2, "warmup_steps": 3, "eval_every": 100, "save_every": 5}
    options.update(out_dir=out_dir, device="cpu", progress=False, **overrides)
    source = ShuffledBatches(len(x), 8, lambda idx: (x[idx], y[idx]), seed=1)
    trainer: Trainer

    def loss_fn(model, batch):
        loss = F.cross_entropy(model(batch[0]), batch[1])
        return StepOutput(loss * float("nan") if bad(trainer.step + 1) else loss, items=8)

    trainer = Trainer(
        Net(), TrainConfig(**options), source, loss_fn, task="toy", log=lambda message: None,
        callbacks=callbacks,
    )  # fmt: skip
    trainer.messages = []  # type: ignore[attr-defined]
    trainer._log = trainer.messages.append  # type: ignore[attr-defined]
    return trainer


def _step_records(out: Path) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [r for r in map(json.loads, lines) if "event" not in r]


def test_lock_is_removed_after_a_run_an_error_and_ctrl_c(tmp_path):
    out = tmp_path / "run"
    seen = []

    def look(trainer, event, info):
        if event == "start":
            seen.append(read_lock(out / LOCK_NAME)["pid"])

    _trainer(out, callbacks=[look], max_steps=3).fit()
    assert seen == [os.getpid()] and not (out / LOCK_NAME).exists()
    with pytest.raises(RnnkitError, match="in a row"):
        _trainer(out, bad=lambda step: True).fit()
    assert not (out / LOCK_NAME).exists()

    def interrupt(trainer, event, info):
        if event == "step" and info["step"] == 7:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        _trainer(out, callbacks=[interrupt]).fit()
    assert not (out / LOCK_NAME).exists()
    assert load_checkpoint(out / "last.pt")["train"]["step"] == 7


# --------------------------------------------------------------------------- Ctrl-C twice
def test_second_ctrl_c_in_the_middle_of_a_step_stops_without_saving(tmp_path):
    """A step cut short would not resume exactly, so nothing is saved; last.pt stays whole."""

    def twice(trainer, event, info):
        if event == "backward" and info["step"] == 13:  # gradients ready, the update not applied
            os.kill(os.getpid(), signal.SIGINT)  # the first asks to stop after this step
            os.kill(os.getpid(), signal.SIGINT)  # the second stops here

    out = tmp_path / "run"
    trainer = _trainer(out, callbacks=[twice])
    with pytest.raises(KeyboardInterrupt):
        trainer.fit()
    assert trainer.messages[-1] == (
        f"interrupted at step 12: stopped at once without saving; {out / 'last.pt'} is the last "
        "one written"
    )
    checkpoint = load_checkpoint(out / "last.pt")
    assert checkpoint["train"]["step"] == 10
    assert not _partial(out) and not (out / LOCK_NAME).exists()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler

    full = _trainer(tmp_path / "full")
    full.fit()
    resumed = _trainer(out)
    resumed.fit(resume=checkpoint)
    for p, q in zip(full.model.parameters(), resumed.model.parameters()):
        assert torch.equal(p, q)


def test_ctrl_c_twice_in_a_real_run(tmp_path, text):
    """The first Ctrl-C lands in a checkpoint write: that write ends, then the interrupt's own
    write of last.pt starts; the second Ctrl-C lands in that one and stops at once."""
    out = tmp_path / "run"
    child = _start(_lm_args(text, out, steps=1000), pause=0.4)
    try:
        _wait_for(lambda: (out / "last.pt").is_file(), what="the first last.pt")
        _wait_for(lambda: bool(_partial(out)), what="a checkpoint write")
        first = _partial(out)
        child.send_signal(signal.SIGINT)
        _wait_for(lambda: _partial(out) not in ([], first), what="the interrupt's write")
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130, err
    step = load_checkpoint(out / "last.pt")["train"]["step"]  # whole: the write before it
    assert step % 5 == 0
    assert f"interrupted at step {step}: stopped at once without saving" in err
    assert f"continue with: rnnkit train lm --resume {out}" in err
    assert err.endswith("rnnkit: interrupted\n")
    assert not _partial(out) and not (out / LOCK_NAME).exists()
    assert [r["step"] for r in _step_records(out)] == list(range(1, step + 1))


# --------------------------------------------------------------------------- non-finite losses
def test_one_nan_loss_is_skipped_and_counted(tmp_path):
    out = tmp_path / "run"
    result = _trainer(out, bad=lambda step: step == 7).fit()
    assert result.step == 30 and result.skipped_steps == 1
    skipped = [r["step"] for r in _step_records(out) if r.get("skipped")]
    assert skipped == [7]
    saved = load_checkpoint(out / "last.pt")
    assert saved["train"]["skipped_steps"] == 1
    assert all(torch.isfinite(w).all() for w in saved["model_state"].values())


def test_nan_forever_aborts_and_keeps_finite_weights(tmp_path):
    out = tmp_path / "run"
    trainer = _trainer(out, bad=lambda step: step >= 8)
    with pytest.raises(RnnkitError) as caught:
        trainer.fit()
    assert str(caught.value) == (
        "training diverged: 5 steps in a row had a non-finite loss or gradient (last at step "
        "12); try a lower learning rate or stronger clipping"
    )
    assert trainer.skipped_steps == 5
    # last.pt of step 10 holds the weights of step 7 (8 to 10 were skipped); no write at the abort
    saved = load_checkpoint(out / "last.pt")
    assert saved["train"]["step"] == 10 and saved["train"]["skipped_steps"] == 3
    assert all(torch.isfinite(w).all() for w in saved["model_state"].values())
    assert not (out / LOCK_NAME).exists()


def test_non_finite_weights_are_never_saved(tmp_path):
    def break_weights(trainer, event, info):
        if event == "step" and info["step"] == 7:  # as an update that overflowed would
            with torch.no_grad():
                trainer.model.lin1.weight.fill_(float("inf"))

    out = tmp_path / "run"
    with pytest.raises(RnnkitError) as caught:
        _trainer(out, callbacks=[break_weights]).fit()
    assert str(caught.value) == (
        "training diverged: parameter lin1.weight is not finite at step 10; not writing "
        f"{out / 'last.pt'}, which keeps its earlier weights"
    )
    saved = load_checkpoint(out / "last.pt")
    assert saved["train"]["step"] == 5
    assert all(torch.isfinite(w).all() for w in saved["model_state"].values())


def test_other_ranks_of_a_torchrun_run_share_rank_0s_lock(tmp_path, monkeypatch):
    fcntl = pytest.importorskip("fcntl")
    monkeypatch.delenv("RANK", raising=False)
    path = tmp_path / LOCK_NAME
    held = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # rank 0 (another open file) holds it
        with pytest.raises(RnnkitError, match="is in use by"), lock_out_dir(tmp_path):
            pass
        monkeypatch.setenv("RANK", "1")
        with lock_out_dir(tmp_path):  # rank 1 of the same run writes beside rank 0
            pass
        assert path.exists()  # rank 1 left rank 0's lock alone
    finally:
        os.close(held)
