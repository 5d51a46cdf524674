"""The index of one collection: Chroma vectors, a tantivy keyword index and the
SQLite registry, kept consistent.

Write protocol for one document (each step survives a kill -9):

1. the registry records the document as ``pending``;
2. its vectors go into Chroma and its chunks into the keyword index (committed
   in batches, before step 3);
3. one registry transaction writes its chunks, marks it ``ready`` and retires
   the version it replaces (``deleting``);
4. the retired version's vectors and keyword entries are deleted, then its row.

Searches only return chunks the registry holds, which exist only for ``ready``
documents, so a document is either fully searchable or absent. Before each write
the store finishes what a crash left: ``pending`` documents are rolled back,
``deleting`` ones deleted, and a keyword index that disagrees with the registry
is rebuilt from it. Writers take a file lock, so two processes never write one
data directory at the same time.

Several processes may use one embedded store (the web app and ``qa ingest``,
say). Chroma's embedded client keeps its vector index in memory and never sees
another process's writes, so before each search a process checks the
registry's change counter and, when another process wrote, reopens the Chroma
client and reloads the keyword index (see :class:`_Shared`).
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

from qa.chunking import embedding_header, embedding_text
from qa.config import Settings
from qa.errors import ModelMismatchError, StoreError
from qa.keyword import KeywordIndex, remove_index
from qa.registry import ChunkRow, CollectionInfo, Registry, generation_key
from qa.types import Block, Chunk

log = logging.getLogger(__name__)

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()
_shared: dict[str, _Shared] = {}
_shared_lock = threading.Lock()
_thread_locks: dict[str, threading.RLock] = {}


def _client_key(settings: Settings) -> str:
    if settings.server_mode:
        return f"http://{settings.chroma_host}:{settings.chroma_port}"
    return str((settings.data_dir / "chroma").resolve())


def chroma_client(settings: Settings) -> Any:
    """One Chroma client per process and location (Chroma wants no more)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    key = _client_key(settings)
    with _clients_lock:
        if key not in _clients:
            chroma_settings = ChromaSettings(anonymized_telemetry=False)
            try:
                if settings.server_mode:
                    _clients[key] = chromadb.HttpClient(
                        host=str(settings.chroma_host), port=settings.chroma_port,
                        settings=chroma_settings,
                    )
                else:
                    Path(key).mkdir(parents=True, exist_ok=True)
                    _clients[key] = chromadb.PersistentClient(path=key, settings=chroma_settings)
            except Exception as exc:
                if settings.server_mode:
                    raise StoreError(
                        f"cannot reach the Chroma server at {key} "
                        f"(QA_CHROMA_HOST={settings.chroma_host}, "
                        f"QA_CHROMA_PORT={settings.chroma_port}): {_one_line(exc)}; start it "
                        "(`chroma run --path DIR --port PORT`) or fix those variables, or unset "
                        "QA_CHROMA_HOST to use the embedded store"
                    ) from exc
                raise StoreError(
                    f"cannot open the Chroma store at {key} ({_one_line(exc)}); check that "
                    "the folder is writable, or run `qa doctor`"
                ) from exc
        return _clients[key]


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


_DISK_FULL = ("no space left", "disk is full", "database or disk is full", "file too large",
              "quota exceeded")


def storage_error(exc: BaseException, settings: Settings) -> StoreError | None:
    """A clear :class:`StoreError` for a failed write that is not the document's fault:
    the disk is full, or the Chroma server went away. None for anything else.

    What was being written is rolled back by the next writer (see the module
    docstring), so the message can promise that nothing half-written is searchable.
    """
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    import errno

    for item in chain:
        text = str(item).lower()
        if (isinstance(item, OSError) and item.errno in (errno.ENOSPC, errno.EDQUOT,
                                                          errno.EFBIG)) \
                or any(marker in text for marker in _DISK_FULL):
            return StoreError(
                f"the disk holding {settings.data_dir} is full ({_one_line(item)}); free some "
                "space and run the command again: documents already written are kept, the "
                "one being written is rolled back"
            )
    if settings.server_mode:
        for item in chain:
            name = type(item).__name__.lower()
            package = type(item).__module__.split(".")[0]
            text = str(item).lower()
            if isinstance(item, ConnectionError) or package in ("httpx", "httpcore") \
                    or "connect" in name or "connection" in text or "disconnected" in text:
                return StoreError(
                    f"lost the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                    f"(QA_CHROMA_HOST/QA_CHROMA_PORT) while writing: {_one_line(item)}; "
                    "restart it and run the command again: documents already written are "
                    "kept, the one being written is rolled back"
                )
    return None


def _close_client(settings: Settings) -> None:
    """Close this process's embedded client, so the next one reads the store from disk."""
    with _clients_lock:
        client = _clients.pop(_client_key(settings), None)
    if client is not None:
        client.close()


