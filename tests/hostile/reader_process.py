"""A separate process that searches an index while another process writes it.

``python -m tests.hostile.reader_process DATA_DIR MARKERS_JSON OUT STOP_FILE``
loads the model and opens the store, prints ``ready``, waits for a line on
stdin, then searches random markers until STOP_FILE exists, writing one JSON
line per call to OUT: its monotonic start and end, the mode, and each returned
passage as ``[doc_id, chunk_id, text]`` (or the traceback of an error).
"""

from __future__ import annotations

import json
import random
import sys
import time
import traceback
from pathlib import Path


def main(data_dir: str, markers_file: str, out_file: str, stop_file: str) -> None:
    from qa import retrieve
    from qa.config import Settings

    settings = Settings.from_env(data_dir=data_dir)  # QA_CHROMA_HOST etc. as the test set them
    markers: list[str] = json.loads(Path(markers_file).read_text())
    retrieve(markers[0], settings=settings)  # model and store loaded before "ready"
    print("ready", flush=True)
    sys.stdin.readline()
    rng = random.Random(7)
    deadline = time.monotonic() + 600
    with open(out_file, "w", buffering=1) as out:
        while not Path(stop_file).exists() and time.monotonic() < deadline:
            marker = rng.choice(markers)
            mode = rng.choice(["hybrid", "keyword", "dense"])
            record: dict[str, object] = {"who": "process", "mode": mode, "marker": marker}
            record["t0"] = time.monotonic()
            try:
                found = retrieve(marker, k=10, mode=mode, settings=settings)  # type: ignore[arg-type]
                record["passages"] = [[p.doc_id, p.chunk_id, p.text] for p in found]
            except Exception:  # noqa: BLE001 - reported, and the test fails on it
                record["error"] = traceback.format_exc()
            record["t1"] = time.monotonic()
            out.write(json.dumps(record) + "\n")


if __name__ == "__main__":
    main(*sys.argv[1:5])
