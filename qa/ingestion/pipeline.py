"""Ingest: files → loaded documents → chunks → vectors → the store.

Documents are the unit of consistency. A document's id is its content hash, so
unchanged files embed nothing; a changed file replaces its old version in the
same registry transaction that makes the new one searchable. Chunks of several
small documents are embedded together (the encoder is the cost of ingest), but
each document is committed on its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.config import Settings
from qa.embedding import Embedder
from qa.errors import LoaderError, QAError, StoreError, printable_path
from qa.index import CollectionInfo, Store, storage_error
from qa.ingestion.chunking import chunk_body, chunk_document
from qa.ingestion.parsing import Limits, load_isolated
from qa.ingestion.progress import IngestProgress, ProgressCallback
from qa.ingestion.sources import doc_id_for, file_hash, iter_files, resolve, unreadable
from qa.types import Chunk, FileResult, IngestReport, LoadedDocument

log = logging.getLogger(__name__)

EMBED_BATCH_CHUNKS = 256


@dataclass
class _Prepared:
    doc: LoadedDocument
    doc_id: str
    chunks: list[Chunk]
    replaces: list[str]
    result: FileResult
    submitted: int = 0  # chunks handed to the embedder
    embedded: int = 0  # chunks whose vectors and keyword entries are written

    def body(self, chunk: Chunk) -> str:
        return chunk_body(self.doc.title, chunk.section, chunk.text)


@dataclass
class _Batch:
    """Chunks handed to the embedder together: ``work`` holds (document, first, end)."""

    work: list[tuple[_Prepared, int, int]]
    texts: list[str]
    vectors: Future[np.ndarray]


@dataclass
class Ingestor:
    """Writes documents into one collection, inside ``store.writing()``.

    Chunks are embedded in batches of ``EMBED_BATCH_CHUNKS`` across documents and
    their vectors written to Chroma batch by batch, so memory stays bounded
    whatever the corpus size; a document becomes searchable when its last
    batch is written. One batch is embedded in a background thread while this
    thread chunks the next documents and writes the batch before it, so the
    cores the encoder leaves idle do that work; every write and commit still
    happens here, in order. Call :meth:`close` when done.
    """

    settings: Settings
    embedder: Embedder
    store: Store
    info: CollectionInfo
    progress: ProgressCallback | None = None
    report: IngestReport = field(default_factory=IngestReport)
    files_total: int = 0
    _pending: list[_Prepared] = field(default_factory=list)
    _started: float = field(default_factory=time.perf_counter)
    _inflight: _Batch | None = None
    _encoder: ThreadPoolExecutor | None = None

    def needs_parsing(self, path: Path) -> bool:
        """Hash a regular file; report it and return False when it is unreadable or known.

        Runs in this process, before the parse worker and its time limit, so it
        never opens anything but a regular file (see :func:`file_hash`).
        """
        try:
            source = str(resolve(path))
            mtime = path.stat().st_mtime
            content_hash = file_hash(path)
        except LoaderError as exc:
            self._done(FileResult(str(path), "failed", message=exc.reason))
            return False
        except OSError as exc:
            self._done(FileResult(str(path), "failed", message=unreadable(exc)))
            return False
        return not self._already_known(doc_id_for(content_hash), source, mtime)

    def add_loaded(self, path: Path, loaded: LoadedDocument | LoaderError) -> None:
        if isinstance(loaded, LoaderError):
            self._done(FileResult(str(path), "failed", message=loaded.reason))
            return
        try:
            loaded.source = str(resolve(path))
        except OSError as exc:  # replaced by a symlink loop since it was parsed
            self._done(FileResult(str(path), "failed", message=unreadable(exc)))
            return
        try:
            file_stat = path.stat()
            size, mtime = file_stat.st_size, file_stat.st_mtime
        except OSError:
            size, mtime = 0, 0.0
        self.add_document(loaded, doc_id=doc_id_for(loaded.content_hash), size=size, mtime=mtime)

    def _already_known(self, doc_id: str, source: str, mtime: float) -> bool:
        """Report a document whose content is indexed (or queued) already."""
        queued = next((p for p in self._pending if p.doc_id == doc_id), None)
        if queued is not None:
            self._done(FileResult(source, "duplicate", doc_id, len(queued.chunks),
                                  f"same content as {printable_path(queued.doc.source)}"))
            return True
        existing = self.store.document(doc_id)
        if existing is None or existing.status != "ready":
            return False
        self._known(existing.source, source, doc_id, existing.chunks, mtime)
        return True

    def _known(self, old: str, new: str, doc_id: str, chunks: int, mtime: float) -> None:
        if old == new or not Path(old).exists():
            if old != new:  # the file moved: keep its vectors, follow it
                self.store.set_source(doc_id, new, mtime)
            self._done(FileResult(new, "unchanged", doc_id, chunks))
        else:
            self._done(FileResult(new, "duplicate", doc_id, chunks,
                                  f"same content as {printable_path(old)}"))

    def add_document(
        self, doc: LoadedDocument, doc_id: str | None = None, size: int = 0, mtime: float = 0.0
    ) -> None:
        """Chunk a loaded document and queue it for embedding."""
        doc_id = doc_id or doc_id_for(doc.content_hash)
        if self._already_known(doc_id, doc.source, mtime):
            return
        chunks = chunk_document(
            doc, doc_id, self.embedder.count_tokens,
            chunk_tokens=self.settings.chunk_tokens, overlap=self.settings.chunk_overlap,
            max_tokens=self.embedder.max_tokens,
        )
        if not chunks:
            self._done(FileResult(doc.source, "failed", message="has no text to index"))
            return
        replaces = [d.id for d in self.store.documents_at(doc.source)]
        self.store.begin(self.info, doc_id, doc.source, doc.title, size, mtime)
        status = "replaced" if replaces else "added"
        result = FileResult(doc.source, status, doc_id, len(chunks))
        self._pending.append(_Prepared(doc, doc_id, chunks, replaces, result))
        while sum(len(p.chunks) - p.submitted for p in self._pending) >= EMBED_BATCH_CHUNKS:
            self._embed_batch()

    def _embed_batch(self) -> None:
        """Start embedding the next batch of queued chunks; write the batch before it."""
        work: list[tuple[_Prepared, int, int]] = []
        room = EMBED_BATCH_CHUNKS
        for prepared in self._pending:
            if room == 0:
                break
            take = min(room, len(prepared.chunks) - prepared.submitted)
            if take:
                work.append((prepared, prepared.submitted, prepared.submitted + take))
                prepared.submitted += take
                room -= take
        texts = [p.body(c) for p, a, b in work for c in p.chunks[a:b]]
        if self._encoder is None:
            self._encoder = ThreadPoolExecutor(1, thread_name_prefix="qa-ingest")
        previous = self._inflight
        self._inflight = _Batch(work, texts, self._encoder.submit(self.embedder.embed_documents,
                                                                  texts))
        if previous is not None:
            self._write(previous)

    def _write(self, batch: _Batch) -> None:
        """Write an embedded batch; commit the documents it completes."""
        chunks = [c for p, a, b in batch.work for c in p.chunks[a:b]]
        # One write for the whole batch: Chroma's cost per call dwarfs its cost per
        # vector for small documents (measured: 166 vectors/s in calls of 8, 823 in 256).
        self.store.add_chunks(self.info, chunks, batch.texts, batch.vectors.result())
        for prepared, _, b in batch.work:
            self.report.chunks_embedded += b - prepared.embedded
            prepared.embedded = b
        while self._pending and self._pending[0].embedded == len(self._pending[0].chunks):
            done = self._pending.pop(0)
            self.store.commit(self.info, done.doc_id, done.chunks, done.doc.text,
                              done.doc.blocks, done.replaces)
            self._done(done.result)

    def flush(self) -> None:
        """Embed and commit everything queued."""
        while any(p.submitted < len(p.chunks) for p in self._pending):
            self._embed_batch()
        if self._inflight is not None:
            batch, self._inflight = self._inflight, None
            self._write(batch)

    def close(self) -> None:
        """Stop the background encoder (what it was doing is dropped, never written)."""
        if self._encoder is not None:
            self._encoder.shutdown(wait=True, cancel_futures=True)
            self._encoder = None

    def _done(self, result: FileResult) -> None:
        if result.status == "failed":
            # Info, not warning: the report carries the failure, and the edges (CLI,
            # web app) show it once; a warning would print it a second time.
            log.info("failed: %s: %s", printable_path(result.path), result.message)
        self.report.files.append(result)
        self.report.seconds = time.perf_counter() - self._started
        if self.progress:
            self.progress(
                IngestProgress(
                    len(self.report.files), self.files_total, self.report.chunks_embedded,
                    self.report.seconds, result,
                )
            )


def ingest_files(
    paths: Iterable[str | Path],
    settings: Settings,
    embedder: Embedder,
    store: Store,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest files and folders; one failed file never stops the others.

    Files are parsed in a worker process (see :mod:`qa.ingestion.parsing`) one or two
    files ahead of the embedder, each within a time and memory limit.
    """
    from qa.loaders import SUPPORTED_SUFFIXES

    items = list(iter_files(paths, SUPPORTED_SUFFIXES))
    limits = Limits.of(settings)
    try:
        with store.writing() as info:
            ingestor = Ingestor(settings, embedder, store, info, progress, files_total=len(items))
            try:
                for item in items:
                    if isinstance(item, FileResult):
                        ingestor._done(item)
                to_parse = (p for p in items if isinstance(p, Path) and ingestor.needs_parsing(p))
                for path, loaded in load_isolated(to_parse, limits):
                    try:
                        ingestor.add_loaded(path, loaded)
                    except QAError as exc:
                        if isinstance(exc, StoreError):
                            raise  # the index, not this file, failed: stop
                        ingestor._done(FileResult(str(path), "failed", message=str(exc)))
                ingestor.flush()
            finally:
                ingestor.close()
    except Exception as exc:
        error = None if isinstance(exc, QAError) else storage_error(exc, settings)
        if error is None:
            raise
        raise error from exc
    return ingestor.report


def ingest_documents(
    docs: Iterable[LoadedDocument],
    settings: Settings,
    embedder: Embedder,
    store: Store,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest documents that are already loaded (used by evaluation and benchmarks)."""
    with store.writing() as info:
        ingestor = Ingestor(settings, embedder, store, info, progress)
        try:
            for doc in docs:
                ingestor.add_document(doc)
            ingestor.flush()
        finally:
            ingestor.close()
    return ingestor.report
