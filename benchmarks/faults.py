"""Kill ``rnnkit train`` with SIGKILL at random moments, resume after each kill, and compare the
final weights with those of an uninterrupted run of the same settings.

Run from the project root (about two minutes on 2 busy cores)::

    python benchmarks/faults.py                 # 20 kills, seed 0
    python benchmarks/faults.py --kills 50 --seed 3 --keep runs/faults

A small character language model trains through the command line in a child process, writing
``last.pt`` every ``--save-every`` steps. In the child every checkpoint write pauses for
``--pause`` seconds after writing half of its bytes to the temporary file (``torch.save`` is
wrapped there; the library is not changed), so that kills can be aimed at writes. Half of the
kills (drawn at random) wait for a write to start and land at a random moment inside it; the others
run the child without pauses and land at a random moment after its start (during start-up,
training, evaluation or, rarely, a write).

After each kill the script checks that ``OUT/last.pt``, when there is one yet, loads with
:func:`rnnkit.training.checkpoint.load_checkpoint` and holds a whole training state, then starts the child
again with ``--resume OUT`` (a fresh start while there is no ``last.pt``); the resumed child
takes over the lock the killed one left and removes its half-written temporary file. After the
last kill a final resume trains to the end without pauses. The table shows each kill, and the
summary the kills, the kills during a write, the ``last.pt`` that loaded, and the largest absolute
difference between the final weights and the uninterrupted run's.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see benchmarks/tasks.py; before torch

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from rnnkit.errors import RnnkitError
from rnnkit.training.checkpoint import load_checkpoint

DATA = ROOT.parent / "shared" / "data" / "tinyshakespeare.txt"

# `rnnkit ARGV` in a child process that can pause in checkpoint writes (see the file)
CHILD = str(ROOT / "tests" / "faults_child.py")


def train_args(args: argparse.Namespace, text: Path, out: Path) -> list[str]:
    return [
        "train", "lm", "--text", str(text), "--out", str(out), "--steps", str(args.steps),
        "--hidden", "64", "--embedding", "16", "--seq-len", "32", "--batch-size", "8",
        "--dropout", "0.1", "--eval-chars", "2000", "--eval-every", "100", "--warmup", "20",
        "--save-every", str(args.save_every), "--device", "cpu", "--no-progress",
        "--seed", str(args.seed),
    ]  # fmt: skip


def start(argv: list[str], pause: float) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    env["FAULTS_PAUSE_IN_WRITE"] = str(pause) if pause else ""
    return subprocess.Popen(
        [sys.executable, CHILD, *argv],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def partial_files(out: Path) -> list[Path]:
    """The temporary files of checkpoint writes (``.last.pt.XXXXXXXX.tmp``, ``.best.pt...``)."""
    return sorted(out.glob(".*.pt.*.tmp"))


def check_last(out: Path) -> tuple[str, int | None]:
    """(``"yes"``, its step) when last.pt loads whole, (``"none yet"``, None) when there is none."""
    path = out / "last.pt"
    if not path.exists():
        return "none yet", None
    try:
        checkpoint = load_checkpoint(path, task="lm")
        train = checkpoint["train"]
        for key in ("optimizer", "rng", "data", "loss_state", "step"):
            if key not in train:
                return f"NO (no {key})", None
        return "yes", int(train["step"])
    except (RnnkitError, KeyError, TypeError, ValueError) as error:  # what this script hunts for
        return f"NO ({' '.join(str(error).split())[:60]})", None


def kill_once(args, rng: random.Random, argv: list[str], out: Path) -> dict:
    aimed = rng.random() < 0.5
    left = set(partial_files(out))  # the previous kill's, until this child takes over
    child = start(argv, args.pause if aimed else 0.0)  # random kills see writes at full speed
    begun = time.monotonic()
    try:
        if aimed:  # wait for a checkpoint write to begin, then land inside it
            while not set(partial_files(out)) - left and child.poll() is None:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, args.pause * 0.8))
        else:
            deadline = begun + rng.uniform(0.5, args.max_delay)
            while time.monotonic() < deadline and child.poll() is None:
                time.sleep(0.002)
        during_write = bool(set(partial_files(out)) - left)  # a write of this child
        child.kill()  # SIGKILL
        _, err = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    killed = child.returncode == -9
    loadable, step = check_last(out)
    took_over = "taking over the stale lock" in err
    return {
        "aim": "a write" if aimed else "random",
        "after": time.monotonic() - begun,
        "killed": killed,
        "during_write": during_write and killed,
        "loadable": loadable,
        "step": step,
        "took_over": took_over,
        "error": "" if killed else err.strip().splitlines()[-1:],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments and the run")
    parser.add_argument(
        "--steps",
        type=int,
        default=40000,
        help="steps of the training run (enough that 20 kills land before its end on an idle "
        "2-core CPU: 1,500 ran out before the third)",
    )
    parser.add_argument("--save-every", type=int, default=5)
    parser.add_argument("--pause", type=float, default=0.15, help="seconds inside each write")
    parser.add_argument("--max-delay", type=float, default=8.0, help="latest random kill, s")
    parser.add_argument("--keep", type=Path, help="keep the runs in this directory")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="rnnkit-faults-"))
    if args.keep and work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    text = work / "text.txt"
    if DATA.is_file():
        text.write_text(DATA.read_text(encoding="utf-8")[:100_000], encoding="utf-8")
    else:
        line = "the quick brown fox jumps over the lazy dog; pack my box with five dozen jugs.\n"
        text.write_text(line * 1000, encoding="utf-8")
    full, out = work / "uninterrupted", work / "killed"
    started = time.monotonic()

    print(f"uninterrupted run of {args.steps} steps ...", file=sys.stderr, flush=True)
    reference = start(train_args(args, text, full), pause=0)
    _, err = reference.communicate()
    if reference.returncode != 0:
        print(err, file=sys.stderr)
        return 1

    rng = random.Random(args.seed)
    rows: list[dict] = []
    while len(rows) < args.kills:
        fresh = not (out / "last.pt").exists()
        argv_ = train_args(args, text, out) if fresh else ["train", "lm", "--resume", str(out)]
        row = kill_once(args, rng, argv_, out)
        row["resumed"] = not fresh
        if not row["killed"]:  # it finished or failed before the kill: the run is too short
            print(f"the child ended before kill {len(rows) + 1}: {row['error']}", file=sys.stderr)
            return 1
        rows.append(row)
        print(f"kill {len(rows)}: last.pt at step {row['step']}", file=sys.stderr, flush=True)

    final = start(["train", "lm", "--resume", str(out)], pause=0)
    _, err = final.communicate()
    if final.returncode != 0:
        print(err, file=sys.stderr)
        return 1
    a = load_checkpoint(full / "last.pt")
    b = load_checkpoint(out / "last.pt")
    diff = max(
        float((a["model_state"][k] - b["model_state"][k]).abs().max()) for k in a["model_state"]
    )
    same = all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in a["model_state"])

    print(f"{'kill':>4}  {'started as':<10}  {'aimed at':<8}  {'after s':>7}  {'in a write':<10}  "
          f"{'last.pt loads':<13}  {'its step':>8}  {'took over the lock':<18}")  # fmt: skip
    for i, r in enumerate(rows, 1):
        step = "-" if r["step"] is None else str(r["step"])
        print(
            f"{i:>4}  {'resume' if r['resumed'] else 'fresh':<10}  {r['aim']:<8}  "
            f"{r['after']:>7.2f}  {'yes' if r['during_write'] else 'no':<10}  "
            f"{r['loadable']:<13}  {step:>8}  {('yes' if r['took_over'] else 'no'):<18}"
        )
    loads = sum(r["loadable"] == "yes" for r in rows)
    none_yet = sum(r["loadable"] == "none yet" for r in rows)
    print()
    print(f"kills                              {len(rows)}")
    print(f"kills during a checkpoint write    {sum(r['during_write'] for r in rows)}")
    print(
        f"last.pt loadable after the kill    {loads} of {len(rows)} ({none_yet} before the first)"
    )
    print(
        f"final step (both runs)             {int(a['train']['step'])} / {int(b['train']['step'])}"
    )
    print(
        f"final weights: max abs difference  {diff:.3g} ({'bit-identical' if same else 'DIFFERENT'})"
    )
    print(f"wall time                          {time.monotonic() - started:.0f} s")
    ok = loads + none_yet == len(rows) and same
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
