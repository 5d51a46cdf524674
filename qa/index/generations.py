"""A collection's generations, and the recovery that runs before each write.

A generation is one chunk table in the registry, one Chroma collection and one
keyword index. A reindex builds a new generation beside the searchable one
(:func:`new_generation`), then switches in one registry transaction and drops
the old one (:func:`swap_generation`); a generation left by an interrupted
reindex is dropped by the next writer's :func:`recover`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from qa.errors import StoreError
from qa.index.chroma import chroma_client
from qa.index.keyword import remove_index
from qa.index.records import CollectionInfo, generation_key
from qa.ingestion.chunking import chunk_body

if TYPE_CHECKING:
    from qa.index.store import Store

log = logging.getLogger(__name__)


def recover(store: Store, info: CollectionInfo) -> None:
    """Finish what a crash left: roll back ``pending`` documents, delete ``deleting``
    ones, drop stale generations, and rebuild a keyword index whose count is off."""
    registry = store._registry
    keyword = store._keyword_index(info)
    for row in registry.documents(store.name, status=None):
        if row.status == "ready":
            continue
        log.info("finishing interrupted %s of %s", row.status, row.source)
        if row.status == "pending":
            registry.retire(info, row.id)
        store._delete_indexed(info, row.id)
        registry.forget(store.name, row.id)
    for generation in registry.stale_generations(store.name, info.generation):
        drop_generation(store, generation)
    if keyword.count() != registry.chunk_count(info):
        rebuild_keyword(store, info)


def rebuild_keyword(store: Store, info: CollectionInfo) -> None:
    """Build the keyword index again from the registry, the source of truth."""
    log.info("rebuilding the keyword index of '%s' from the registry", store.name)
    store._keyword.pop(info.generation, None)
    remove_index(store.settings.data_dir / "keyword" / info.key)
    keyword = store._keyword_index(info)
    for rows in store._registry.iter_chunks(info):
        keyword.add([r for r, _ in rows], [chunk_body(title, r.section, r.text) for r, title in rows])
    keyword.commit()


def discard_unreadable_keyword(store: Store, info: CollectionInfo) -> bool:
    """Delete a keyword index that cannot be opened; True when it was deleted."""
    try:
        store._keyword_index(info).count()
    except (StoreError, ValueError):
        store._keyword.pop(info.generation, None)
        remove_index(store.settings.data_dir / "keyword" / info.key)
        return True
    return False


def new_generation(store: Store, current: CollectionInfo, model: str, dim: int) -> CollectionInfo:
    """An empty generation after ``current``, embedded with ``model``."""
    generation = current.generation + 1
    store._registry.create_generation(store.name, generation)
    return CollectionInfo(current.name, generation, model, dim)


def swap_generation(store: Store, current: CollectionInfo, new: CollectionInfo,
                    counts: dict[str, int]) -> None:
    """Switch the collection to ``new`` (``counts``: chunks per document) and drop ``current``."""
    store._keyword_index(new).commit()
    store._registry.replace_generation(current, new.generation, new.model, new.dim, counts)
    drop_generation(store, current.generation)


def drop_generation(store: Store, generation: int) -> None:
    """Delete a generation from every index (parts that were never created are skipped)."""
    try:
        with store._shared.vector_writes():
            chroma_client(store.settings).delete_collection(
                generation_key(store.name, generation))
    except Exception:  # noqa: BLE001 - it may never have been created
        log.debug("no Chroma collection for generation %d", generation)
    store._vectors.pop(generation, None)
    index = store._keyword.pop(generation, None)
    if index is not None:
        index.rollback()
    remove_index(store.settings.data_dir / "keyword" / generation_key(store.name, generation))
    store._registry.drop_generation(store.name, generation)
