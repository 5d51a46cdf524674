"""The Python face of qa: ingest, retrieve, list, remove, reindex.

Each function takes optional ``settings`` (default: :meth:`Settings.from_env`)
and ``collection``. Models and stores are loaded once per process and reused.

Example::

    from qa import ingest, retrieve

    ingest(["seeds/"])
    for p in retrieve("Which countries attended the Moscow conference?", k=3):
        print(p.score, p.title, p.page, p.text[:80])
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path

from qa.chunking import chunk_document, embedding_header, embedding_text
from qa.config import SearchMode, Settings
from qa.embedding import Embedder, get_embedder
from qa.errors import DocumentNotFoundError
from qa.pipeline import ProgressCallback, ingest_documents, ingest_files
from qa.retrieval import Retriever
from qa.store import Store
from qa.types import DocumentInfo, IngestReport, LoadedDocument, Passage

_stores: dict[tuple[str, str, str | None, int, str], Store] = {}
_stores_lock = threading.Lock()


def _settings(settings: Settings | None, collection: str | None) -> Settings:
    base = settings or Settings.from_env()
    return base.with_(collection=collection)


def open_store(settings: Settings, embedder: Embedder | None = None) -> Store:
    """The store of ``settings.collection``, opened once per process."""
    embedder = embedder or get_embedder(settings)
    key = (
        str(settings.data_dir.resolve()), settings.collection, settings.chroma_host,
        settings.chroma_port, embedder.name,
    )
    with _stores_lock:
        if key not in _stores:
            _stores[key] = Store(settings, embedder.name, embedder.dim)
        return _stores[key]


def retriever(settings: Settings | None = None, collection: str | None = None) -> Retriever:
    """A :class:`Retriever` over one collection, with the configured model."""
    settings = _settings(settings, collection)
    embedder = get_embedder(settings)
    return Retriever(open_store(settings, embedder), embedder)


def ingest(
    paths: str | Path | Iterable[str | Path],
    *,
    collection: str | None = None,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Index files and folders of every type in ``qa.loaders.SUPPORTED_SUFFIXES``.

    Unchanged files embed nothing; a changed file replaces its old chunks; a
    file that cannot be read is reported in the result and the rest go on.

    Returns:
        An :class:`IngestReport` with one :class:`FileResult` per file.
    """
    settings = _settings(settings, collection)
    if isinstance(paths, (str, Path)):
        paths = [paths]
    embedder = get_embedder(settings)
    return ingest_files(paths, settings, embedder, open_store(settings, embedder), progress)


def ingest_loaded(
    docs: Iterable[LoadedDocument],
    *,
    collection: str | None = None,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Index documents that are already in memory (see :class:`LoadedDocument`)."""
    settings = _settings(settings, collection)
    embedder = get_embedder(settings)
    return ingest_documents(docs, settings, embedder, open_store(settings, embedder), progress)


def retrieve(
    query: str,
    k: int = 5,
    *,
    collection: str | None = None,
    documents: Iterable[str] | None = None,
    mode: SearchMode | None = None,
    settings: Settings | None = None,
) -> list[Passage]:
    """The ``k`` passages that best match ``query``, best first.

    Args:
        query: the question or keywords.
        k: how many passages.
        collection: which collection (default: the configured one).
        documents: only search these documents (ids or source paths).
        mode: "hybrid" (default), "dense" or "keyword".

    Raises:
        StoreError: the collection has never been ingested into.
        ModelMismatchError: the collection was built with another model.
    """
    settings = _settings(settings, collection)
    found = retriever(settings)
    doc_ids = _resolve_documents(found.store, documents) if documents is not None else None
    return found.passages(query, k=k, mode=mode or settings.search_mode, documents=doc_ids)


def documents(
    collection: str | None = None, settings: Settings | None = None
) -> list[DocumentInfo]:
    """The collection's searchable documents with their chunk counts."""
    store = open_store(_settings(settings, collection))
    return [
        DocumentInfo(d.id, d.source, d.title, d.chunks)
        for d in store.registry.documents(store.name)
    ]


def remove(
    doc: str, collection: str | None = None, settings: Settings | None = None
) -> DocumentInfo:
    """Delete a document (by id, unique id prefix, or source path) from every index."""
    store = open_store(_settings(settings, collection))
    with store.writing() as info:
        (doc_id,) = _resolve_documents(store, [doc])
        row = store.registry.document(store.name, doc_id)
        assert row is not None
        store.remove(info, doc_id)
    return DocumentInfo(row.id, row.source, row.title, row.chunks)


def reindex(
    collection: str | None = None,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """Re-chunk and re-embed every document with the configured model and chunking.

    Builds a new generation beside the current one and switches atomically, so
    an interrupted reindex leaves the collection as it was. Returns the number
    of chunks embedded.
    """
    settings = _settings(settings, collection)
    embedder = get_embedder(settings)
    store = open_store(settings, embedder)
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


def _resolve_documents(store: Store, refs: Iterable[str]) -> list[str]:
    docs = store.registry.documents(store.name)
    out: list[str] = []
    for ref in refs:
        path = str(Path(ref).expanduser().resolve()) if ref else ref
        matches = [d.id for d in docs if d.id == ref or d.source in (ref, path)]
        if not matches:
            matches = [d.id for d in docs if d.id.startswith(ref)] if len(ref) >= 6 else []
        if len(matches) != 1:
            what = "matches no document" if not matches else "matches several documents"
            raise DocumentNotFoundError(
                f"'{ref}' {what} in collection '{store.name}'; `qa docs` lists their ids"
            )
        out.append(matches[0])
    return out
