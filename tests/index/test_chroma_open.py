"""Several processes opening one new embedded Chroma store at the same moment."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

ROUNDS = 20
SLOT = 0.7  # seconds between rounds, more than one open of a new store takes

OPEN = """
import sys, time
from pathlib import Path
from qa.config import Settings
from qa.index.chroma import chroma_client
root, start = Path(sys.argv[1]), float(sys.argv[2])
for round_ in range({rounds}):
    time.sleep(max(0.0, start + round_ * {slot} - time.time()))
    chroma_client(Settings(data_dir=root / str(round_))).get_or_create_collection("opened")
print("opened all")
"""


def test_processes_opening_a_new_store_at_once_all_succeed(tmp_path: Path) -> None:
    # A new store's first open creates its tables: without the open lock, two processes
    # doing it at once fail ("table collections already exists") about one round in ten.
    start = time.time() + 8  # after every process has imported chromadb
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN.format(rounds=ROUNDS, slot=SLOT), str(tmp_path),
             str(start)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for _ in range(3)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=180)
        assert proc.returncode == 0 and "opened all" in out, out[-2000:]
