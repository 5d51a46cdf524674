"""Peak memory of ingest: does it stay bounded as the corpus grows?

Each run ingests a generated corpus in a child process while this process reads
``VmHWM`` (the kernel's own peak resident set) and ``VmRSS`` of the child and of
every process it starts (the parser worker) from ``/proc`` five times a second;
``wait4`` then gives the child's exact peak (the larger of itself and the
worker it waited for). Reported per run: peak RSS of the main process, of the
parser worker, and the largest sum of the two seen at one moment.

Embedding 1 GB takes hours on two cores, so the size sweep uses a *stub*
embedder (the model's real tokenizer for chunking, random unit vectors instead
of the network): everything else (parsing, chunking, Chroma, SQLite, the keyword
index) runs as in a real ingest. Real-model runs at a small size give the
model's own share, which does not depend on corpus size.

The embedded Chroma store keeps its HNSW vector index in qa's process, and
that index grows with the collection (about 1.7 KB per chunk); ``server_mb``
runs ingest into a ``chroma run`` server the benchmark starts, and report the
server's peak apart, so what qa's own pipeline needs shows on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from qa_measure.bench.corpus import corpus_bytes, generated_corpus
from qa_measure.bench.options import BenchOptions
from qa_measure.bench.processes import free_port, stop_process
from qa_measure.bench.report import BenchResult, Table, chunks_embedded

GOAL_MB_PER_GB = 2048
MB = 2**20
SERVER = "Chroma server"


@dataclass
class RunMemory:
    label: str
    corpus_mb: float
    files: int
    chunks: int = 0
    seconds: float = 0.0
    main_peak_mb: float = 0.0
    worker_peak_mb: float = 0.0
    together_peak_mb: float = 0.0
    server_peak_mb: float | None = None  # the Chroma server's, when the run used one
    wait4_maxrss_mb: float = 0.0
    processes: dict[str, float] = field(default_factory=dict)


class StubEmbedder:
    """Real token counting, random unit vectors: the pipeline without the network's cost."""

    def __init__(self) -> None:
        from qa.embedding import TokenCounter, resolve_model_path

        self.name = "stub-random-384"
        self.dim = 384
        self.max_tokens = 254
        self._counter = TokenCounter(resolve_model_path("all-MiniLM-L6-v2"))
        self._rng = np.random.default_rng(0)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self._counter.count(texts)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        v = self._rng.standard_normal((len(texts), self.dim)).astype(np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


def _child(folder: str, stub: bool) -> None:
    """Ingest ``folder`` with qa's pipeline (run as ``python -m qa_measure.bench.memory``)."""
    from qa.api import open_store
    from qa.config import Settings
    from qa.embedding import get_embedder
    from qa.ingestion.pipeline import ingest_files

    settings = Settings.from_env()
    embedder: Any = StubEmbedder() if stub else get_embedder(settings)
    report = ingest_files([folder], settings, embedder, open_store(settings, embedder))
    print(json.dumps({"chunks": report.chunks_embedded, "files": len(report.files),
                      "failed": [f.message for f in report.failed]}))


def _status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(("VmHWM:", "VmRSS:")):
                    key, value = line.split(":")
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children") as handle:
                    kids = [int(k) for k in handle.read().split()]
                found += kids
                todo += kids
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def measure(cmd: list[str], env: dict[str, str], label: str, corpus_mb: float,
            files: int) -> RunMemory:
    """Run ``cmd`` and record the peak memory of it and of its descendants."""
    run = RunMemory(label, corpus_mb, files)
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    peaks: dict[int, int] = {}
    names: dict[int, str] = {}
    together = 0
    while proc.poll() is None:
        current = 0
        for pid in [proc.pid, *_descendants(proc.pid)]:
            status = _status(pid)
            if not status:
                continue
            peaks[pid] = max(peaks.get(pid, 0), status.get("VmHWM", 0))
            current += status.get("VmRSS", 0)
            if pid not in names:
                names[pid] = _cmdline(pid)
        together = max(together, current)
        time.sleep(0.2)
    stdout, stderr = proc.communicate()
    run.seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{label} failed ({proc.returncode}): {stderr.strip()[-800:]}")
    workers = {pid: hwm for pid, hwm in peaks.items() if pid != proc.pid
               and "resource_tracker" not in names.get(pid, "")}
    run.main_peak_mb = peaks.get(proc.pid, 0) / MB
    run.worker_peak_mb = max(workers.values(), default=0) / MB
    run.together_peak_mb = together / MB
    run.processes = {f"{pid} {names.get(pid, '')[:80]}": hwm / MB for pid, hwm in peaks.items()}
    run.chunks = chunks_embedded(stdout)
    return run


def ingest_env(options: BenchOptions, data_dir: Path, backend: str) -> dict[str, str]:
    """The environment of a child ingest into ``data_dir`` (collection "memory")."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "QA_DATA_DIR": str(data_dir), "QA_COLLECTION": "memory",
           "QA_MODEL_DIR": str(options.settings.models_dir.resolve()),  # built once, reused
           "QA_EMBED_BACKEND": backend, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}
    env.pop("QA_CHROMA_HOST", None)
    return env


def run_memory(options: BenchOptions) -> BenchResult:
    """Peak RSS at several corpus sizes (stub embedder), with the real model, and one big file."""
    import shutil

    from qa.embedding import get_embedder

    get_embedder(options.settings.with_(embed_backend="onnx-int8"))  # build the int8 model once
    result = BenchResult("memory")
    corpora = options.work_dir / "corpora"
    scratch = options.work_dir / "scratch" / f"memory-{time.strftime('%H%M%S')}"
    py = sys.executable
    plan: list[tuple[str, Path, float, bool, str]] = []
    for mb in options.corpus_mb:
        plan.append((f"stub, {mb:g} MB in 1 MB files", corpora / f"mem-{mb:g}mb", mb, True,
                     "onnx-int8"))
    for mb in options.real_mb:
        for backend in ("onnx-int8", "torch"):
            plan.append((f"real {backend}, {mb:g} MB in 1 MB files", corpora / f"mem-{mb:g}mb",
                         mb, False, backend))
    if options.big_file_mb:
        plan.append((f"stub, one {options.big_file_mb:g} MB file",
                     corpora / f"big-{options.big_file_mb:g}mb", options.big_file_mb, True,
                     "onnx-int8"))
    for mb in options.server_mb:
        plan.append((f"stub, {mb:g} MB in 1 MB files, {SERVER}", corpora / f"mem-{mb:g}mb", mb,
                     True, "onnx-int8"))
    runs: list[RunMemory] = []
    try:
        for i, (label, folder, mb, stub, backend) in enumerate(plan):
            file_kb = int(mb * 1024) if "one" in label else 1024
            files = generated_corpus(options.data, folder, mb, min(file_kb, int(mb * 1024)))
            env = ingest_env(options, scratch / f"run-{i}", backend)
            if "one" in label:  # the default limit would refuse the big file by design
                env["QA_MAX_FILE_MB"] = str(int(mb) + 10)
            cmd = ([py, "-m", "qa_measure.bench.memory", str(folder), "--stub"] if stub
                   else [py, "-m", "qa", "ingest", str(folder), "--no-progress"])
            if label.endswith(SERVER):
                with _chroma_server(scratch / f"server-{i}") as (port, server_pid):
                    env |= {"QA_CHROMA_HOST": "127.0.0.1", "QA_CHROMA_PORT": str(port)}
                    run = measure(cmd, env, label, corpus_bytes(files) / MB, len(files))
                    run.server_peak_mb = _status(server_pid).get("VmHWM", 0) / MB
            else:
                run = measure(cmd, env, label, corpus_bytes(files) / MB, len(files))
            runs.append(run)
            shutil.rmtree(scratch / f"run-{i}", ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    table = Table("peak resident memory while ingesting (MB)",
                  ["run", "corpus MB", "files", "chunks", "seconds", "main", "parser worker",
                   "both at once", "Chroma server"])
    for r in runs:
        table.add(r.label, r.corpus_mb, r.files, r.chunks, r.seconds, r.main_peak_mb,
                  r.worker_peak_mb, r.together_peak_mb, r.server_peak_mb)
    result.tables.append(table)
    _goals(result, runs, options.settings.embed_backend)
    result.notes += [
        "main/parser worker = VmHWM from /proc (the kernel's peak RSS of each process), "
        "polled every 0.2 s; 'both at once' = the largest VmRSS sum seen in one poll.",
        "stub = qa's real pipeline (parser worker, chunking with the real tokenizer, Chroma, "
        "SQLite registry, keyword index) with random vectors instead of the network, so large "
        "corpora finish; 'real' rows are `qa ingest DIR` with the model.",
        f"'{SERVER}' rows write the vectors to a `chroma run` server on loopback started for "
        "the run; its own peak RSS is the last column, outside qa's process.",
        "Corpora: .txt files of shuffled SciFact/SQuAD sentences; the big-file row raises "
        "QA_MAX_FILE_MB above its size (the default limit is 200 MB).",
    ]
    result.data["runs"] = [r.__dict__ for r in runs]
    return result


@contextmanager
def _chroma_server(path: Path) -> Iterator[tuple[int, int]]:
    """A `chroma run` server on a free loopback port: (port, pid)."""
    import socket

    port = free_port()
    path.mkdir(parents=True, exist_ok=True)
    chroma = Path(sys.executable).parent / "chroma"
    with open(path / "server.log", "w") as log:
        proc = subprocess.Popen([str(chroma), "run", "--path", str(path / "db"), "--host",
                                 "127.0.0.1", "--port", str(port)], stdout=log,
                                stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while True:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"chroma run did not start; see {path / 'server.log'}")
                time.sleep(0.2)
            yield port, proc.pid
        finally:
            stop_process(proc)


def _goals(result: BenchResult, runs: list[RunMemory], backend: str) -> None:
    served = sorted((r for r in runs if r.server_peak_mb is not None), key=lambda r: r.corpus_mb)
    for r in served:
        result.goals[f"qa's own peak RSS with the vectors in a Chroma server, "
                     f"{r.corpus_mb:.0f} MB of text = {r.together_peak_mb:.0f} MB <= "
                     f"{GOAL_MB_PER_GB} MB"] = r.together_peak_mb <= GOAL_MB_PER_GB
    if len(served) >= 2:
        small, large = served[0], served[-1]
        span = max(large.corpus_mb - small.corpus_mb, 1e-9)
        own = (large.together_peak_mb - small.together_peak_mb) / span
        server = ((large.server_peak_mb or 0.0) - (small.server_peak_mb or 0.0)) / span
        result.data["server_growth"] = {"qa_mb_per_corpus_mb": own,
                                        "server_mb_per_corpus_mb": server}
        result.notes.append(
            f"With a Chroma server, between {small.corpus_mb:.0f} and {large.corpus_mb:.0f} MB "
            f"of text qa's own peak grows {own:.2f} MB per MB of corpus and the server's "
            f"{server:.2f} MB per MB (its HNSW index is held in memory).")
    runs = [r for r in runs if r.server_peak_mb is None]
    sweep = sorted((r for r in runs if r.label.startswith("stub") and "one" not in r.label),
                   key=lambda r: r.corpus_mb)
    # The model's share is the configured backend's (torch fp32 needs far more).
    real = [r for r in runs if r.label.startswith(f"real {backend},")]
    if len(sweep) >= 2:
        small, large = sweep[0], sweep[-1]
        slope = (large.together_peak_mb - small.together_peak_mb) / max(
            large.corpus_mb - small.corpus_mb, 1e-9)
        model_share = max((r.together_peak_mb - small.together_peak_mb for r in real),
                          default=0.0)
        projected = large.together_peak_mb + slope * max(1024 - large.corpus_mb, 0) + model_share
        result.data["projection"] = {"slope_mb_per_corpus_mb": slope,
                                     "model_share_mb": model_share, "projected_1gb_mb": projected}
        result.notes.append(
            f"Growth: {slope:.2f} MB of peak RSS per MB of corpus between {small.corpus_mb:.0f} "
            f"and {large.corpus_mb:.0f} MB; the real {backend} model adds {model_share:.0f} MB. "
            f"Projected peak for 1 GB (linear, plus the model): {projected:.0f} MB.")
        result.goals[f"projected peak RSS for 1 GB of text = {projected:.0f} MB <= "
                     f"{GOAL_MB_PER_GB} MB"] = projected <= GOAL_MB_PER_GB
    worst = max(runs, key=lambda r: r.together_peak_mb, default=None)
    if worst is not None:
        result.goals[f"every measured run <= {GOAL_MB_PER_GB} MB (largest: {worst.label}, "
                     f"{worst.together_peak_mb:.0f} MB)"] = worst.together_peak_mb <= GOAL_MB_PER_GB


if __name__ == "__main__":
    _child(sys.argv[1], "--stub" in sys.argv[2:])
