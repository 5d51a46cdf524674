"""The knobs of a benchmark run, with full and ``--quick`` (CI smoke test) sizes."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from qa.config import Settings


@dataclass(frozen=True)
class BenchOptions:
    """Sizes and places of one ``qa bench`` run.

    Attributes:
        settings: qa's settings; ``data_dir`` holds the bench's work folder and
            the ONNX model cache, ``embed_backend`` is the backend the query,
            cold-start and memory benchmarks use.
        work_dir: generated corpora, cached scale indexes and scratch indexes.
        data: the shared benchmark data folder (holding ``scifact/``).
        quick: small sizes, for smoke tests.
        rounds: timed rounds of the ingest comparison (contenders interleaved).
        scifact_docs: SciFact abstracts ingested (the first N of corpus.jsonl).
        text_mb: size of the generated text corpus of the ingest comparison.
        text_file_kb: size of each of its files.
        sizes: chunk counts of the retrieval latency indexes.
        queries: timed queries per index and mode (SciFact test claims).
        pool_docs: SciFact abstracts whose real chunks and vectors seed the scale indexes.
        corpus_mb: corpus sizes of the bounded-memory runs (stub embedder).
        real_mb: corpus sizes ingested with the real model for peak RSS.
        big_file_mb: size of the single large file (stub embedder); 0 to skip.
        server_mb: corpus sizes ingested (stub embedder) into a Chroma server that the
            benchmark starts, so the vector index lives outside qa's process.
        resume_files: files of the kill -9 resume corpus.
    """

    settings: Settings
    work_dir: Path
    data: Path
    quick: bool = False
    rounds: int = 3
    scifact_docs: int = 1000
    text_mb: float = 2.0
    text_file_kb: int = 256
    sizes: tuple[int, ...] = (10_000, 100_000)
    queries: int = 200
    pool_docs: int = 500
    corpus_mb: tuple[float, ...] = (10, 50, 200)
    real_mb: tuple[float, ...] = (2,)
    big_file_mb: float = 200
    server_mb: tuple[float, ...] = (200,)
    resume_files: int = 40

    @classmethod
    def create(cls, settings: Settings, data: Path, quick: bool = False,
               **overrides: Any) -> BenchOptions:
        """Options for a full run, or a ``quick`` one; ``overrides`` that are None are ignored."""
        options = cls(settings=settings, work_dir=settings.data_dir / "bench", data=data)
        if quick:
            options = replace(
                options, quick=True, rounds=1, scifact_docs=30, text_mb=0.1, text_file_kb=25,
                sizes=(300, 1200), queries=12, pool_docs=30, corpus_mb=(0.5, 1.0),
                real_mb=(0.2,), big_file_mb=1.0, server_mb=(0.5,), resume_files=8,
            )
        known = {f.name for f in fields(cls)}
        return replace(options, **{k: v for k, v in overrides.items()
                                   if v is not None and k in known})

    def describe(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "settings"}
        out["embed_backend"] = self.settings.embed_backend
        out["embed_batch_size"] = self.settings.embed_batch_size
        out["chunk_tokens"] = self.settings.chunk_tokens
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}
