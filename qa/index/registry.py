# Over 400 lines: every SQL statement of the registry lives here, beside its schema.
"""The document registry, in one SQLite database.

SQLite holds what must change atomically: which documents a collection has and
in what state, and each chunk's text and span. A document's chunks are written
in the same transaction that marks it ``ready``; a dense or keyword hit whose
chunk is not in the registry is dropped, so no search ever sees half a document.

Each collection has a *generation*: its chunk table, its keyword index and its
Chroma collection. ``reindex`` builds a new generation beside the old one and
switches in one transaction.

A ``version`` counter goes up in every transaction that changes what is
searchable, so a process can tell that another one wrote (see
:meth:`Registry.changed_elsewhere`). One :class:`Registry` serves each database
file per process (:meth:`Registry.open`).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.errors import StoreError, printable_path
from qa.index.records import CollectionInfo, DocRow, generation_key
from qa.types import Block, Chunk

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    name TEXT PRIMARY KEY, generation INTEGER NOT NULL, model TEXT NOT NULL,
    dim INTEGER NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    collection TEXT NOT NULL, id TEXT NOT NULL, source TEXT NOT NULL, title TEXT NOT NULL,
    status TEXT NOT NULL, chunks INTEGER NOT NULL DEFAULT 0, size INTEGER, mtime REAL,
    ingested REAL, PRIMARY KEY (collection, id));
CREATE INDEX IF NOT EXISTS documents_source ON documents (collection, source);
CREATE TABLE IF NOT EXISTS doc_text (
    collection TEXT NOT NULL, doc_id TEXT NOT NULL, text BLOB NOT NULL, blocks TEXT NOT NULL,
    PRIMARY KEY (collection, doc_id));
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO meta (name, value) VALUES ('version', 0);
"""

_registries: dict[str, Registry] = {}
_registries_lock = threading.Lock()


def _tables(key: str) -> tuple[str, str]:
    """The chunk table of a generation, and the FTS5 table older versions kept beside it."""
    safe = key.replace("-", "_")
    return f'"chunks_{safe}"', f'"fts_{safe}"'


def close_registries(root: Path) -> None:
    """Close this process's registries of databases under the folder ``root``."""
    prefix = str(root.resolve()) + "/"
    with _registries_lock:
        held = [r for k, r in _registries.items() if k.startswith(prefix)]
    for registry in held:
        registry.close()


