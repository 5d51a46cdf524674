"""Reindex: chunk and embed every document of a collection again, from the text
the registry keeps, into a new generation that replaces the old one at once."""

from __future__ import annotations

from qa.config import Settings
from qa.embedding import Embedder
from qa.index import Store
from qa.ingestion.chunking import chunk_body, chunk_document
from qa.types import LoadedDocument


def reindex_collection(settings: Settings, embedder: Embedder, store: Store) -> int:
    """Re-chunk and re-embed every document with ``embedder`` and ``settings``' chunking.

    Builds a new generation beside the current one and switches atomically, so
    an interrupted reindex leaves the collection as it was (the next writer drops
    the half-built generation). Returns the number of chunks embedded.
    """
    if store.info(check_model=False) is None:
        return 0
    # No model check: reindexing is how a mismatch is resolved.
    with store.writing(check_model=False) as current:
        new = store.new_generation(current, embedder.name, embedder.dim)
        counts: dict[str, int] = {}
        for row in store.documents():
            stored = store.document_text(row.id)
            if stored is None:
                continue
            text, blocks = stored
            doc = LoadedDocument(row.source, row.title, text, blocks, content_hash=row.id)
            chunks = chunk_document(
                doc, row.id, embedder.count_tokens, chunk_tokens=settings.chunk_tokens,
                overlap=settings.chunk_overlap, max_tokens=embedder.max_tokens,
            )
            bodies = [chunk_body(row.title, c.section, c.text) for c in chunks]
            store.fill_generation(new, chunks, bodies, embedder.embed_documents(bodies))
            counts[row.id] = len(chunks)
        store.swap_generation(current, new, counts)
    return sum(counts.values())
