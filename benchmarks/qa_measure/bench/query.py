"""Retrieval latency at scale: p50/p95 of hybrid, dense and keyword search, and where it goes.

Embedding 100k chunks takes hours on two cores, so the scale indexes are
synthetic, and the output says so: a pool of real SciFact chunks is chunked and
embedded once; an index of N chunks holds the pool itself, then chunks whose
text is 7 random SciFact/SQuAD sentences and whose vector is a pool vector plus
Gaussian noise, re-normalized (cosine about 0.9 to its source). They are
written through qa's own store and registry (10 chunks per document), so Chroma,
the registry and the keyword index hold what an ingest would write. Indexes are
cached in ``<work_dir>/scale`` and reused.

Queries are SciFact test claims; each is timed end to end through
``Retriever.passages`` (what ``qa search`` and ``retrieve`` run) in each mode.
The breakdown comes from the hybrid search itself, through the retriever's timing
hook (``Retriever.on_step``): embedding the query, the dense search (Chroma's HNSW
query and the registry lookup of its hits), the keyword search (tantivy and its
registry lookup), fusion and the documents' titles; the registry lookup
(``Registry.chunks_by_ids``) is also timed alone on the dense hits' ids.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from qa.config import Settings
from qa.embedding import Embedder, get_embedder
from qa.index import CollectionInfo, Store
from qa.ingestion.chunking import chunk_body
from qa.retrieval import CANDIDATES, Retriever
from qa.types import Chunk
from qa_measure.bench.corpus import random_text, scifact_claims, scifact_documents, sentence_pool
from qa_measure.bench.ingest import qa_bodies
from qa_measure.bench.options import BenchOptions
from qa_measure.bench.report import BenchResult, Table, percentile, ratio

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "keyword")
# Steps of a hybrid search (Retriever.on_step), and the registry lookup inside each search.
STEPS = ("embed query", "dense search", "keyword search", "fusion", "doc lookup", "chunks_by_ids")
CHUNKS_PER_DOC = 10
NOISE = 0.02  # per-dimension standard deviation; cosine to the source vector about 0.9
WARMUP = 5
K = 5
GOAL_P50_MS, GOAL_P95_MS, GOAL_GROWTH = 30.0, 60.0, 2.0


@dataclass
class Pool:
    texts: list[str]
    vectors: np.ndarray


@dataclass
class Latencies:
    """Milliseconds per query, by mode (end to end) and by step."""

    modes: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MODES})
    steps: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STEPS})


def scale_settings(options: BenchOptions, size: int) -> Settings:
    return options.settings.with_(data_dir=options.work_dir / "scale", collection=f"scale-{size}",
                                  chroma_host="")


def chunk_pool(options: BenchOptions, embedder: Embedder) -> Pool:
    """Real chunks of the first ``pool_docs`` SciFact abstracts and their vectors (cached)."""
    cache = options.work_dir / "scale" / (
        f"pool-{options.settings.embed_backend}-{options.pool_docs}-"
        f"{options.settings.chunk_tokens}.npz")
    if cache.exists():
        saved = np.load(cache, allow_pickle=False)
        return Pool([str(t) for t in saved["texts"]], saved["vectors"])
    docs = scifact_documents(options.data, options.pool_docs)
    texts = [b for d in docs for b in qa_bodies(d, embedder, options)]
    vectors = embedder.embed_documents(texts)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, texts=np.array(texts), vectors=vectors)
    return Pool(texts, vectors)


def build_index(options: BenchOptions, size: int, embedder: Embedder, pool: Pool) -> Store:
    """The synthetic index of ``size`` chunks, built once and reused."""
    settings = scale_settings(options, size)
    store = Store(settings, embedder.name, embedder.dim)
    info = store.info()
    if info is not None and store.chunk_count(info) == size \
            and store.vector_count(info) == size:
        if store.keyword_count(info) != size:
            with store.writing():
                pass  # recovery rebuilds the keyword index from the registry
        return store
    if info is not None:
        store.drop()
    sentences = sentence_pool(options.data)
    rng = random.Random(size)
    noise = np.random.default_rng(size)
    started = time.perf_counter()
    with store.writing() as info:
        for first_doc in range(0, -(-size // CHUNKS_PER_DOC), 500):
            last_doc = min(first_doc + 500, -(-size // CHUNKS_PER_DOC))
            _write_docs(store, info, range(first_doc, last_doc), size, pool, rng, noise,
                        sentences)
    log.info("built the %d-chunk index in %.0fs", size, time.perf_counter() - started)
    return store


def _write_docs(store: Store, info: CollectionInfo, doc_numbers: range, size: int, pool: Pool,
                rng: random.Random, noise: np.random.Generator, sentences: tuple[str, ...]) -> None:
    from qa.types import Block

    docs: list[tuple[str, list[Chunk], list[str], str]] = []
    vectors: list[np.ndarray] = []
    for n in doc_numbers:
        doc_id = f"synthetic{n:07d}"
        title = f"Synthetic document {n}"
        texts: list[str] = []
        for j in range(CHUNKS_PER_DOC):
            g = n * CHUNKS_PER_DOC + j
            if g >= size:
                break
            if g < len(pool.texts):
                texts.append(pool.texts[g].split("\n", 1)[-1])
                vectors.append(pool.vectors[g])
            else:
                texts.append(random_text(rng, sentences, 7))
                v = pool.vectors[g % len(pool.texts)]
                v = v + noise.normal(0, NOISE, v.shape[0])
                vectors.append(v / np.linalg.norm(v))
        text = "\n\n".join(texts)
        chunks, pos = [], 0
        for j, t in enumerate(texts):
            chunks.append(Chunk(doc_id, j, t, pos, pos + len(t), None, ""))
            pos += len(t) + 2
        bodies = [chunk_body(title, "", t) for t in texts]
        store.begin(info, doc_id, f"synthetic:{doc_id}", title, 0, 0.0)
        docs.append((doc_id, chunks, bodies, text))
    store.add_chunks(info, [c for d in docs for c in d[1]], [b for d in docs for b in d[2]],
                     np.asarray(vectors, dtype=np.float32))
    for doc_id, chunks, _, text in docs:
        store.commit(info, doc_id, chunks, text, [Block(0, len(text))], [])


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    value = fn()
    return value, (time.perf_counter() - t0) * 1000


def measure(
    stores: dict[int, Store], embedder: Embedder, queries: list[str]
) -> dict[int, Latencies]:
    """End-to-end latency of each mode, and of each step, for every query and index.

    Sizes and modes are interleaved query by query, so a busy spell on the
    machine slows every size alike instead of whichever was being measured.
    """
    out = {size: Latencies() for size in stores}
    for i, query in enumerate(queries):
        for size, store in stores.items():
            _measure_one(store, embedder, query, out[size] if i >= WARMUP else Latencies())
    return out


def _measure_one(store: Store, embedder: Embedder, query: str, out: Latencies) -> None:
    steps: dict[str, float] = {}

    def record(step: str, seconds: float) -> None:
        steps[step] = seconds * 1000

    retriever = Retriever(store, embedder)
    for mode in MODES:
        # The hybrid search reports its steps through the retriever's timing hook.
        retriever.on_step = record if mode == "hybrid" else None
        _, ms = _timed(lambda m=mode: retriever.passages(query, k=K, mode=m))  # type: ignore[misc]
        out.modes[mode].append(ms)
    retriever.on_step = None
    # The registry lookup inside each search, timed alone on the dense ranking's ids.
    dense, _ = retriever.rankings(query, max(4 * K, CANDIDATES), "dense")
    info = store.info()
    assert info is not None
    keys = [(row.doc_id, row.index) for row, _ in dense]
    _, steps["chunks_by_ids"] = _timed(lambda: store.chunks(info, keys))
    for step in STEPS:
        out.steps[step].append(steps[step])


def run_query(options: BenchOptions) -> BenchResult:
    """Latency percentiles at each index size, how they grow, and the step breakdown."""
    result = BenchResult("query")
    embedder = get_embedder(options.settings)
    embedder.embed_query("warm up")
    pool = chunk_pool(options, embedder)
    queries = scifact_claims(options.data, options.queries + WARMUP)
    stores: dict[int, Store] = {}
    for size in options.sizes:
        started = time.perf_counter()
        stores[size] = build_index(options, size, embedder, pool)
        result.data[f"build_seconds_{size}"] = time.perf_counter() - started
    measured = measure(stores, embedder, queries)

    table = Table(f"retrieval latency, ms ({len(queries) - WARMUP} SciFact claims, k={K}, "
                  f"{options.settings.embed_backend} query embedding)",
                  ["mode"] + [f"{p} @{s:,}" for s in options.sizes for p in ("p50", "p95")]
                  + (["p50 growth"] if len(options.sizes) > 1 else []))
    first, last = options.sizes[0], options.sizes[-1]
    for mode in MODES:
        cells: list[Any] = [mode]
        for size in options.sizes:
            values = measured[size].modes[mode]
            cells += [percentile(values, 50), percentile(values, 95)]
        if len(options.sizes) > 1:
            cells.append(ratio(percentile(measured[last].modes[mode], 50),
                               percentile(measured[first].modes[mode], 50)))
        table.add(*cells)
    result.tables.append(table)

    steps = Table("where the time goes, ms (the steps of each hybrid search above; "
                  "chunks_by_ids timed alone, part of each search)",
                  ["step"] + [f"{p} @{s:,}" for s in options.sizes for p in ("p50", "p95")])
    for step in STEPS:
        cells = [step]
        for size in options.sizes:
            values = measured[size].steps[step]
            cells += [percentile(values, 50), percentile(values, 95)]
        steps.add(*cells)
    result.tables.append(steps)

    hybrid_last = measured[last].modes["hybrid"]
    p50, p95 = percentile(hybrid_last, 50), percentile(hybrid_last, 95)
    result.goals[f"hybrid p50 at {last:,} chunks = {p50:.1f} ms <= {GOAL_P50_MS:g} ms"] = \
        p50 <= GOAL_P50_MS
    result.goals[f"hybrid p95 at {last:,} chunks = {p95:.1f} ms <= {GOAL_P95_MS:g} ms"] = \
        p95 <= GOAL_P95_MS
    if len(options.sizes) > 1:
        growth = ratio(p50, percentile(measured[first].modes["hybrid"], 50))
        result.goals[f"hybrid p50 growth {first:,} -> {last:,} = {growth:.2f}x <= "
                     f"{GOAL_GROWTH:g}x"] = growth <= GOAL_GROWTH
    result.notes += [
        f"Synthetic scale indexes: {len(pool.texts)} real chunks of the first "
        f"{options.pool_docs} SciFact abstracts (embedded for real), then chunks of 7 random "
        "SciFact/SQuAD sentences whose vectors are pool vectors + N(0, "
        f"{NOISE}) noise, re-normalized; written through Store/Registry, "
        f"{CHUNKS_PER_DOC} chunks per document.",
        "End-to-end = Retriever.passages (as `qa search`): query embedding, Chroma HNSW, "
        "registry lookups, tantivy BM25, weighted standard-score fusion, document titles. "
        f"First {WARMUP} queries untimed. Machine load average at the end: "
        f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.",
    ]
    result.data["latencies_ms"] = {
        str(size): {"modes": lat.modes, "steps": lat.steps} for size, lat in measured.items()
    }
    result.data["pool_chunks"] = len(pool.texts)
    return result
