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


BACKGROUND = """
import sys
from qa.index import chroma
assert "chromadb" not in sys.modules
chroma.import_chromadb_in_background()
first = chroma._importing
chroma.import_chromadb_in_background()  # under way: no second thread
assert chroma._importing is first
from qa.config import Settings
from qa.workspace import Workspace
ws = Workspace(Settings(data_dir=__import__("pathlib").Path(sys.argv[1])))
print(len(ws.store.documents()), "documents")  # loads the embedder while chromadb imports
first.join(timeout=60)
assert not first.is_alive() and "chromadb" in sys.modules
print("imported")
"""


def test_chromadb_is_imported_on_a_thread_while_the_embedder_loads(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-c", BACKGROUND, str(tmp_path)],
                         capture_output=True, text=True, timeout=180)
    assert out.returncode == 0 and "0 documents\nimported" in out.stdout, out.stderr[-2000:]
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
