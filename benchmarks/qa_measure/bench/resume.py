"""kill -9 in the middle of an ingest, then run it again: is finished work kept?

``qa ingest DIR`` runs in a child process; once about half of the files are
``ready`` in the registry, the child gets SIGKILL (the parser worker is left to
notice on its own, as after a real crash). The same command then runs again.
Finished documents must come back as ``unchanged`` and embed nothing, so the
rerun embeds exactly the chunks of the documents that were not finished; the
index must end consistent (vectors = chunk rows = the documents' chunk counts).
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from qa_measure.bench.corpus import generated_corpus
from qa_measure.bench.options import BenchOptions
from qa_measure.bench.report import BenchResult, Table, chunks_embedded

BACKEND = "onnx-int8"  # the fast one: resuming does not depend on the backend


def _registry_state(path: Path) -> dict[str, tuple[int, int]]:
    """status -> (documents, chunks) in the registry, read without taking the write lock."""
    if not path.exists():
        return {}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            rows = db.execute("SELECT status, COUNT(*), COALESCE(SUM(chunks), 0) FROM documents "
                              "GROUP BY status").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return {}
    return {status: (int(n), int(chunks)) for status, n, chunks in rows}


def run_resume(options: BenchOptions) -> BenchResult:
    """Kill an ingest half way with SIGKILL, rerun it, count what the rerun embeds."""
    from qa_measure.bench.memory import ingest_env

    result = BenchResult("resume")
    folder = options.work_dir / "corpora" / f"resume-{options.resume_files}"
    files = generated_corpus(options.data, folder, options.resume_files * 40 / 1024, 40)
    data_dir = options.work_dir / "scratch" / f"resume-{time.strftime('%H%M%S')}"
    env = ingest_env(options, data_dir, BACKEND)
    registry = data_dir / "registry.sqlite3"
    cmd = [sys.executable, "-m", "qa", "ingest", str(folder), "--no-progress"]

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    target = max(1, len(files) // 2)
    while proc.poll() is None:
        if _registry_state(registry).get("ready", (0, 0))[0] >= target:
            os.kill(proc.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    proc.communicate()
    killed_after = time.perf_counter() - started
    if proc.returncode != -signal.SIGKILL:
        raise RuntimeError(f"the first ingest ended before it could be killed "
                           f"({proc.returncode}); use more --resume files")
    at_kill = _registry_state(registry)
    ready_docs, ready_chunks = at_kill.get("ready", (0, 0))
    pending_docs = at_kill.get("pending", (0, 0))[0]

    rerun_started = time.perf_counter()
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    rerun_seconds = time.perf_counter() - rerun_started
    if rerun.returncode != 0:
        raise RuntimeError(f"the rerun failed: {rerun.stderr.strip()[-800:]}")
    embedded = chunks_embedded(rerun.stdout)
    unchanged = int(m[1]) if (m := re.search(r"(\d+) unchanged", rerun.stdout)) else 0
    final = _registry_state(registry)
    total_docs, total_chunks = final.get("ready", (0, 0))
    vectors, rows = _index_counts(options, data_dir)
    re_embedded = embedded - (total_chunks - ready_chunks)

    table = Table(f"kill -9 during `qa ingest` of {len(files)} files ({BACKEND}), then rerun",
                  ["what", "value"])
    for what, value in [
        ("files ready when killed", ready_docs),
        ("their chunks", ready_chunks),
        ("documents left pending by the kill", pending_docs),
        ("seconds until the kill", killed_after),
        ("rerun: files reported unchanged", unchanged),
        ("rerun: chunks embedded", embedded),
        ("total chunks after the rerun", total_chunks),
        ("chunks of finished files embedded again", re_embedded),
        ("rerun seconds", rerun_seconds),
        ("vectors in Chroma / chunk rows / documents' chunks", f"{vectors} / {rows} / "
                                                             f"{total_chunks}"),
    ]:
        table.add(what, value)
    result.tables.append(table)
    result.goals[f"rerun re-embeds no finished document ({re_embedded} chunks of finished "
                 f"files embedded again; {unchanged} of {ready_docs} reported unchanged)"] = (
        re_embedded == 0 and unchanged == ready_docs)
    result.goals["index consistent after the rerun (vectors = chunk rows = documents' chunks, "
                 f"all {len(files)} files ready)"] = (
        vectors == rows == total_chunks and total_docs == len(files))
    result.notes.append("SIGKILL went to the `qa ingest` process only, once half of the files "
                        "were ready in the registry; the rerun is the same command.")
    result.data.update({"at_kill": at_kill, "final": final, "rerun_stdout": rerun.stdout,
                        "rerun_embedded": embedded, "re_embedded": re_embedded})
    import shutil

    shutil.rmtree(data_dir, ignore_errors=True)
    return result


def _index_counts(options: BenchOptions, data_dir: Path) -> tuple[int, int]:
    """(vectors in Chroma, chunk rows in the registry) of the resume collection."""
    from qa.index import Store

    settings = options.settings.with_(data_dir=data_dir, collection="memory", chroma_host="")
    store = Store(settings, "all-MiniLM-L6-v2", 384)
    info = store.info(check_model=False)
    if info is None:
        return 0, 0
    return store.vector_count(info), store.chunk_count(info)
