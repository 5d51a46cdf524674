"""Ingest throughput: qa's pipeline against the naive LangChain pipeline and the bare encoder.

Contenders, all timed in one process on the same documents, interleaved in
rounds (the order rotates every round) so a busy machine slows each alike:

* ``qa int8`` / ``qa torch``: qa's whole ingest (parsing in the worker process
  for files, structure-following chunking, embedding, Chroma, the SQLite
  registry and keyword index), into a fresh index per round.
* ``naive LangChain``: read the text, ``RecursiveCharacterTextSplitter(1000,
  200)``, ``HuggingFaceEmbeddings`` on the packaged model's folder and
  ``Chroma.from_documents`` into a fresh persistent folder.
* ``encoder fp32`` / ``encoder int8``: only ``embed_documents`` on qa's own
  chunk texts (title line included, as ingest embeds them); no chunking, no
  storage. The fp32 one is the ceiling an fp32 pipeline could reach.

Model loading and the one-time ONNX build are outside the timings. Ratios are
computed within each round and their median is reported.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.embedding import Embedder, SentenceTransformerEmbedder, resolve_model_path
from qa.ingestion.chunking import chunk_body, chunk_document
from qa.types import LoadedDocument
from qa_measure.bench.corpus import corpus_bytes, generated_corpus, scifact_documents
from qa_measure.bench.options import BenchOptions
from qa_measure.bench.report import BenchResult, Table, median, ratio

log = logging.getLogger(__name__)

HEADLINE = ("qa int8", "naive LangChain")
GOAL_SPEEDUP = 3.0


@dataclass
class Corpus:
    """Documents every contender ingests: in memory (``docs``) or as ``files``."""

    name: str
    description: str
    docs: list[LoadedDocument] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    bytes: int = 0

    def loaded(self) -> list[LoadedDocument]:
        if self.docs:
            return self.docs
        from qa.loaders import load

        return [load(f) for f in self.files]


@dataclass
class Contender:
    name: str
    kind: str  # "pipeline" or "encoder"
    run: Callable[[Corpus, Path], int]  # returns chunks embedded
    note: str = ""


@dataclass
class Timing:
    chunks: int = 0
    seconds: list[float] = field(default_factory=list)
    encode_seconds: list[float] = field(default_factory=list)

    def rates(self) -> list[float]:
        return [self.chunks / s for s in self.seconds if s > 0]


class _TimedEmbedder(Embedder):
    """Passes calls to ``inner``, adding up the seconds spent in ``embed_documents``."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name, self.dim, self.max_tokens = inner.name, inner.dim, inner.max_tokens
        self.seconds = 0.0

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.inner.count_tokens(texts)

    def embed_documents(self, texts: list[str]) -> Any:
        t0 = time.perf_counter()
        try:
            return self.inner.embed_documents(texts)
        finally:
            self.seconds += time.perf_counter() - t0

    def embed_query(self, text: str) -> Any:
        return self.inner.embed_query(text)



def qa_bodies(doc: LoadedDocument, embedder: Embedder, options: BenchOptions) -> list[str]:
    """The texts qa embeds for ``doc``: each chunk under its title line."""
    settings = options.settings
    chunks = chunk_document(doc, "bench", embedder.count_tokens, chunk_tokens=settings.chunk_tokens,
                            overlap=settings.chunk_overlap, max_tokens=embedder.max_tokens)
    return [chunk_body(doc.title, c.section, c.text) for c in chunks]


def _qa_pipeline(embedder: _TimedEmbedder, options: BenchOptions,
                 backend: str) -> Callable[[Corpus, Path], int]:
    from qa.index import Store
    from qa.ingestion.pipeline import ingest_documents, ingest_files

    def run(corpus: Corpus, scratch: Path) -> int:
        settings = options.settings.with_(data_dir=scratch, collection="bench",
                                          embed_backend=backend, chroma_host="")
        store = Store(settings, embedder.name, embedder.dim)
        if corpus.files:
            report = ingest_files(corpus.files, settings, embedder, store)
        else:
            report = ingest_documents(corpus.docs, settings, embedder, store)
        if report.failed:
            raise RuntimeError(f"qa ingest failed on {report.failed[0].path}: "
                               f"{report.failed[0].message}")
        store.close()
        return report.chunks_embedded

    return run


def _naive_pipeline(model_path: str) -> tuple[Callable[[Corpus, Path], int], Any]:
    """The LangChain quick-start pipeline, as a newcomer would write it."""
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    embeddings = HuggingFaceEmbeddings(model_name=model_path)
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)

    def run(corpus: Corpus, scratch: Path) -> int:
        if corpus.files:
            docs = [Document(page_content=f.read_text(encoding="utf-8"),
                             metadata={"source": str(f)}) for f in corpus.files]
        else:
            docs = [Document(page_content=d.text, metadata={"source": d.source, "title": d.title})
                    for d in corpus.docs]
        splits = splitter.split_documents(docs)
        Chroma.from_documents(splits, embeddings, persist_directory=str(scratch / "chroma"),
                              collection_name="naive")
        return len(splits)

    return run, splitter


