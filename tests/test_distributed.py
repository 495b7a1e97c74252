"""Multi-process training (rnnkit.training.distributed): 2 processes with gloo on the CPU train to the same
weights as 1 process with the same global batch, rank 0 alone writes, the ranks agree on
evaluation, resume on the same number of processes is exact and on another one refused where the
loss carries a per-process state. Batch sources split a global batch into equal, complete shares.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cli_helpers import quiet, run

from rnnkit.data.batching import ShuffledBatches
from rnnkit.data.labelled import BucketedBatches
from rnnkit.data.text import TBPTTBatches
from rnnkit.errors import RnnkitError
from rnnkit.tasks import TASKS, train
from rnnkit.training.checkpoint import load_checkpoint

HERE = Path(__file__).resolve().parent
SRC = HERE.parent / "src"
pytestmark = pytest.mark.usefixtures("one_thread")  # the 1-process runs, in-process
RANDOM_OPTIONS = ("dropout", "recurrent_dropout", "word_dropout", "weight_drop", "zoneout")


def _settings(name: str, folder: Path, out: Path) -> dict:
    """The task's example settings without random regularisers (dropout masks differ per rank)."""
    settings = TASKS[name].example(folder).settings
    model = TASKS[name].defaults(settings)["model"]
    zeroed = {k: 0.0 for k in RANDOM_OPTIONS if isinstance(model.get(k), float)}
    settings["model"] = {**settings.get("model", {}), **zeroed}
    settings["train"] = {**settings["train"], "out_dir": str(out), "max_steps": 4, "lr": 1e-2}
    return settings


def _torchrun(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node 2 ARGS`` (standalone: a free port of its own)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{SRC}{os.pathsep}{HERE}"}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", *args]
    with subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a hung run is killed with its workers
    ) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    return subprocess.CompletedProcess(command, process.returncode, out, err)