class _ReadWriteLock:
    """Many readers or one writer, within one process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


@contextmanager
def _file_lock(path: Path, mode: int) -> Iterator[None]:
    with open(path, "a+") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class _Shared:
    """What every store of one data directory shares within a process.

    ``epoch`` counts reloads: when another process changed the data directory,
    :meth:`sync` closes the embedded Chroma client (holding the vectors lock
    shared, so no writer is inside a Chroma call) and bumps the epoch; each
    :class:`Store` then drops its collection handles and reloads its keyword
    indexes before its next read.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = Registry.open(settings.data_dir / "registry.sqlite3")
        self.vectors_lock = settings.data_dir / "vectors.lock"
        self.rw = _ReadWriteLock()
        self.epoch = 0

    @classmethod
    def of(cls, settings: Settings) -> _Shared:
        key = f"{settings.data_dir.resolve()}|{_client_key(settings)}"
        with _shared_lock:
            if key not in _shared:
                _shared[key] = cls(settings)
            return _shared[key]

    def sync(self) -> None:
        """Catch up with writes of other processes (a no-op when there were none)."""
        if not self.registry.changed_elsewhere():
            return
        with self.rw.write():
            version = self.registry.version()
            if version == self.registry.seen_version:
                return  # another thread caught up meanwhile
            log.info("the data directory changed in another process; reloading")
            if not self.settings.server_mode:
                with _file_lock(self.vectors_lock, fcntl.LOCK_SH):
                    _close_client(self.settings)
            self.epoch += 1
            self.registry.seen_version = version

    def close(self) -> None:
        self.registry.close()
        with _shared_lock:
            for key, value in list(_shared.items()):
                if value is self:
                    del _shared[key]
        if not self.settings.server_mode:
            _close_client(self.settings)

    @contextmanager
    def vector_writes(self) -> Iterator[None]:
        """Held around each Chroma write, so no process reloads the store in the middle."""
        if self.settings.server_mode:
            yield
            return
        with _file_lock(self.vectors_lock, fcntl.LOCK_EX):
            yield


