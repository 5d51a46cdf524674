# Over 400 lines: one class, the index's only door; its methods are short and belong together.
"""The index of one collection: Chroma vectors, a tantivy keyword index and the
SQLite registry, kept consistent behind one :class:`Store`.

Write protocol for one document (each step survives a kill -9):

1. the registry records the document as ``pending`` (:meth:`Store.begin`);
2. its vectors go into Chroma and its chunks into the keyword index (committed
   in batches, before step 3; :meth:`Store.add_chunks`);
3. one registry transaction writes its chunks, marks it ``ready`` and retires
   the version it replaces (``deleting``; :meth:`Store.commit`);
4. the retired version's vectors and keyword entries are deleted, then its row.

Searches only return chunks the registry holds, which exist only for ``ready``
documents, so a document is either fully searchable or absent. Before each write
the store finishes what a crash left (:mod:`qa.index.generations`): ``pending``
documents are rolled back, ``deleting`` ones deleted, and a keyword index that
disagrees with the registry is rebuilt from it. Writers take a file lock, so two
processes never write one data directory at the same time.

Several processes may use one embedded store (the web app and ``qa ingest``,
say); see :mod:`qa.index.shared` for how a reader catches up with another
process's writes.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.config import Settings
from qa.errors import ModelMismatchError, StoreError
from qa.index import generations
from qa.index.chroma import chroma_client
from qa.index.keyword import KeywordIndex
from qa.index.locks import file_lock, thread_lock
from qa.index.records import CollectionInfo, DocRow
from qa.index.registry import Registry
from qa.index.shared import Shared
from qa.types import Block, Chunk

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection

log = logging.getLogger(__name__)

READ_PAGE = 10_000  # vector ids read from Chroma per call


#: How often a vector query that overlapped a delete is run (see dense_search).
_QUERY_ATTEMPTS = 3


class Store:
    """Vectors, keyword index and registry of one collection.

    Cheap to build; :meth:`load` opens the registry and the Chroma client (every
    other method loads them on first use too).

    Args:
        settings: where the data lives and which collection.
        model: name of the embedding model the caller embeds with.
        dim: its vector dimension.

    Example::

        store = Store(settings, embedder.name, embedder.dim).load()
        with store.reading() as info:
            hits = store.keyword_search(info, "Moscow conference", 10) if info else []
    """

    def __init__(self, settings: Settings, model: str, dim: int) -> None:
        self.settings = settings
        self.name = settings.collection
        self.model = model
        self.dim = dim
        self._lock_path = settings.data_dir / "write.lock"
        self._shared_parts: Shared | None = None
        self._vectors: dict[int, Collection] = {}
        self._keyword: dict[int, KeywordIndex] = {}
        self._epoch = 0
        self._batch: int | None = None

    def load(self) -> Store:
        """Open the registry and the Chroma client; fails early when they cannot be opened.

        Raises:
            StoreError: the data directory or the Chroma server cannot be used.
        """
        self._shared  # noqa: B018 - opens the registry
        chroma_client(self.settings)
        return self

    @property
    def _shared(self) -> Shared:
        if self._shared_parts is None:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            self._shared_parts = Shared.of(self.settings)
            self._epoch = self._shared_parts.epoch
        return self._shared_parts

    @property
    def _registry(self) -> Registry:
        return self._shared.registry

    # --- collection state ----------------------------------------------------

    def info(self, create: bool = False, check_model: bool = True) -> CollectionInfo | None:
        """The collection's record; checks that it was built with this model.

        Raises:
            ModelMismatchError: it was built with another model (unless ``check_model``
                is False, as for a reindex, which is how a mismatch is resolved).
        """
        info = self._registry.collection(self.name)
        if info is None:
            if not create:
                return None
            self._registry.create_generation(self.name, 1)
            self._registry.set_collection(self.name, 1, self.model, self.dim)
            info = self._registry.collection(self.name)
            if info is None:
                raise StoreError(f"collection '{self.name}' could not be created in the "
                                 f"registry of {self.settings.data_dir}; run `qa doctor`")
        if check_model and (info.model != self.model or info.dim != self.dim):
            raise ModelMismatchError(
                f"collection '{self.name}' was indexed with {info.model} ({info.dim} dims) but "
                f"the configured model is {self.model} ({self.dim} dims); run "
                f"`qa reindex --collection {self.name}` to re-embed it with {self.model}, or set "
                f"QA_EMBED_MODEL={info.model}"
            )
        return info

    def collections(self) -> list[CollectionInfo]:
        """Every collection of the data directory."""
        return self._registry.collections()

    def _catch_up(self) -> None:
        if self._epoch != self._shared.epoch:
            self._vectors.clear()
            for index in self._keyword.values():
                index.reload()
            self._epoch = self._shared.epoch

    def _collection(self, info: CollectionInfo) -> Collection:
        """The Chroma collection of ``info``'s generation."""
        self._catch_up()
        if info.generation not in self._vectors:
            self._vectors[info.generation] = chroma_client(self.settings).get_or_create_collection(
                name=info.key,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"qa_collection": self.name, "embedding_model": info.model,
                          "dim": info.dim},
                embedding_function=None,
            )
        return self._vectors[info.generation]

    def _keyword_index(self, info: CollectionInfo) -> KeywordIndex:
        """The keyword index of ``info``'s generation."""
        self._catch_up()
        if info.generation not in self._keyword:
            folder = self.settings.data_dir / "keyword" / info.key
            self._keyword[info.generation] = KeywordIndex(folder)
        return self._keyword[info.generation]

    @contextmanager
    def reading(self) -> Iterator[CollectionInfo | None]:
        """The collection's record, with the indexes caught up with other processes.

        Searches run inside this block, so a reload never closes an index under them.
        """
        self._shared.sync()
        with self._shared.rw.read():
            yield self.info()

    # --- documents and chunks (what the registry holds) -------------------------

    def documents(self, status: str | None = "ready") -> list[DocRow]:
        """The collection's documents in ``status`` (every state with None), by source."""
        return self._registry.documents(self.name, status=status)

    def document(self, doc_id: str) -> DocRow | None:
        """One document, in whatever state it is."""
        return self._registry.document(self.name, doc_id)

    def documents_by_ids(self, ids: Iterable[str]) -> dict[str, DocRow]:
        """The ``ready`` documents among ``ids``, by id."""
        return self._registry.documents_by_ids(self.name, ids)

    def documents_at(self, source: str) -> list[DocRow]:
        """The ``ready`` documents read from the file ``source``."""
        return self._registry.by_source(self.name, source)

    def document_text(self, doc_id: str) -> tuple[str, list[Block]] | None:
        """A ready document's whole text and blocks, as loaded."""
        return self._registry.doc_text(self.name, doc_id)

    def chunks(self, info: CollectionInfo, ids: list[tuple[str, int]]) -> list[Chunk]:
        """The searchable chunks among ``(doc_id, idx)`` pairs, in the order asked."""
        return self._registry.chunks_by_ids(info, ids)

    def chunks_of(self, info: CollectionInfo, doc_id: str) -> list[Chunk]:
        """A document's chunks, in order."""
        return self._registry.chunks_of(info, doc_id)

    def chunk_count(self, info: CollectionInfo) -> int:
        """Chunks of the generation that the registry holds (the searchable ones)."""
        return self._registry.chunk_count(info)

    def vector_count(self, info: CollectionInfo) -> int:
        """Vectors in the generation's Chroma collection."""
        return int(self._collection(info).count())

    def keyword_count(self, info: CollectionInfo, doc_id: str | None = None) -> int:
        """Entries in the generation's keyword index, of one document or of all."""
        return self._keyword_index(info).count(doc_id)

    def vector_ids(self, info: CollectionInfo) -> dict[str, set[str]]:
        """Every vector id of the generation's Chroma collection, by document id."""
        collection = self._collection(info)
        by_doc: dict[str, set[str]] = {}
        offset = 0
        while True:
            got = collection.get(include=["metadatas"], limit=READ_PAGE, offset=offset)
            ids = got["ids"]
            metas: Sequence[Mapping[str, Any] | None] = got["metadatas"] or [None] * len(ids)
            for vector_id, meta in zip(ids, metas, strict=True):
                doc_id = str(meta["doc_id"]) if meta else vector_id.rpartition(":")[0]
                by_doc.setdefault(doc_id, set()).add(vector_id)
            if len(ids) < READ_PAGE:
                return by_doc
            offset += len(ids)

    def stale_generations(self, info: CollectionInfo) -> list[int]:
        """Generations other than ``info``'s that an interrupted reindex left."""
        return self._registry.stale_generations(self.name, info.generation)

    # --- writing ---------------------------------------------------------------

    @contextmanager
    def writing(self, check_model: bool = True) -> Iterator[CollectionInfo]:
        """Hold the data directory's write lock, after finishing what a crash left.

        ``check_model=False`` skips the model check (see :meth:`info`).
        """
        shared = self._shared  # opened first: it makes the data directory the lock is in
        with thread_lock(self._lock_path), file_lock(self._lock_path, fcntl.LOCK_EX):
            shared.sync()
            info = self.info(create=True, check_model=check_model)
            if info is None:  # info(create=True) returns a record or raises
                raise StoreError(f"collection '{self.name}' has no record in the registry")
            try:
                generations.recover(self, info)
                yield info
            except BaseException:
                for index in self._keyword.values():
                    index.rollback()  # pending documents are rolled back next time
                raise
            finally:
                for index in self._keyword.values():
                    index.close_writer()

    def begin(self, info: CollectionInfo, doc_id: str, source: str, title: str, size: int,
              mtime: float) -> None:
        """Record a document as ``pending`` before any of it is written elsewhere."""
        self._registry.begin_document(info.name, doc_id, source, title, size, mtime)

    def set_source(self, doc_id: str, source: str, mtime: float) -> None:
        """Follow a ready document to the path its file moved to."""
        self._registry.set_source(self.name, doc_id, source, mtime)

    def add_chunks(
        self, info: CollectionInfo, chunks: list[Chunk], bodies: list[str], vectors: np.ndarray
    ) -> None:
        """Write vectors and keyword entries of registered ``pending`` documents.

        Nothing becomes searchable before :meth:`commit`; ``bodies`` are the texts
        that were embedded (:func:`qa.ingestion.chunking.chunk_body`), which the keyword
        index indexes too. Chroma gets vectors and ids only: the registry holds the
        text, and a copy in Chroma would cost a second full-text index on every write.
        """
        self.write_vectors(info, chunks, vectors)
        self._keyword_index(info).add(chunks, bodies)

    def write_vectors(self, info: CollectionInfo, chunks: list[Chunk],
                      vectors: np.ndarray) -> None:
        """Write (or overwrite) the vectors of ``chunks``, in batches Chroma accepts."""
        collection = self._collection(info)
        step = self._max_batch()
        for i in range(0, len(chunks), step):
            part = chunks[i : i + step]
            with self._shared.vector_writes():
                collection.upsert(
                    ids=[c.chunk_id for c in part],
                    embeddings=vectors[i : i + step],
                    metadatas=[{"doc_id": c.doc_id, "idx": c.index} for c in part],
                )

    def delete_vectors(self, info: CollectionInfo, ids: list[str]) -> None:
        """Delete vectors by id."""
        collection = self._collection(info)
        for start in range(0, len(ids), 1000):
            with self._shared.vector_writes():
                collection.delete(ids=ids[start : start + 1000])

    def _max_batch(self) -> int:
        if self._batch is None:
            self._batch = max(1, min(5000, chroma_client(self.settings).get_max_batch_size()))
        return self._batch

    def commit(
        self,
        info: CollectionInfo,
        doc_id: str,
        chunks: list[Chunk],
        text: str,
        blocks: list[Block],
        replaces: list[str],
    ) -> None:
        """Make a document whose chunks are written searchable; retire what it replaces."""
        self._keyword_index(info).commit()  # first: the registry never names an entry it lacks
        self._registry.commit_document(info, doc_id, chunks, text, blocks, replaces)
        for old in replaces:
            if old != doc_id:
                self._delete_indexed(info, old)
                self._registry.forget(self.name, old)

    def remove(self, info: CollectionInfo, doc_id: str) -> None:
        """Delete a document from every index."""
        self._registry.retire(info, doc_id)
        self._delete_indexed(info, doc_id)
        self._registry.forget(self.name, doc_id)

    def _delete_indexed(self, info: CollectionInfo, doc_id: str) -> None:
        """Delete a retired document's vectors and keyword entries (durably)."""
        with self._shared.vector_writes():
            self._collection(info).delete(where={"doc_id": doc_id})
        keyword = self._keyword_index(info)
        keyword.delete(doc_id)
        keyword.commit()

    def rebuild_keyword_index(self, info: CollectionInfo) -> None:
        """Build the keyword index again from the registry, the source of truth."""
        generations.rebuild_keyword(self, info)

    def discard_unreadable_keyword_index(self, info: CollectionInfo) -> bool:
        """Delete the keyword index when it cannot be opened (the next write rebuilds it)."""
        return generations.discard_unreadable_keyword(self, info)

    def new_generation(self, current: CollectionInfo, model: str, dim: int) -> CollectionInfo:
        """An empty generation beside ``current``, for a rebuild with ``model``."""
        return generations.new_generation(self, current, model, dim)

    def fill_generation(self, new: CollectionInfo, chunks: list[Chunk], bodies: list[str],
                        vectors: np.ndarray) -> None:
        """Write chunks into a generation that is not searchable yet (every index at once)."""
        self.add_chunks(new, chunks, bodies, vectors)
        self._registry.add_chunks(new, chunks)

    def swap_generation(self, current: CollectionInfo, new: CollectionInfo,
                        counts: dict[str, int]) -> None:
        """Make ``new`` the searchable generation in one transaction; drop ``current``."""
        generations.swap_generation(self, current, new, counts)

    def mark_changed(self) -> None:
        """Tell other processes to reload their indexes (after a repair outside the protocol)."""
        self._registry.mark_changed()

    def drop(self) -> None:
        """Delete the whole collection."""
        with self.writing() as info:
            generations.drop_generation(self, info.generation)
            self._registry.drop_collection(self.name)

    # --- searching -------------------------------------------------------------

    def dense_search(
        self, info: CollectionInfo, vector: np.ndarray, limit: int,
        doc_ids: list[str] | None = None,
    ) -> list[tuple[Chunk, float]]:
        """Nearest chunks by cosine similarity (higher is better)."""
        collection = self._collection(info)
        where: dict[str, Any] | None = None
        if doc_ids is not None:
            if not doc_ids:
                return []
            where = {"doc_id": {"$in": doc_ids}} if len(doc_ids) > 1 else {"doc_id": doc_ids[0]}
        for attempt in range(_QUERY_ATTEMPTS):
            try:
                result = collection.query(
                    query_embeddings=[vector.tolist()], n_results=limit, where=where,
                    include=["distances", "metadatas"],
                )
                break
            except Exception as exc:
                # A Chroma server answers a query that overlaps a delete with "Error
                # finding id" (a record it had found is gone); the next query is clean.
                if "Error finding id" not in str(exc) or attempt == _QUERY_ATTEMPTS - 1:
                    raise
                log.info("a vector query overlapped a delete; querying again")
        metas = result["metadatas"][0] if result["metadatas"] else []
        dists = result["distances"][0] if result["distances"] else []
        similarity: dict[tuple[str, int], float] = {}
        for meta, dist in zip(metas, dists, strict=True):
            if meta is None:  # deleted while this query ran
                continue
            similarity[(str(meta["doc_id"]), int(str(meta["idx"])))] = 1.0 - float(dist)
        rows = self._registry.chunks_by_ids(info, list(similarity))
        return [(row, similarity[(row.doc_id, row.index)]) for row in rows]

    def keyword_search(
        self, info: CollectionInfo, query: str, limit: int, doc_ids: list[str] | None = None,
    ) -> list[tuple[Chunk, float]]:
        """Best chunks by BM25 (higher is better).

        Raises:
            StoreError: the keyword index is empty while the registry holds chunks
                (its folder was deleted); ``qa doctor --repair`` rebuilds it.
        """
        index = self._keyword_index(info)
        hits = index.search(query, limit, doc_ids)
        if not hits and index.count() == 0 and self._registry.chunk_count(info):
            index.reload()  # a commit of another process may not be visible yet
            if index.count() == 0:
                raise StoreError(
                    f"the keyword index of collection '{self.name}' is empty but the registry "
                    f"holds {self._registry.chunk_count(info)} chunks (was "
                    f"{self.settings.data_dir / 'keyword'} deleted?); run `qa doctor --repair` "
                    "to rebuild it"
                )
        scores: dict[tuple[str, int], float] = {}
        for chunk_id, score in hits:
            doc_id, _, idx = chunk_id.rpartition(":")
            scores[(doc_id, int(idx))] = score
        rows = self._registry.chunks_by_ids(info, list(scores))
        return [(row, scores[(row.doc_id, row.index)]) for row in rows]

    def close(self) -> None:
        """Release this process's hold on the data directory: its registry connection,
        indexes and embedded Chroma client (for every store of that directory)."""
        for index in self._keyword.values():
            index.rollback()
        self._keyword.clear()
        self._vectors.clear()
        if self._shared_parts is not None:
            self._shared_parts.close()  # the store is done: using it again raises