def _max_difference(a: str | Path, b: str | Path) -> float:
    wa, wb = load_checkpoint(a)["model_state"], load_checkpoint(b)["model_state"]
    assert wa.keys() == wb.keys()
    return max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every task trained by 2 processes (one torchrun: the worker) and by 1; the language model
    also through ``torchrun -m rnnkit train lm``."""
    root = tmp_path_factory.mktemp("ddp")
    settings = {}
    for name in TASKS:
        folder = root / f"data-{name}"
        folder.mkdir()
        settings[name] = _settings(name, folder, root / "two" / name)
    (root / "settings.json").write_text(json.dumps(settings))
    (root / "results").mkdir()
    worker = _torchrun(
        str(HERE / "distributed_worker.py"), str(root / "settings.json"), str(root / "results")
    )
    assert worker.returncode == 0, worker.stderr[-3000:]
    lm = {**settings["lm"], "train": {**settings["lm"]["train"], "out_dir": str(root / "cli")}}
    (root / "lm.json").write_text(json.dumps(lm))
    cli = _torchrun("-m", "rnnkit", "train", "lm", "--config", str(root / "lm.json"))
    assert cli.returncode == 0, cli.stderr[-3000:]
    for name, one in settings.items():
        one = {**one, "train": {**one["train"], "out_dir": str(root / "one" / name)}}
        train(name, one, log=lambda message: None)
    return root, settings, worker, cli


@pytest.mark.parametrize("name", sorted(TASKS))
def test_two_processes_train_the_weights_of_one(runs, name):
    root = runs[0]
    difference = _max_difference(root / "one" / name / "last.pt", root / "two" / name / "last.pt")
    assert difference < 1e-5, f"{name}: max abs weight difference {difference:.2e}"


def test_torchrun_cli_matches_one_process_and_only_rank_0_writes(runs):
    root, _, _, cli = runs
    assert _max_difference(root / "one" / "lm" / "last.pt", root / "cli" / "last.pt") < 1e-5
    assert sorted(p.name for p in (root / "cli").iterdir()) == sorted(
        p.name for p in (root / "one" / "lm").iterdir()
    )
    records = [
        json.loads(line) for line in (root / "cli" / "metrics.jsonl").read_text().splitlines()
    ]
    steps = [r["step"] for r in records if "event" not in r]
    assert steps == [1, 2, 3, 4]  # each step once: one writer
    assert cli.stdout.count("trained 4 steps") == 1  # one report, rank 0's
    assert cli.stderr.count("writing checkpoints and metrics") == 1
    checkpoint = load_checkpoint(root / "cli" / "last.pt")
    assert checkpoint["train"]["world_size"] == 2 and len(checkpoint["train"]["ranks"]) == 2


def test_logged_loss_and_items_are_global(runs):
    root = runs[0]

    def steps(folder):
        lines = (folder / "metrics.jsonl").read_text().splitlines()
        return [r for r in map(json.loads, lines) if "event" not in r]

    for one, two in zip(steps(root / "one" / "lm"), steps(root / "cli"), strict=True):
        assert two["items"] == one["items"] == 4 * 16
        assert two["loss"] == pytest.approx(one["loss"], abs=1e-5)


def test_ranks_agree_on_evaluation(runs):
    root = runs[0]
    ranks = [json.loads((root / "results" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0].keys() == set(TASKS)
    for name in TASKS:
        zero, one = ranks[0][name], ranks[1][name]
        assert zero["val_metrics"] is not None or TASKS[name].name == "forecast"
        assert zero["val_metrics"] == one["val_metrics"]
        assert zero["best_metric"] == one["best_metric"]
        assert zero["step"] == one["step"] == 4
        assert one["reports"] == 0  # rank 0 alone reports


def test_resume_on_the_same_number_of_processes_is_exact(runs):
    root = runs[0]
    resumed = root / "two" / "lm-resumed" / "last.pt"
    assert load_checkpoint(resumed)["train"]["step"] == 4
    assert _max_difference(resumed, root / "two" / "lm" / "last.pt") < 1e-6


def test_resume_on_another_number_of_processes_is_refused(runs, capsys):
    root = runs[0]
    code, _, err = run(capsys, "train", "lm", "--resume", root / "cli", "--steps", 6)
    assert code == 2
    last = err.splitlines()[-1]  # after the notes of reading the data: the one-line error
    assert last.startswith("rnnkit: error: cannot resume ") and "Traceback" not in err
    assert "with 1 process(es): it was trained with 2" in last
    assert "resume with 2 (torchrun --nproc_per_node 2)" in last


def test_resume_on_another_number_of_processes_is_handled_without_carried_state(runs, tmp_path):
    """A classifier's loss carries nothing: 2 processes' checkpoint resumes in 1 process, on the
    same global batches, to the weights of a run that had 1 process all along."""
    root = runs[0]
    for world in ("one", "two"):
        shutil.copytree(root / world / "classify", tmp_path / world)
        train("classify", {"train": {"max_steps": 6}}, resume=tmp_path / world, log=quiet)
    assert load_checkpoint(tmp_path / "two" / "last.pt")["train"]["world_size"] == 1
    assert _max_difference(tmp_path / "one" / "last.pt", tmp_path / "two" / "last.pt") < 1e-5


# --------------------------------------------------------------------------- sharding, 1 process
def _batches(source, n):
    return [source.next_batch() for _ in range(n)]


def test_shuffled_shares_make_up_the_global_batches():
    whole = ShuffledBatches(10, 4, lambda idx: idx, seed=3)
    shards = [ShuffledBatches(10, 4, lambda idx: idx, seed=3) for _ in range(2)]
    for rank, source in enumerate(shards):
        source.shard(rank, 2)
    for expected, a, b in zip(_batches(whole, 7), *(_batches(s, 7) for s in shards), strict=True):
        assert a + b == expected and len(a) == len(b)
    assert shards[1].state_dict() == whole.state_dict()


def test_bucketed_shares_make_up_the_global_batches():
    lengths = [3, 9, 1, 4, 4, 7, 2, 8, 5, 6, 2, 3]
    whole = BucketedBatches(lengths, 4, lambda idx: idx, seed=1)
    shards = [BucketedBatches(lengths, 4, lambda idx: idx, seed=1) for _ in range(2)]
    for rank, source in enumerate(shards):
        source.shard(rank, 2)
    for expected, a, b in zip(_batches(whole, 8), *(_batches(s, 8) for s in shards), strict=True):
        assert a + b == expected


def test_tbptt_ranks_keep_their_own_contiguous_streams():
    ids = torch.arange(500)
    whole = TBPTTBatches(ids, 4, 8, seed=0)
    shards = [TBPTTBatches(ids, 4, 8, seed=0) for _ in range(2)]
    for rank, source in enumerate(shards):
        source.shard(rank, 2)
    for expected, a, b in zip(_batches(whole, 40), *(_batches(s, 40) for s in shards), strict=True):
        assert torch.equal(torch.cat([a.inputs, b.inputs]), expected.inputs)
        assert torch.equal(torch.cat([a.targets, b.targets]), expected.targets)
        assert a.reset == b.reset == expected.reset


def test_a_batch_that_does_not_divide_is_refused():
    with pytest.raises(RnnkitError, match="batch size 4 does not divide among 3 processes"):
        ShuffledBatches(10, 4, lambda idx: idx).shard(0, 3)
    with pytest.raises(RnnkitError, match="batch size 5 does not divide among 2 processes"):
        TBPTTBatches(torch.arange(500), 5, 8).shard(1, 2)
    with pytest.raises(RnnkitError, match="a batch of 1 example"):  # 9 = 2 x 4 + 1
        ShuffledBatches(9, 4, lambda idx: idx).shard(0, 2)