def _encoder_only(embedder: Embedder,
                  bodies: dict[str, list[str]]) -> Callable[[Corpus, Path], int]:
    def run(corpus: Corpus, scratch: Path) -> int:
        texts = bodies[corpus.name]
        embedder.embed_documents(texts)
        return len(texts)

    return run


def corpora(options: BenchOptions) -> list[Corpus]:
    docs = scifact_documents(options.data, options.scifact_docs)
    scifact = Corpus(
        "scifact", f"SciFact: the first {len(docs)} abstracts of corpus.jsonl (in memory)",
        docs=docs, bytes=sum(len(d.text.encode()) + len(d.title.encode()) for d in docs),
    )
    folder = options.work_dir / "corpora" / f"ingest-{options.text_mb:g}mb-{options.text_file_kb}kb"
    files = generated_corpus(options.data, folder, options.text_mb, options.text_file_kb)
    text = Corpus(
        "generated", f"generated: {len(files)} .txt files, {corpus_bytes(files) / 2**20:.1f} MB "
        "of shuffled SciFact/SQuAD sentences (read from disk)", files=files,
        bytes=corpus_bytes(files),
    )
    return [scifact, text]


def run_ingest(options: BenchOptions) -> BenchResult:
    """Chunks per second of every contender on SciFact and on a generated text corpus."""
    from qa.embedding.onnx_int8 import OnnxEmbedder

    settings = options.settings
    result = BenchResult("ingest")
    started = time.perf_counter()
    torch_embedder = SentenceTransformerEmbedder(settings.embed_model,
                                                 batch_size=settings.embed_batch_size)
    int8_embedder = OnnxEmbedder(settings.embed_model, cache_dir=settings.models_dir,
                                 batch_size=settings.embed_batch_size)
    result.data["model_load_seconds"] = time.perf_counter() - started
    sets = corpora(options)
    bodies = {c.name: [b for d in c.loaded() for b in qa_bodies(d, int8_embedder, options)]
              for c in sets}

    timed = {"qa int8": _TimedEmbedder(int8_embedder), "qa torch": _TimedEmbedder(torch_embedder)}
    contenders = [
        Contender("qa int8", "pipeline", _qa_pipeline(timed["qa int8"], options, "onnx-int8")),
        Contender("qa torch", "pipeline", _qa_pipeline(timed["qa torch"], options, "torch")),
    ]
    splitter = None
    try:
        naive, splitter = _naive_pipeline(resolve_model_path(settings.embed_model))
        contenders.append(Contender("naive LangChain", "pipeline", naive))
    except ImportError as exc:
        result.notes.append(f"naive LangChain skipped: {exc.name} is missing; "
                            "install the bench extra: pip install -e '.[bench]'")
    contenders += [
        Contender("encoder fp32 (ST)", "encoder", _encoder_only(torch_embedder, bodies)),
        Contender("encoder int8", "encoder", _encoder_only(int8_embedder, bodies)),
    ]

    scratch_root = options.work_dir / "scratch" / f"ingest-{time.strftime('%H%M%S')}"
    timings: dict[tuple[str, str], Timing] = {}
    try:
        # Warm-up: every code path once on a few documents, untimed.
        for corpus in sets:
            small = Corpus(corpus.name, "", docs=corpus.loaded()[:3])
            for c in contenders:
                if c.kind == "pipeline":
                    c.run(small, scratch_root / f"warm-{corpus.name}-{c.name.replace(' ', '_')}")
        for round_no in range(options.rounds):
            for corpus in sets:
                shift = round_no % len(contenders)
                for c in contenders[shift:] + contenders[:shift]:
                    scratch = scratch_root / f"{corpus.name}-{c.name.replace(' ', '_')}-{round_no}"
                    encoding = timed.get(c.name)
                    before = encoding.seconds if encoding else 0.0
                    t0 = time.perf_counter()
                    chunks = c.run(corpus, scratch)
                    seconds = time.perf_counter() - t0
                    timing = timings.setdefault((corpus.name, c.name), Timing(chunks))
                    timing.seconds.append(seconds)
                    timing.encode_seconds.append(
                        encoding.seconds - before if encoding else seconds)
                    log.info("round %d %s %s: %d chunks in %.1fs", round_no, corpus.name,
                             c.name, chunks, seconds)
    finally:
        shutil.rmtree(scratch_root, ignore_errors=True)

    counter = int8_embedder.count_tokens
    for corpus in sets:
        naive_chunks = _naive_chunks(splitter, corpus) if splitter else []
        _table(result, corpus, contenders, timings, bodies[corpus.name], naive_chunks, counter)
    _goals(result, sets, timings)
    result.notes += [
        f"{options.rounds} round(s); contenders interleaved, order rotated each round; "
        "chunks/s is the median over rounds, ratios are medians of per-round ratios.",
        f"qa chunks: <= {options.settings.chunk_tokens} word pieces + title line; naive "
        "chunks: 1000 characters with 200 overlap (see 'wp/chunk'); 'KB/s' (text per "
        "second) compares the same documents whatever the chunking.",
        "Model loading and the one-time ONNX build are not timed; every pipeline run writes a "
        "fresh index. 'encode %' = share of a qa run spent inside embed_documents.",
    ]
    result.data["timings"] = {f"{k[0]}|{k[1]}": {"chunks": t.chunks, "seconds": t.seconds,
                                                 "encode_seconds": t.encode_seconds}
                              for k, t in timings.items()}
    result.data["corpora"] = {c.name: {"description": c.description, "bytes": c.bytes}
                              for c in sets}
    return result


