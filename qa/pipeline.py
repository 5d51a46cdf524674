"""Ingest: files → loaded documents → chunks → vectors → the store.

Documents are the unit of consistency. A document's id is its content hash, so
unchanged files embed nothing; a changed file replaces its old version in the
same registry transaction that makes the new one searchable. Chunks of several
small documents are embedded together (the encoder is the cost of ingest), but
each document is committed on its own.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qa.chunking import chunk_document, embedding_header, embedding_text
from qa.config import Settings
from qa.embeddings import Embedder
from qa.errors import LoaderError, QAError
from qa.registry import CollectionInfo
from qa.store import Store
from qa.types import Chunk, FileResult, IngestReport, LoadedDocument

log = logging.getLogger(__name__)

EMBED_BATCH_CHUNKS = 256


@dataclass
class IngestProgress:
    """Where an ingest is: reported after each file and each embedded batch."""

    files_done: int
    files_total: int
    chunks_done: int
    seconds: float
    last: FileResult | None = None

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_done / self.seconds if self.seconds > 0 else 0.0


ProgressCallback = Callable[[IngestProgress], None]


def doc_id_for(content_hash: str) -> str:
    return content_hash[:24]


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def iter_files(paths: Iterable[str | Path], suffixes: frozenset[str]) -> Iterator[Path | FileResult]:
    """Files to ingest under ``paths``; a problem with a path comes back as a failed result.

    Folders are walked recursively (hidden entries skipped). A symlink inside a
    folder that points outside it is skipped, so ingesting a folder never reads
    files the folder does not hold.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            yield FileResult(str(path), "failed", message="no such file or folder")
        elif path.is_dir():
            root = path.resolve()
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    file = Path(dirpath) / name
                    if name.startswith(".") or file.suffix.lower() not in suffixes:
                        continue
                    target = file.resolve()
                    if not target.is_relative_to(root):
                        yield FileResult(
                            str(file), "failed",
                            message=f"skipped: symlink to {target}, outside {root}",
                        )
                        continue
                    yield file
        else:
            yield path


@dataclass
class _Prepared:
    doc: LoadedDocument
    doc_id: str
    chunks: list[Chunk]
    bodies: list[str]
    replaces: list[str]
    result: FileResult


@dataclass
class Ingestor:
    """Writes documents into one collection; use as ``with store.writing() as info``."""

    settings: Settings
    embedder: Embedder
    store: Store
    info: CollectionInfo
    progress: ProgressCallback | None = None
    report: IngestReport = field(default_factory=IngestReport)
    files_total: int = 0
    _pending: list[_Prepared] = field(default_factory=list)
    _started: float = field(default_factory=time.perf_counter)

    def add_file(self, path: Path) -> None:
        from qa.loaders import load

        source = str(path.resolve())
        try:
            stat = path.stat()
            content_hash = file_hash(path)
        except OSError as exc:
            self._done(FileResult(str(path), "failed", message=f"cannot read: {exc.strerror}"))
            return
        doc_id = doc_id_for(content_hash)
        if self._already_known(doc_id, source, stat.st_mtime):
            return
        try:
            doc = load(path, max_bytes=self.settings.max_file_mb * 2**20)
        except LoaderError as exc:
            self._done(FileResult(str(path), "failed", message=exc.reason))
            return
        doc.source = source
        self.add_document(doc, doc_id=doc_id, size=stat.st_size, mtime=stat.st_mtime)

    def _already_known(self, doc_id: str, source: str, mtime: float) -> bool:
        """Report a document whose content is indexed (or queued) already."""
        queued = next((p for p in self._pending if p.doc_id == doc_id), None)
        if queued is not None:
            self._done(FileResult(source, "duplicate", doc_id, len(queued.chunks),
                                  f"same content as {queued.doc.source}"))
            return True
        existing = self.store.registry.document(self.info.name, doc_id)
        if existing is None or existing.status != "ready":
            return False
        self._known(existing.source, source, doc_id, existing.chunks, mtime)
        return True

    def _known(self, old: str, new: str, doc_id: str, chunks: int, mtime: float) -> None:
        if old == new or not Path(old).exists():
            if old != new:  # the file moved: keep its vectors, follow it
                self.store.registry.set_source(self.info.name, doc_id, new, mtime)
            self._done(FileResult(new, "unchanged", doc_id, chunks))
        else:
            self._done(FileResult(new, "duplicate", doc_id, chunks, f"same content as {old}"))

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
        replaces = [d.id for d in self.store.registry.by_source(self.info.name, doc.source)]
        bodies = [embedding_text(embedding_header(doc.title, c.section), c.text) for c in chunks]
        self.store.registry.begin_document(
            self.info.name, doc_id, doc.source, doc.title, size, mtime
        )
        status = "replaced" if replaces else "added"
        result = FileResult(doc.source, status, doc_id, len(chunks))
        self._pending.append(_Prepared(doc, doc_id, chunks, bodies, replaces, result))
        if sum(len(p.chunks) for p in self._pending) >= EMBED_BATCH_CHUNKS:
            self.flush()

    def flush(self) -> None:
        """Embed the queued documents together, then commit each one."""
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        vectors = self.embedder.embed_documents([b for p in batch for b in p.bodies])
        offset = 0
        for prepared in batch:
            n = len(prepared.chunks)
            self.store.add(
                self.info, prepared.doc_id, prepared.chunks, vectors[offset : offset + n],
                prepared.bodies, prepared.doc.text, prepared.doc.blocks, prepared.replaces,
            )
            offset += n
            self.report.chunks_embedded += n
            self._done(prepared.result)

    def _done(self, result: FileResult) -> None:
        if result.status == "failed":
            log.warning("%s: %s", result.path, result.message)
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
    """Ingest files and folders; one failed file never stops the others."""
    from qa.loaders import SUPPORTED_SUFFIXES

    items = list(iter_files(paths, SUPPORTED_SUFFIXES))
    with store.writing() as info:
        ingestor = Ingestor(settings, embedder, store, info, progress, files_total=len(items))
        for item in items:
            if isinstance(item, FileResult):
                ingestor._done(item)
                continue
            try:
                ingestor.add_file(item)
            except QAError as exc:
                ingestor._done(FileResult(str(item), "failed", message=str(exc)))
        ingestor.flush()
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
        for doc in docs:
            ingestor.add_document(doc)
        ingestor.flush()
    return ingestor.report
