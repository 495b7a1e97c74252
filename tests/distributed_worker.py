"""Run by ``torchrun --nproc_per_node 2`` from tests/test_distributed.py (not a test module).

``python distributed_worker.py SETTINGS.json RESULTS_DIR``: in one process group, train every task
of ``SETTINGS.json`` (``{task: settings}``, each with its own ``train.out_dir``) through the Python
API, then resume a language model run on the same number of processes. Each rank writes what it
ended with to ``RESULTS_DIR/rank<R>.json``, so the test can check that the ranks agreed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rnnkit.tasks import train
from rnnkit.tasks.base import merge
from rnnkit.training import distributed


def main(settings_path: str, results: str) -> None:
    runs = json.loads(Path(settings_path).read_text())
    context = distributed.init("cpu")
    assert context is not None, "run me under torchrun"
    record = {}
    for name, settings in runs.items():
        run = train(name, settings, log=lambda message: None)
        record[name] = {
            "step": run.train.step,
            "val_metrics": run.train.val_metrics,
            "best_metric": run.train.best_metric,
            "reports": len(run.reports),
        }
    # An exact resume on the same number of processes: half the steps, then the rest.
    lm = runs["lm"]
    steps = lm["train"]["max_steps"]
    out = str(Path(lm["train"]["out_dir"]).with_name("lm-resumed"))
    train("lm", merge(lm, {"train": {"out_dir": out, "max_steps": steps // 2}}), log=print)
    train("lm", {"train": {"max_steps": steps}}, resume=out, log=lambda message: None)
    Path(results, f"rank{context.rank}.json").write_text(json.dumps(record))
    distributed.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:])
