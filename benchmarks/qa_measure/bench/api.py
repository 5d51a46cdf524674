"""The HTTP API's cost: `/v1/search` over HTTP against ``retrieve`` in-process, and the
answer stream's first byte against ``ask_stream``'s first token.

A real ``qa serve`` subprocess serves the query benchmark's synthetic index of the
smallest size (10,000 chunks by default, built once and cached); this process opens
the same index. Queries are SciFact test claims, and each is run both ways back to
back, so a busy spell on the machine slows both alike. HTTP calls go over one
keep-alive connection (httpx), as a client library would make them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from qa_measure.bench.corpus import scifact_claims
from qa_measure.bench.options import BenchOptions
from qa_measure.bench.processes import free_port, stop_process
from qa_measure.bench.report import BenchResult, Table, percentile

WARMUP = 5
K = 5
ANSWERS, QUICK_ANSWERS = 20, 3


def start_server(data_dir: Path, collection: str, llm: str, embed_backend: str,
                 log: Path) -> tuple[subprocess.Popen, str]:
    """``qa serve`` on a free loopback port over ``data_dir``; returns it once it answers."""

    port = free_port()
    env = {**os.environ, "QA_DATA_DIR": str(data_dir), "QA_COLLECTION": collection,
           "QA_LLM": llm, "QA_EMBED_BACKEND": embed_backend, "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1"}
    for var in ("QA_CHROMA_HOST", "QA_API_TOKEN"):
        env.pop(var, None)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "qa", "serve", "--port", str(port)],
                                env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, url, log, 300)
    return proc, url


def wait_until_serving(proc: subprocess.Popen, url: str, log: Path, seconds: float) -> None:
    """Return once ``qa serve`` at ``url`` answers /healthz; raise if it exits or stalls."""
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"qa serve exited ({proc.returncode}); see {log}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"qa serve did not answer within {seconds:.0f} s; see {log}")


def run_api(options: BenchOptions) -> BenchResult:
    """p50/p95 of search over HTTP and in-process; answer stream first byte vs first token."""
    import httpx

    from qa.api import ask_stream, retrieve
    from qa.embedding import get_embedder
    from qa_measure.bench.query import build_index, chunk_pool, scale_settings

    result = BenchResult("api")
    size = options.sizes[0]
    embedder = get_embedder(options.settings)
    build_index(options, size, embedder, chunk_pool(options, embedder))
    settings = scale_settings(options, size)
    llm = settings.llm
    queries = scifact_claims(options.data, options.queries + WARMUP)
    answers = queries[: (QUICK_ANSWERS if options.quick else ANSWERS) + 1]
    proc, url = start_server(settings.data_dir, settings.collection, llm,
                             settings.embed_backend, options.work_dir / "api-server.log")
    local_ms: list[float] = []
    http_ms: list[float] = []
    first_token: list[float] = []
    first_byte: list[float] = []
    local_total: list[float] = []
    http_total: list[float] = []
    try:
        with httpx.Client(base_url=url, timeout=600) as http:
            for i, query in enumerate(queries):
                t0 = time.perf_counter()
                passages = retrieve(query, k=K, settings=settings)
                t1 = time.perf_counter()
                response = http.post("/v1/search", json={"query": query, "k": K})
                t2 = time.perf_counter()
                response.raise_for_status()
                if [p["chunk_id"] for p in response.json()] != [p.chunk_id for p in passages]:
                    raise RuntimeError(f"HTTP and in-process results differ for {query!r}")
                if i >= WARMUP:
                    local_ms.append((t1 - t0) * 1000)
                    http_ms.append((t2 - t1) * 1000)
            for i, question in enumerate(answers):
                t0 = time.perf_counter()
                first: float | None = None
                for item in ask_stream(question, llm=llm, settings=settings):
                    if first is None and isinstance(item, str):
                        first = time.perf_counter()
                t1 = time.perf_counter()
                byte: float | None = None
                with http.stream("POST", "/v1/ask/stream", json={"question": question}) as r:
                    r.raise_for_status()
                    for _ in r.iter_raw():
                        if byte is None:
                            byte = time.perf_counter()
                t2 = time.perf_counter()
                if i == 0:  # the first answer loads the model in this process: untimed
                    continue
                first_token.append(((first or t1) - t0) * 1000)
                local_total.append((t1 - t0) * 1000)
                first_byte.append(((byte or t2) - t1) * 1000)
                http_total.append((t2 - t1) * 1000)
    finally:
        stop_process(proc)

    search = Table(f"search latency at {size:,} chunks, ms ({len(local_ms)} SciFact claims, "
                   f"k={K}, hybrid)", ["path", "p50", "p95", "mean"])
    for name, values in (("in-process retrieve()", local_ms), ("HTTP POST /v1/search", http_ms)):
        search.add(name, percentile(values, 50), percentile(values, 95),
                   sum(values) / len(values))
    overhead = percentile(http_ms, 50) - percentile(local_ms, 50)
    search.add("HTTP overhead (p50 difference)", overhead, None, None)
    result.tables.append(search)

    answer = Table(f"answer latency, ms ({len(first_token)} questions, llm={llm})",
                   ["path", "first p50", "first p95", "whole p50"])
    answer.add("in-process ask_stream(): first token", percentile(first_token, 50),
               percentile(first_token, 95), percentile(local_total, 50))
    answer.add("HTTP POST /v1/ask/stream: first byte", percentile(first_byte, 50),
               percentile(first_byte, 95), percentile(http_total, 50))
    result.tables.append(answer)
    result.notes += [
        f"Index: the query benchmark's synthetic {size:,}-chunk index ({settings.collection}); "
        f"a `qa serve` subprocess and this process open it; {options.settings.embed_backend} "
        "query embedding in both. Each query runs in-process, then over HTTP (keep-alive).",
        "First byte: from sending the request to the first byte of the SSE body (the server "
        "sends its headers with the first text delta). First token: from calling ask_stream "
        "to its first text delta. The first answer of each path is untimed (model load).",
        f"Machine load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
    ]
    result.data.update({"search_ms": {"in_process": local_ms, "http": http_ms},
                        "answer_ms": {"first_token": first_token, "first_byte": first_byte,
                                      "in_process_total": local_total,
                                      "http_total": http_total},
                        "llm": llm, "size": size})
    return result