class Store:
    """Vectors, keyword index and registry of one collection.

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
        self._shared = _Shared.of(settings)
        self.registry = self._shared.registry
        self._lock_path = settings.data_dir / "write.lock"
        self._vectors: dict[int, Any] = {}
        self._keyword: dict[int, KeywordIndex] = {}
        self._epoch = self._shared.epoch
        self._batch: int | None = None
        chroma_client(settings)  # fail early when the store cannot be opened

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

    def _catch_up(self) -> None:
        if self._epoch != self._shared.epoch:
            self._vectors.clear()
            for index in self._keyword.values():
                index.reload()
            self._epoch = self._shared.epoch

    def vectors(self, info: CollectionInfo) -> Any:
        """The Chroma collection of ``info``'s generation."""
        self._catch_up()
        if info.generation not in self._vectors:
            self._vectors[info.generation] = chroma_client(self.settings).get_or_create_collection(
                name=info.key,
                configuration={"hnsw": {"space": "cosine"}},
                metadata={"qa_collection": self.name, "embedding_model": self.model,
                          "dim": self.dim},
                embedding_function=None,
            )
        return self._vectors[info.generation]

    def keyword(self, info: CollectionInfo) -> KeywordIndex:
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

    # --- writing ---------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[CollectionInfo]:
        """Hold the data directory's write lock, after finishing what a crash left."""
        key = str(self._lock_path.resolve())
        thread_lock = _thread_locks.setdefault(key, threading.RLock())
        with thread_lock, _file_lock(self._lock_path, fcntl.LOCK_EX):
            self._shared.sync()
            info = self.info(create=True)
            assert info is not None
            try:
                self._recover(info)
                yield info
            except BaseException:
                for index in self._keyword.values():
                    index.rollback()  # pending documents are rolled back next time
                raise
            finally:
                for index in self._keyword.values():
                    index.close_writer()

    def _recover(self, info: CollectionInfo) -> None:
        keyword = self.keyword(info)
        for row in self.registry.documents(self.name, status=None):
            if row.status == "ready":
                continue
            log.info("finishing interrupted %s of %s", row.status, row.source)
            if row.status == "pending":
                self.registry.retire(info, row.id)
            self._delete_indexed(info, row.id)
            self.registry.forget(self.name, row.id)
        for generation in self.registry.stale_generations(self.name, info.generation):
            self._drop_generation(generation)
        if keyword.count() != self.registry.chunk_count(info):
            self._rebuild_keyword(info)

    def _rebuild_keyword(self, info: CollectionInfo) -> None:
        """Build the keyword index again from the registry, the source of truth."""
        log.info("rebuilding the keyword index of '%s' from the registry", self.name)
        self._keyword.pop(info.generation, None)
        remove_index(self.settings.data_dir / "keyword" / info.key)
        keyword = self.keyword(info)
        for rows in self.registry.iter_chunks(info):
            chunks = [Chunk(r.doc_id, r.idx, r.text, r.start, r.end, r.page, r.section)
                      for r, _ in rows]
            keyword.add(chunks, [embedding_text(embedding_header(title, r.section), r.text)
                                 for r, title in rows])
        keyword.commit()

    def add_chunks(
        self, info: CollectionInfo, chunks: list[Chunk], bodies: list[str], vectors: np.ndarray
    ) -> None:
        """Write vectors and keyword entries of registered ``pending`` documents.

        Nothing becomes searchable before :meth:`commit`; ``bodies`` are the texts
        that were embedded (title line and chunk text), which the keyword index
        indexes too. Chroma gets vectors and ids only: the registry holds the text,
        and a copy in Chroma would cost a second full-text index on every write.
        """
        collection = self.vectors(info)
        step = self._max_batch()
        for i in range(0, len(chunks), step):
            part = chunks[i : i + step]
            with self._shared.vector_writes():
                collection.upsert(
                    ids=[c.chunk_id for c in part],
                    embeddings=vectors[i : i + step],
                    metadatas=[{"doc_id": c.doc_id, "idx": c.index} for c in part],
                )
        self.keyword(info).add(chunks, bodies)

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
        self.keyword(info).commit()  # first: the registry never names an entry it lacks
        self.registry.commit_document(info, doc_id, chunks, text, blocks, replaces)
        for old in replaces:
            if old != doc_id:
                self._delete_indexed(info, old)
                self.registry.forget(self.name, old)

    def remove(self, info: CollectionInfo, doc_id: str) -> None:
        """Delete a document from every index."""
        self.registry.retire(info, doc_id)
        self._delete_indexed(info, doc_id)
        self.registry.forget(self.name, doc_id)

    def _delete_indexed(self, info: CollectionInfo, doc_id: str) -> None:
        """Delete a retired document's vectors and keyword entries (durably)."""
        with self._shared.vector_writes():
            self.vectors(info).delete(where={"doc_id": doc_id})
        keyword = self.keyword(info)
        keyword.delete(doc_id)
        keyword.commit()

    def _drop_generation(self, generation: int) -> None:
        try:
            with self._shared.vector_writes():
                chroma_client(self.settings).delete_collection(
                    generation_key(self.name, generation))
        except Exception:  # noqa: BLE001 - it may never have been created
            log.debug("no Chroma collection for generation %d", generation)
        self._vectors.pop(generation, None)
        index = self._keyword.pop(generation, None)
        if index is not None:
            index.rollback()
        remove_index(self.settings.data_dir / "keyword" / generation_key(self.name, generation))
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
        similarity: dict[tuple[str, int], float] = {}
        for meta, dist in zip(metas, dists, strict=True):
            if meta is None:  # deleted while this query ran
                continue
            similarity[(str(meta["doc_id"]), int(meta["idx"]))] = 1.0 - float(dist)
        rows = self.registry.chunks_by_ids(info, list(similarity))
        return [(row, similarity[(row.doc_id, row.idx)]) for row in rows]

    def keyword_search(
        self, info: CollectionInfo, query: str, limit: int, doc_ids: list[str] | None = None,
    ) -> list[tuple[ChunkRow, float]]:
        """Best chunks by BM25 (higher is better).

        Raises:
            StoreError: the keyword index is empty while the registry holds chunks
                (its folder was deleted); ``qa doctor --repair`` rebuilds it.
        """
        index = self.keyword(info)
        hits = index.search(query, limit, doc_ids)
        if not hits and index.count() == 0 and self.registry.chunk_count(info):
            index.reload()  # a commit of another process may not be visible yet
            if index.count() == 0:
                raise StoreError(
                    f"the keyword index of collection '{self.name}' is empty but the registry "
                    f"holds {self.registry.chunk_count(info)} chunks (was "
                    f"{self.settings.data_dir / 'keyword'} deleted?); run `qa doctor --repair` "
                    "to rebuild it"
                )
        scores: dict[tuple[str, int], float] = {}
        for chunk_id, score in hits:
            doc_id, _, idx = chunk_id.rpartition(":")
            scores[(doc_id, int(idx))] = score
        rows = self.registry.chunks_by_ids(info, list(scores))
        return [(row, scores[(row.doc_id, row.idx)]) for row in rows]

    def close(self) -> None:
        """Release this process's hold on the data directory: its registry connection,
        indexes and embedded Chroma client (for every store of that directory)."""
        for index in self._keyword.values():
            index.rollback()
        self._keyword.clear()
        self._vectors.clear()
        self._shared.close()

    def vector_count(self, info: CollectionInfo) -> int:
        return int(self.vectors(info).count())
