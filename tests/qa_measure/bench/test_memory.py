"""Peak RSS is read for the command and for the processes it starts."""

from __future__ import annotations

import os
import sys

from qa_measure.bench.memory import measure

ALLOCATE = (
    "import subprocess, sys, time\n"
    "x = bytearray(150 * 2**20)\n"
    "child = subprocess.Popen([sys.executable, '-c', "
    "'import time; y = bytearray(80 * 2**20); time.sleep(4)'])\n"
    "time.sleep(3.0); child.wait(); print('{\"chunks\": 7}')\n"
)


def test_measure_sees_main_and_child_peaks() -> None:
    run = measure([sys.executable, "-c", ALLOCATE], dict(os.environ), "probe", 1.0, 1)
    assert run.main_peak_mb >= 150
    # Not the sum: a sample taken while the child was still a fork of the 150 MB parent
    # may read a little above 150 MB on a loaded machine.
    assert 80 <= run.worker_peak_mb < run.main_peak_mb + 80
    assert run.together_peak_mb >= 230
    assert run.chunks == 7