class Registry:
    """SQLite registry of documents and chunks."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=60, isolation_level=None)
        self._lock = threading.RLock()
        try:
            with self._lock:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            self._db.close()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise
            raise StoreError(
                f"the registry {printable_path(path)} is damaged ({exc}); run `qa doctor` to "
                "see what is left and `qa doctor --repair` to start over, then ingest your "
                "files again"
            ) from exc
        #: The version this process has seen: its own writes, or a reload after others'.
        self.seen_version = self.version()

    @classmethod
    def open(cls, path: Path) -> Registry:
        """The process's registry for the database at ``path``."""
        key = str(path.resolve())
        with _registries_lock:
            if key not in _registries:
                _registries[key] = cls(path)
            return _registries[key]

    def close(self) -> None:
        with _registries_lock, self._lock:
            _registries.pop(str(self.path.resolve()), None)
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def version(self) -> int:
        """The counter of searchable changes, across processes."""
        return int(self._query("SELECT value FROM meta WHERE name = 'version'")[0][0])

    def changed_elsewhere(self) -> bool:
        """Whether another process changed what is searchable since this one last looked."""
        return self.version() != self.seen_version

    def mark_changed(self) -> None:
        """Count a change made outside a registry transaction (a repaired index)."""
        with self.transaction() as db:
            self._bump(db)

    def _bump(self, db: sqlite3.Connection) -> None:
        """Count a searchable change (inside a transaction of this process's own)."""
        db.execute("UPDATE meta SET value = value + 1 WHERE name = 'version'")
        # Writers hold the data directory's write lock and catch up with other
        # processes before writing, so this process has now seen every change.
        self.seen_version = int(
            db.execute("SELECT value FROM meta WHERE name = 'version'").fetchone()[0])

    def _query(self, sql: str, args: Iterable[object] = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    # --- collections -------------------------------------------------------

    def collection(self, name: str) -> CollectionInfo | None:
        rows = self._query(
            "SELECT name, generation, model, dim FROM collections WHERE name = ?", (name,)
        )
        return CollectionInfo(*rows[0]) if rows else None

    def collections(self) -> list[CollectionInfo]:
        rows = self._query("SELECT name, generation, model, dim FROM collections ORDER BY name")
        return [CollectionInfo(*r) for r in rows]

    def create_generation(self, name: str, generation: int) -> None:
        chunks, fts = _tables(generation_key(name, generation))
        with self.transaction() as db:
            db.execute(f"DROP TABLE IF EXISTS {chunks}")
            db.execute(f"DROP TABLE IF EXISTS {fts}")
            db.execute(
                f"CREATE TABLE {chunks} (id INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, "
                "idx INTEGER NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL, "
                "end INTEGER NOT NULL, page INTEGER, section TEXT NOT NULL, "
                "UNIQUE (doc_id, idx))"
            )

    def drop_generation(self, name: str, generation: int) -> None:
        chunks, fts = _tables(generation_key(name, generation))
        with self.transaction() as db:
            db.execute(f"DROP TABLE IF EXISTS {chunks}")
            db.execute(f"DROP TABLE IF EXISTS {fts}")

    def stale_generations(self, name: str, current: int) -> list[int]:
        prefix = "chunks_" + generation_key(name, 0)[:-1].replace("-", "_")
        rows = self._query(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?", (prefix + "%",)
        )
        gens = [int(r[0][len(prefix):]) for r in rows if r[0][len(prefix):].isdigit()]
        return [g for g in gens if g != current]

    def set_collection(self, name: str, generation: int, model: str, dim: int) -> None:
        with self.transaction() as db:
            self._bump(db)
            db.execute(
                "INSERT INTO collections (name, generation, model, dim, created) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "generation = excluded.generation, model = excluded.model, dim = excluded.dim",
                (name, generation, model, dim, time.time()),
            )

    def drop_collection(self, name: str) -> None:
        with self.transaction() as db:
            self._bump(db)
            db.execute("DELETE FROM collections WHERE name = ?", (name,))
            db.execute("DELETE FROM documents WHERE collection = ?", (name,))
            db.execute("DELETE FROM doc_text WHERE collection = ?", (name,))

    # --- documents ---------------------------------------------------------

    def documents(self, collection: str, status: str | None = "ready") -> list[DocRow]:
        sql = (
            "SELECT id, source, title, status, chunks, size, mtime FROM documents "
            "WHERE collection = ?"
        )
        args: list[object] = [collection]
        if status:
            sql += " AND status = ?"
            args.append(status)
        return [DocRow(*r) for r in self._query(sql + " ORDER BY source, id", args)]

    def document(self, collection: str, doc_id: str) -> DocRow | None:
        rows = self._query(
            "SELECT id, source, title, status, chunks, size, mtime FROM documents "
            "WHERE collection = ? AND id = ?",
            (collection, doc_id),
        )
        return DocRow(*rows[0]) if rows else None

    def documents_by_ids(self, collection: str, ids: Iterable[str]) -> dict[str, DocRow]:
        """The ``ready`` documents among ``ids``, by id; reads only those rows."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, DocRow] = {}
        for i in range(0, len(wanted), 500):
            part = wanted[i : i + 500]
            marks = ",".join("?" * len(part))
            rows = self._query(
                "SELECT id, source, title, status, chunks, size, mtime FROM documents "
                f"WHERE collection = ? AND status = 'ready' AND id IN ({marks})",
                [collection, *part],
            )
            found.update((r[0], DocRow(*r)) for r in rows)
        return found

    def by_source(self, collection: str, source: str) -> list[DocRow]:
        rows = self._query(
            "SELECT id, source, title, status, chunks, size, mtime FROM documents "
            "WHERE collection = ? AND source = ? AND status = 'ready'",
            (collection, source),
        )
        return [DocRow(*r) for r in rows]

    def begin_document(
        self, collection: str, doc_id: str, source: str, title: str, size: int, mtime: float
    ) -> None:
        """Record a document as ``pending`` before any of it is written elsewhere."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO documents (collection, id, source, title, status, "
                "chunks, size, mtime, ingested) VALUES (?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
                (collection, doc_id, source, title, size, mtime, time.time()),
            )

    def commit_document(
        self,
        info: CollectionInfo,
        doc_id: str,
        chunks: list[Chunk],
        text: str,
        blocks: list[Block],
        replaces: Iterable[str] = (),
    ) -> None:
        """Make a document searchable and retire the versions it replaces, atomically."""
        table, _ = _tables(info.key)
        with self.transaction() as db:
            self._bump(db)
            self._insert_chunks(db, table, chunks)
            db.execute(
                "INSERT OR REPLACE INTO doc_text (collection, doc_id, text, blocks) "
                "VALUES (?, ?, ?, ?)",
                (info.name, doc_id, zlib.compress(text.encode(), 3), _blocks_json(blocks)),
            )
            db.execute(
                "UPDATE documents SET status = 'ready', chunks = ?, ingested = ? "
                "WHERE collection = ? AND id = ?",
                (len(chunks), time.time(), info.name, doc_id),
            )
            for old in replaces:
                if old != doc_id:
                    self._retire(db, info, old)

    @staticmethod
    def _insert_chunks(db: sqlite3.Connection, table: str, chunks: list[Chunk]) -> None:
        db.executemany(
            f"INSERT INTO {table} (doc_id, idx, text, start, end, page, section) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(c.doc_id, c.index, c.text, c.start, c.end, c.page, c.section) for c in chunks],
        )

    def _retire(self, db: sqlite3.Connection, info: CollectionInfo, doc_id: str) -> None:
        """Hide a document from every search; its vectors and keyword entries go next."""
        table, _ = _tables(info.key)
        self._bump(db)
        db.execute(f"DELETE FROM {table} WHERE doc_id = ?", (doc_id,))
        db.execute(
            "DELETE FROM doc_text WHERE collection = ? AND doc_id = ?", (info.name, doc_id)
        )
        db.execute(
            "UPDATE documents SET status = 'deleting' WHERE collection = ? AND id = ?",
            (info.name, doc_id),
        )

    def retire(self, info: CollectionInfo, doc_id: str) -> None:
        with self.transaction() as db:
            self._retire(db, info, doc_id)

    def forget(self, collection: str, doc_id: str) -> None:
        """Drop the registry row of a document whose vectors are gone."""
        with self.transaction() as db:
            db.execute("DELETE FROM documents WHERE collection = ? AND id = ?", (collection, doc_id))

    def set_source(self, collection: str, doc_id: str, source: str, mtime: float) -> None:
        with self.transaction() as db:
            db.execute(
                "UPDATE documents SET source = ?, mtime = ? WHERE collection = ? AND id = ?",
                (source, mtime, collection, doc_id),
            )

    def doc_text(self, collection: str, doc_id: str) -> tuple[str, list[Block]] | None:
        rows = self._query(
            "SELECT text, blocks FROM doc_text WHERE collection = ? AND doc_id = ?",
            (collection, doc_id),
        )
        if not rows:
            return None
        text = zlib.decompress(rows[0][0]).decode()
        return text, [Block(**b) for b in json.loads(rows[0][1])]

    # --- chunks ------------------------------------------------------------

    def chunks_by_ids(self, info: CollectionInfo, ids: list[tuple[str, int]]) -> list[Chunk]:
        """Rows for (doc_id, idx) pairs that are searchable, in the order asked."""
        if not ids:
            return []
        table, _ = _tables(info.key)
        found: dict[tuple[str, int], Chunk] = {}
        for i in range(0, len(ids), 400):
            part = ids[i : i + 400]
            where = " OR ".join(["(doc_id = ? AND idx = ?)"] * len(part))
            args = [v for pair in part for v in pair]
            for r in self._query(
                f"SELECT doc_id, idx, text, start, end, page, section FROM {table} "
                f"WHERE {where}",
                args,
            ):
                found[(r[0], r[1])] = Chunk(*r)
        return [found[k] for k in ids if k in found]

    def iter_chunks(self, info: CollectionInfo, batch: int = 2000) -> Iterator[list[tuple[Chunk, str]]]:
        """Every chunk of a generation with its document's title, in batches."""
        table, _ = _tables(info.key)
        last = 0
        while True:
            rows = self._query(
                f"SELECT c.id, c.doc_id, c.idx, c.text, c.start, c.end, c.page, c.section, "
                f"d.title FROM {table} c JOIN documents d ON d.collection = ? AND d.id = c.doc_id "
                "WHERE c.id > ? ORDER BY c.id LIMIT ?",
                (info.name, last, batch),
            )
            if not rows:
                return
            last = rows[-1][0]
            yield [(Chunk(*r[1:8]), r[8]) for r in rows]

    def chunk_count(self, info: CollectionInfo) -> int:
        table, _ = _tables(info.key)
        return int(self._query(f"SELECT COUNT(*) FROM {table}")[0][0])

    def chunks_of(self, info: CollectionInfo, doc_id: str) -> list[Chunk]:
        table, _ = _tables(info.key)
        rows = self._query(
            f"SELECT doc_id, idx, text, start, end, page, section FROM {table} "
            "WHERE doc_id = ? ORDER BY idx",
            (doc_id,),
        )
        return [Chunk(*r) for r in rows]

    def replace_generation(
        self, info: CollectionInfo, new_generation: int, model: str, dim: int,
        counts: dict[str, int],
    ) -> None:
        """Switch a collection to a rebuilt generation in one transaction."""
        with self.transaction() as db:
            self._bump(db)
            db.execute(
                "UPDATE collections SET generation = ?, model = ?, dim = ? WHERE name = ?",
                (new_generation, model, dim, info.name),
            )
            for doc_id, n in counts.items():
                db.execute(
                    "UPDATE documents SET chunks = ? WHERE collection = ? AND id = ?",
                    (n, info.name, doc_id),
                )

    def add_chunks(self, info: CollectionInfo, chunks: list[Chunk]) -> None:
        table, _ = _tables(info.key)
        with self.transaction() as db:
            self._insert_chunks(db, table, chunks)


def _blocks_json(blocks: list[Block]) -> str:
    return json.dumps(
        [
            {"start": b.start, "end": b.end, "page": b.page, "section": b.section, "kind": b.kind}
            for b in blocks
        ]
    )
