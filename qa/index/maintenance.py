"""The index's parts as files, for checking and repairing a data directory
(:mod:`qa.doctor`) without opening a store: the registry file, the Chroma
collections and keyword folders a collection left, and the write lock."""

from __future__ import annotations

import fcntl
import logging
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.config import Settings
from qa.errors import QAError
from qa.index.chroma import chroma_client, close_client
from qa.index.locks import file_lock
from qa.index.records import CollectionInfo, generation_key
from qa.index.registry import Registry
from qa.index.shared import close_shared

log = logging.getLogger(__name__)

REGISTRY_NAME = "registry.sqlite3"


def registry_path(settings: Settings) -> Path:
    """The registry database of the data directory."""
    return settings.data_dir / REGISTRY_NAME


def registry_damage(path: Path) -> str:
    """Why the registry cannot be used, or "" when it passes SQLite's quick check."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)
        try:
            result = db.execute("PRAGMA quick_check").fetchone()
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    if not result or result[0] != "ok":
        return f"quick_check says {result[0] if result else 'nothing'}"
    missing = {"collections", "documents", "doc_text"} - tables
    return f"tables {', '.join(sorted(missing))} are missing" if missing else ""


def recorded_collection(settings: Settings) -> CollectionInfo | None:
    """The registry's record of ``settings.collection``, whatever model built it."""
    return Registry.open(registry_path(settings)).collection(settings.collection)


def move_registry_aside(settings: Settings) -> str | None:
    """Rename the registry files (with their WAL) out of the way; the new name, if any."""
    path = registry_path(settings)
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for suffix in ("", "-wal", "-shm"):
        part = path.with_name(path.name + suffix)
        if part.exists():
            part.rename(part.with_name(f"{part.name}.damaged-{stamp}"))
    return f"{path.name}.damaged-{stamp}"


def move_vectors_aside(settings: Settings) -> Path | None:
    """Rename the embedded Chroma store out of the way; where it went, if it existed."""
    folder = settings.data_dir / "chroma"
    close_client(settings)
    if not folder.exists():
        return None
    aside = folder.with_name(f"chroma.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    folder.rename(aside)
    return aside


def leftovers(settings: Settings, every: bool = False) -> tuple[dict[str, int], list[Path]]:
    """Vectors (count by Chroma collection) and keyword folders of the collection
    (of every qa collection with ``every``) that exist without a registry record."""
    prefix = "qa-" if every else generation_key(settings.collection, 0)[:-1]
    folder = settings.data_dir / "keyword"
    keyword = sorted(p for p in folder.glob(prefix + "*") if p.is_dir()) \
        if folder.is_dir() else []
    vectors: dict[str, int] = {}
    if settings.server_mode or (settings.data_dir / "chroma").exists():
        try:
            client = chroma_client(settings)
            for item in client.list_collections():
                name = item if isinstance(item, str) else item.name
                if name.startswith(prefix):
                    vectors[name] = int(client.get_collection(name).count())
        except QAError:
            raise
        except Exception as exc:  # noqa: BLE001 - a store we cannot read holds nothing we can use
            log.info("cannot list the Chroma collections: %s", exc)
    return vectors, keyword


def clear_leftovers(settings: Settings, vectors: dict[str, int], keyword: list[Path]) -> None:
    """Delete the Chroma collections and keyword folders :func:`leftovers` found."""
    if vectors:
        client = chroma_client(settings)
        for name in vectors:
            client.delete_collection(name)
    for folder in keyword:
        shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def write_lock(settings: Settings) -> Iterator[None]:
    """Hold the data directory's write lock (what :meth:`Store.writing` takes)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    with file_lock(settings.data_dir / "write.lock", fcntl.LOCK_EX):
        yield


def close_data_dir(settings: Settings) -> None:
    """Close what this process holds of the data directory, so the next use reopens it."""
    close_shared(settings.data_dir)
