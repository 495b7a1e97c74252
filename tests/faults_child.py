"""Run by tests/test_faults.py and benchmarks/faults.py (not a test module): ``python
faults_child.py ARGV`` is ``rnnkit ARGV``; with ``FAULTS_PAUSE_IN_WRITE`` set, each checkpoint
write stops for that many seconds after writing half of its bytes into the temporary file, so a
kill can land inside a write."""

import io
import os
import time

import torch

from rnnkit.cli.main import console_main

pause = float(os.environ.get("FAULTS_PAUSE_IN_WRITE") or 0)
if pause:
    real_save = torch.save

    def slow_save(obj, file):
        buffer = io.BytesIO()
        real_save(obj, buffer)
        data = buffer.getvalue()
        file.write(data[: len(data) // 2])
        file.flush()
        time.sleep(pause)
        file.write(data[len(data) // 2 :])

    torch.save = slow_save

console_main()
