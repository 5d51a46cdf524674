"""The index of one collection: Chroma vectors plus the SQLite registry, kept consistent.

Write protocol for one document (each step survives a kill -9):

1. the registry records the document as ``pending``;
2. its vectors go into Chroma;
3. one registry transaction writes its chunks and keyword entries, marks it
   ``ready`` and retires the version it replaces (``deleting``);
4. the retired version's vectors are deleted from Chroma, then its row.

Searches only return chunks the registry holds, which exist only for ``ready``
documents, so a document is either fully searchable or absent. Before each write
the store finishes what a crash left: ``pending`` documents are rolled back,
``deleting`` ones deleted. Writers take a file lock, so two processes never
write one data directory at the same time.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from qa.config import Settings
from qa.errors import ModelMismatchError, StoreError
from qa.registry import ChunkRow, CollectionInfo, Registry, generation_key
from qa.types import Block, Chunk

log = logging.getLogger(__name__)

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
_thread_locks: dict[str, threading.RLock] = {}


def chroma_client(settings: Settings) -> Any:
    """One Chroma client per process and location (Chroma wants no more)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    if settings.server_mode:
        key = f"http://{settings.chroma_host}:{settings.chroma_port}"
    else:
        key = str((settings.data_dir / "chroma").resolve())
    with _clients_lock:
        if key not in _clients:
            try:
                if settings.server_mode:
                    _clients[key] = chromadb.HttpClient(
                        host=settings.chroma_host, port=settings.chroma_port,
                        settings=chroma_settings,
                    )
                else:
                    Path(key).mkdir(parents=True, exist_ok=True)
                    _clients[key] = chromadb.PersistentClient(path=key, settings=chroma_settings)
            except Exception as exc:
                raise StoreError(
                    f"cannot open the Chroma store at {key} ({exc}); check that "
                    + ("the server is running" if settings.server_mode else "the folder is writable")
                ) from exc
        return _clients[key]


class Store:
    """Vectors and registry of one collection.

    Args:
        settings: where the data lives and which collection.
        model: name of the embedding model the caller embeds with.
        dim: its vector dimension.
    """

    def __init__(self, settings: Settings, model: str, dim: int) -> None:
        self.settings = settings
        self.name = settings.collection
        self.model = model
        self.dim = dim
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.registry = Registry(settings.data_dir / "registry.sqlite3")
        self._client = chroma_client(settings)
        self._lock_path = settings.data_dir / "write.lock"
        self._vectors: dict[int, Any] = {}

    # --- collection state ----------------------------------------------------

    def info(self, create: bool = False) -> CollectionInfo | None:
        """The collection's record; checks that it was built with this model."""
        info = self.registry.collection(self.name)
        if info is None:
            if not create:
                return None
            self.registry.create_generation(self.name, 1)
            self.registry.set_collection(self.name, 1, self.model, self.dim)
            info = self.registry.collection(self.name)
            assert info is not None
        if info.model != self.model or info.dim != self.dim:
            raise ModelMismatchError(
                f"collection '{self.name}' was indexed with {info.model} ({info.dim} dims) but "
                f"the configured model is {self.model} ({self.dim} dims); run "
                f"`qa reindex --collection {self.name}` to re-embed it with {self.model}, or set "
                f"QA_EMBED_MODEL={info.model}"
            )
        return info

    def vectors(self, info: CollectionInfo) -> Any:
        """The Chroma collection of the current generation."""
        if info.generation not in self._vectors:
            self._vectors[info.generation] = self._client.get_or_create_collection(
                name=info.key,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"qa_collection": self.name, "embedding_model": self.model,
                          "dim": self.dim},
                embedding_function=None,
            )
        return self._vectors[info.generation]

    # --- writing ---------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[CollectionInfo]:
        """Hold the data directory's write lock, after finishing what a crash left."""
        key = str(self._lock_path.resolve())
        thread_lock = _thread_locks.setdefault(key, threading.RLock())
        with thread_lock, open(self._lock_path, "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                info = self.info(create=True)
                assert info is not None
                self._recover(info)
                yield info
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _recover(self, info: CollectionInfo) -> None:
        for row in self.registry.documents(self.name, status=None):
            if row.status == "ready":
                continue
            log.info("finishing interrupted %s of %s", row.status, row.source)
            if row.status == "pending":
                self.registry.retire(info, row.id)
            self._delete_vectors(info, row.id)
            self.registry.forget(self.name, row.id)
        for generation in self.registry.stale_generations(self.name, info.generation):
            self._drop_generation(generation)

    def add_vectors(self, info: CollectionInfo, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Write vectors of a registered ``pending`` document (not searchable yet)."""
        collection = self.vectors(info)
        step = max(1, min(5000, self._client.get_max_batch_size()))
        for i in range(0, len(chunks), step):
            part = chunks[i : i + step]
            collection.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[i : i + step],
                metadatas=[{"doc_id": c.doc_id, "idx": c.index} for c in part],
                documents=[c.text for c in part],
            )

    def commit(
        self,
        info: CollectionInfo,
        doc_id: str,
        chunks: list[Chunk],
        bodies: list[str],
        text: str,
        blocks: list[Block],
        replaces: list[str],
    ) -> None:
        """Make a document whose vectors are written searchable; retire what it replaces."""
        self.registry.commit_document(info, doc_id, chunks, bodies, text, blocks, replaces)
        for old in replaces:
            if old != doc_id:
                self._delete_vectors(info, old)
                self.registry.forget(self.name, old)

    def remove(self, info: CollectionInfo, doc_id: str) -> None:
        """Delete a document from both indexes."""
        self.registry.retire(info, doc_id)
        self._delete_vectors(info, doc_id)
        self.registry.forget(self.name, doc_id)

    def _delete_vectors(self, info: CollectionInfo, doc_id: str) -> None:
        self.vectors(info).delete(where={"doc_id": doc_id})

    def _drop_generation(self, generation: int) -> None:
        try:
            self._client.delete_collection(generation_key(self.name, generation))
        except Exception:  # noqa: BLE001 - it may never have been created
            log.debug("no Chroma collection for generation %d", generation)
        self._vectors.pop(generation, None)
        self.registry.drop_generation(self.name, generation)

    def drop(self) -> None:
        """Delete the whole collection."""
        with self.writing() as info:
            self._drop_generation(info.generation)
            self.registry.drop_collection(self.name)

    # --- reading ---------------------------------------------------------------

    def dense_search(
        self, info: CollectionInfo, vector: np.ndarray, limit: int,
        doc_ids: list[str] | None = None,
    ) -> list[tuple[ChunkRow, float]]:
        """Nearest chunks by cosine similarity (higher is better)."""
        collection = self.vectors(info)
        where: dict[str, Any] | None = None
        if doc_ids is not None:
            if not doc_ids:
                return []
            where = {"doc_id": {"$in": doc_ids}} if len(doc_ids) > 1 else {"doc_id": doc_ids[0]}
        result = collection.query(
            query_embeddings=[vector.tolist()], n_results=limit, where=where,
            include=["distances", "metadatas"],
        )
        metas = result["metadatas"][0] if result["metadatas"] else []
        dists = result["distances"][0] if result["distances"] else []
        keys = [(m["doc_id"], int(m["idx"])) for m in metas]
        similarity = {k: 1.0 - float(d) for k, d in zip(keys, dists, strict=True)}
        rows = self.registry.chunks_by_ids(info, keys)
        return [(row, similarity[(row.doc_id, row.idx)]) for row in rows]

    def vector_count(self, info: CollectionInfo) -> int:
        return int(self.vectors(info).count())
