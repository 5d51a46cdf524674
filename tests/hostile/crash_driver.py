"""Ingest and remove jobs to kill with SIGKILL, and the check a restarted process runs.

``python -m tests.hostile.crash_driver`` is a fork server: it imports ONNX
Runtime, Chroma and qa once (most of what a process needs before it can
ingest), then forks one child per job, so a kill round costs a second instead
of a process start. It starts no thread and loads no model, so
forking it is safe. Each child is a fresh process as far as the index is
concerned: it loads the model, opens the store, checks what the last killed
process left (before anything writes), then runs its job. It writes events (one
JSON line each, flushed as they happen) so the killer knows where it was.

Commands on stdin, one JSON object a line; answers on stdout, one a line::

    {"op": "fork", "job": {...}}   -> {"pid": 1234}
    {"op": "reap", "pid": 1234}    -> {"pid": 1234, "signal": 9} or {"pid": ..., "code": 0}
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any


def check_state(settings: Any, markers: dict[str, str], strict: bool) -> dict[str, Any]:
    """What a reader sees in the index; ``problems`` lists every broken promise.

    Always: a ``ready`` document has exactly its chunks in the chunk table, in the
    keyword index and in Chroma; nothing else is searchable; no source has two ready
    versions; searching a file's marker (keyword, dense, hybrid) returns only
    chunks of ready documents, and finds the file's document if it is ready.
    ``strict`` (after a writer has run): nothing is left pending or deleting, and
    neither Chroma nor the keyword index holds anything of a document that is not ready.
    """
    from qa import retrieve
    from qa.api import open_store

    problems: list[str] = []
    store = open_store(settings)
    info = store.info()
    if info is None:
        return {"problems": [], "ready": 0, "other": 0, "orphans": 0}
    rows = store.documents(status=None)
    ready = {r.id: r for r in rows if r.status == "ready"}
    other = [r for r in rows if r.status != "ready"]
    keyword = store._keyword_index(info)
    got = store._collection(info).get(include=["metadatas"])
    by_doc: dict[str, set[str]] = {}
    for vector_id, meta in zip(got["ids"], got["metadatas"], strict=True):
        by_doc.setdefault(str(meta["doc_id"]), set()).add(vector_id)
    for doc_id, row in ready.items():
        chunks = store.chunks_of(info, doc_id)
        ids = {c.chunk_id for c in chunks}
        want = {f"{doc_id}:{i}" for i in range(row.chunks)}
        if row.chunks == 0 or ids != want:
            problems.append(f"{row.source}: {row.chunks} chunks recorded, {len(ids)} in the table")
        if keyword.count(doc_id) != row.chunks:
            problems.append(f"{row.source}: {keyword.count(doc_id)} keyword entries, "
                            f"not {row.chunks}")
        if by_doc.get(doc_id, set()) != want:
            problems.append(f"{row.source}: Chroma has {len(by_doc.get(doc_id, ()))} vectors, "
                            f"not {row.chunks}")
        if store.document_text(doc_id) is None:
            problems.append(f"{row.source}: ready without its text")
    for row in other:
        if store.chunks_of(info, row.id):
            problems.append(f"{row.source}: {row.status} yet in the chunk table")
    keyword_total, ready_total = keyword.count(), sum(r.chunks for r in ready.values())
    if keyword_total < ready_total or (strict and keyword_total != ready_total):
        problems.append(f"keyword index holds {keyword_total} entries for "
                        f"{ready_total} ready chunks")
    twice = [s for s, n in Counter(r.source for r in ready.values()).items() if n > 1]
    problems += [f"{s}: two ready versions" for s in twice]
    orphans = sum(len(v) for d, v in by_doc.items() if d not in ready)
    if strict:
        problems += [f"{r.source}: left {r.status}" for r in other]
        if orphans:
            problems.append(f"Chroma holds {orphans} vectors of documents that are not ready")
    sources = {r.source: r.id for r in ready.values()}
    searchable = 0
    for source, marker in markers.items():
        found_ids = set()
        for mode in ("keyword", "dense", "hybrid"):
            for p in retrieve(marker, k=5, mode=mode, settings=settings):  # type: ignore[arg-type]
                found_ids.add(p.doc_id)
                hit = ready.get(p.doc_id)
                if hit is None:
                    problems.append(f"{mode} search returned {p.chunk_id} of a document "
                                    "that is not ready")
                elif p.chunk_id not in by_doc.get(p.doc_id, set()) or p.source != hit.source:
                    problems.append(f"{mode} search returned {p.chunk_id}, not a chunk of it")
        if source in sources:
            if sources[source] in found_ids:
                searchable += 1
            else:
                problems.append(f"{source} is ready but its marker {marker} does not find it")
    return {"problems": problems, "ready": len(ready), "other": len(other), "orphans": orphans,
            "searchable": searchable}


def run_job(job: dict[str, Any]) -> int:
    """One child's life: load, check what the last process left, then ingest or remove."""
    events = open(job["events"], "a", buffering=1)  # noqa: SIM115 - lives until exit

    def emit(event: str, **fields: Any) -> None:
        events.write(json.dumps({"t": time.monotonic(), "event": event, **fields}) + "\n")

    emit("start", pid=os.getpid())
    try:
        from qa import ingest, remove
        from qa.config import Settings
        from qa.embedding import get_embedder
        from qa.errors import DocumentNotFoundError

        settings = Settings.from_env(data_dir=Path(job["data_dir"]))
        embedder = get_embedder(settings)
        embed = embedder.embed_documents

        def observed(texts: list[str]) -> Any:
            emit("embed", n=len(texts))
            vectors = embed(texts)
            emit("embedded")
            return vectors

        emit("model")
        emit("check", **check_state(settings, job["markers"], strict=False))
        emit("begin")
        # From here on, embedding is the job's (the check's searches embed queries too).
        embedder.embed_documents = observed  # type: ignore[method-assign]
        if job["kind"] == "check":
            pass  # a reader only: the check above is the job
        elif job["kind"] == "ingest":
            report = ingest(job["paths"], settings=settings,
                            progress=lambda p: emit("file", status=p.last.status if p.last else ""))
            emit("ingested", summary=report.summary(), failed=[f.message for f in report.failed])
        else:
            for source in job["remove"]:
                emit("removing", source=source)
                try:
                    remove(source, settings=settings)
                except DocumentNotFoundError:
                    emit("absent", source=source)
                emit("removed", source=source)
        if job.get("final"):
            emit("final", **check_state(settings, job["markers"], strict=True))
        emit("done")
        return 0
    except BaseException:  # noqa: BLE001 - report anything, the test fails on it
        emit("error", traceback=traceback.format_exc())
        return 1


def serve() -> None:
    """The fork server's loop (see the module docstring)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import chromadb  # noqa: F401 - imported once here, so children start fast
    import onnxruntime  # noqa: F401
    import tokenizers  # noqa: F401

    import qa.api  # noqa: F401
    import qa.ingestion.pipeline  # noqa: F401
    import qa.loaders  # noqa: F401

    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        command = json.loads(line)
        if command["op"] == "fork":
            job = command["job"]
            pid = os.fork()
            if pid == 0:
                os.setpgid(0, 0)  # its own group: a kill takes its parse worker too
                log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
                os.dup2(log, 1)
                os.dup2(log, 2)
                os._exit(run_job(job))
            print(json.dumps({"pid": pid}), flush=True)
        elif command["op"] == "reap":
            _, status = os.waitpid(command["pid"], 0)
            if os.WIFSIGNALED(status):
                answer = {"pid": command["pid"], "signal": os.WTERMSIG(status)}
            else:
                answer = {"pid": command["pid"], "code": os.WEXITSTATUS(status)}
            print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    serve()
