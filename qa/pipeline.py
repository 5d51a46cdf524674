"""Ingest: files → loaded documents → chunks → vectors → the store.

Documents are the unit of consistency. A document's id is its content hash, so
unchanged files embed nothing; a changed file replaces its old version in the
same registry transaction that makes the new one searchable. Chunks of several
small documents are embedded together (the encoder is the cost of ingest), but
each document is committed on its own.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from qa.chunking import chunk_document, embedding_header, embedding_text
from qa.config import Settings
from qa.embedding import Embedder
from qa.errors import LoaderError, QAError, StoreError, printable_path
from qa.parsing import Limits, load_isolated
from qa.registry import CollectionInfo
from qa.store import Store, storage_error
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

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left, from the pace of the files done so far (None before the first)."""
        if not self.files_done or not self.files_total or self.seconds <= 0:
            return None
        return self.seconds * max(self.files_total - self.files_done, 0) / self.files_done

    def describe(self) -> str:
        """One line for a progress display.

        >>> IngestProgress(2, 4, 300, 10.0).describe()
        '2/4 files · 300 chunks · 30.0 chunks/s · about 10 s left'
        """
        parts = [f"{self.files_done}/{self.files_total} files", f"{self.chunks_done} chunks",
                 f"{self.chunks_per_second:.1f} chunks/s"]
        eta = self.eta_seconds
        if eta is not None and self.files_done < self.files_total:
            parts.append(f"about {eta:.0f} s left" if eta < 120 else
                         f"about {eta / 60:.0f} min left")
        return " · ".join(parts)


ProgressCallback = Callable[[IngestProgress], None]


def doc_id_for(content_hash: str) -> str:
    return content_hash[:24]


def file_hash(path: Path) -> str:
    """SHA-256 of the bytes of the regular file ``path``.

    A pipe, socket or device is never opened: opening a FIFO blocks until
    something writes to it, and ``/dev/zero`` never ends.

    Raises:
        LoaderError: ``path`` is not a regular file.
        OSError: it cannot be read.
    """
    from qa.loaders.base import NOT_REGULAR

    if not stat.S_ISREG(path.stat().st_mode):
        raise LoaderError(str(path), NOT_REGULAR)
    # Opened without blocking and checked again: it may have been swapped since the stat.
    with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise LoaderError(str(path), NOT_REGULAR)
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(path: Path) -> Path:
    """``path`` made absolute with every symlink followed.

    Raises:
        OSError: with ``errno.ELOOP`` for a symlink loop (Python before 3.13
            raises RuntimeError for it, which no caller expects).
    """
    try:
        return path.resolve()
    except RuntimeError as exc:
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from exc


def unreadable(exc: OSError) -> str:
    """Why a file could not be read, as the one-line message of its failed result."""
    if exc.errno == errno.ELOOP:
        return "is a symlink loop (too many levels of symbolic links); not read"
    return f"cannot read: {exc.strerror or type(exc).__name__}"


def iter_files(paths: Iterable[str | Path], suffixes: frozenset[str]) -> Iterator[Path | FileResult]:
    """Files to ingest under ``paths``; a problem with a path comes back as a failed result.

    Folders are walked recursively (hidden entries skipped). A symlink inside a
    folder that points outside it is skipped, so ingesting a folder never reads
    files the folder does not hold. A path that cannot be resolved (a symlink
    loop) fails alone; the others go on.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            if path.is_dir():
                yield from _walk(path, suffixes)
            elif path.exists() or path.is_symlink():
                yield path  # a broken link fails when it is read, with the reason
            else:
                yield FileResult(str(path), "failed", message="no such file or folder")
        except OSError as exc:
            yield FileResult(str(path), "failed", message=unreadable(exc))


def _walk(folder: Path, suffixes: frozenset[str]) -> Iterator[Path | FileResult]:
    root = resolve(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if name.startswith(".") or file.suffix.lower() not in suffixes:
                continue
            try:
                target = resolve(file)
            except OSError as exc:
                yield FileResult(str(file), "failed", message=unreadable(exc))
                continue
            if not target.is_relative_to(root):
                yield FileResult(
                    str(file), "failed",
                    message=f"skipped: symlink to {printable_path(target)}, "
                            f"outside {printable_path(root)}",
                )
                continue
            yield file


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
        return embedding_text(embedding_header(self.doc.title, chunk.section), chunk.text)


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
        replaces = [d.id for d in self.store.registry.by_source(self.info.name, doc.source)]
        self.store.registry.begin_document(
            self.info.name, doc_id, doc.source, doc.title, size, mtime
        )
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

    Files are parsed in a worker process (see :mod:`qa.parsing`) one or two
    files ahead of the embedder, each within a time and memory limit.
    """
    from qa.loaders import SUPPORTED_SUFFIXES

    items = list(iter_files(paths, SUPPORTED_SUFFIXES))
    limits = Limits(
        max_bytes=settings.max_file_mb * 2**20, seconds=float(settings.parse_timeout),
        memory_bytes=settings.parse_memory_mb * 2**20,
        ocr=settings.ocr, ocr_lang=settings.ocr_lang,
    )
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


def reindex_store(
    settings: Settings, embedder: Embedder, store: Store,
    progress: ProgressCallback | None = None,
) -> int:
    """Re-chunk and re-embed every document of ``store`` with ``embedder`` and the
    chunking of ``settings``.

    Builds a new generation beside the current one and switches atomically, so
    an interrupted reindex leaves the collection as it was. Returns the number
    of chunks embedded.
    """
    registry = store.registry
    info = registry.collection(store.name)
    if info is None:
        return 0
    # Bypass the model check: reindexing is how a mismatch is resolved.
    store.model, store.dim = info.model, info.dim
    with store.writing() as current:
        new_generation = current.generation + 1
        registry.create_generation(store.name, new_generation)
        new = type(current)(current.name, new_generation, embedder.name, embedder.dim)
        store.model, store.dim = embedder.name, embedder.dim
        counts: dict[str, int] = {}
        for row in registry.documents(store.name):
            stored = registry.doc_text(store.name, row.id)
            if stored is None:
                continue
            text, blocks = stored
            doc = LoadedDocument(row.source, row.title, text, blocks, content_hash=row.id)
            chunks = chunk_document(
                doc, row.id, embedder.count_tokens, chunk_tokens=settings.chunk_tokens,
                overlap=settings.chunk_overlap, max_tokens=embedder.max_tokens,
            )
            bodies = [embedding_text(embedding_header(row.title, c.section), c.text)
                      for c in chunks]
            store.add_chunks(new, chunks, bodies, embedder.embed_documents(bodies))
            registry.add_chunks(new, chunks)
            counts[row.id] = len(chunks)
        store.keyword(new).commit()
        registry.replace_generation(current, new_generation, embedder.name, embedder.dim, counts)
        store._drop_generation(current.generation)
    return sum(counts.values())