def _naive_chunks(splitter: Any, corpus: Corpus) -> list[str]:
    if corpus.files:
        texts = [f.read_text(encoding="utf-8") for f in corpus.files]
    else:
        texts = [d.text for d in corpus.docs]
    return [c for t in texts for c in splitter.split_text(t)]


def _table(result: BenchResult, corpus: Corpus, contenders: list[Contender],
           timings: dict[tuple[str, str], Timing], bodies: list[str], naive_chunks: list[str],
           counter: Callable[[list[str]], list[int]]) -> None:
    def wp(texts: list[str]) -> float:
        return sum(counter(texts)) / max(len(texts), 1)

    table = Table(f"ingest: {corpus.description}",
                  ["contender", "chunks", "wp/chunk", "chunks/s", "best", "KB/s",
                   "x naive", "x enc fp32", "s/round", "encode %"])
    for c in contenders:
        t = timings.get((corpus.name, c.name))
        if t is None:
            continue
        rates = t.rates()
        kb_s = [corpus.bytes / 1024 / s for s in t.seconds]
        per_round = _per_round(timings, corpus.name, c.name, "naive LangChain")
        vs_fp32 = _per_round(timings, corpus.name, c.name, "encoder fp32 (ST)")
        size = wp(naive_chunks) if c.name == "naive LangChain" else wp(bodies)
        share = [100 * e / s for e, s in zip(t.encode_seconds, t.seconds, strict=True)]
        table.add(c.name, t.chunks, size, median(rates), max(rates), median(kb_s),
                  median(per_round) if per_round else None,
                  median(vs_fp32) if vs_fp32 else None, median(t.seconds),
                  median(share) if c.name in ("qa int8", "qa torch") else None)
    result.tables.append(table)


def _per_round(timings: dict[tuple[str, str], Timing], corpus: str, name: str,
               base: str) -> list[float]:
    a, b = timings.get((corpus, name)), timings.get((corpus, base))
    if a is None or b is None:
        return []
    return [ratio(a.chunks / sa, b.chunks / sb) for sa, sb in zip(a.seconds, b.seconds,
                                                                   strict=True)]


def _time_ratio(timings: dict[tuple[str, str], Timing], corpus: str, fast: str,
                slow: str) -> list[float]:
    a, b = timings.get((corpus, fast)), timings.get((corpus, slow))
    if a is None or b is None:
        return []
    return [ratio(sb, sa) for sa, sb in zip(a.seconds, b.seconds, strict=True)]


def _goals(result: BenchResult, sets: list[Corpus],
           timings: dict[tuple[str, str], Timing]) -> None:
    headline: dict[str, Any] = {}
    for corpus in sets:
        chunk_ratio = _per_round(timings, corpus.name, *HEADLINE)
        same_docs = _time_ratio(timings, corpus.name, *HEADLINE)
        if not chunk_ratio:
            result.goals[f"{corpus.name}: qa int8 / naive LangChain chunks/s >= "
                         f"{GOAL_SPEEDUP:g}x"] = None
            continue
        headline[corpus.name] = {"chunks_per_s_ratio": median(chunk_ratio),
                                 "same_documents_time_ratio": median(same_docs),
                                 "per_round": chunk_ratio}
        result.goals[
            f"{corpus.name}: qa int8 / naive LangChain chunks/s = {median(chunk_ratio):.2f}x "
            f"(same documents, wall time: {median(same_docs):.2f}x) >= {GOAL_SPEEDUP:g}x"
        ] = median(chunk_ratio) >= GOAL_SPEEDUP
    result.data["headline"] = headline
