"""The records the index hands out: a collection's generation, a document row, a chunk row."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    generation: int
    model: str
    dim: int

    @property
    def key(self) -> str:
        return generation_key(self.name, self.generation)


@dataclass(frozen=True)
class DocRow:
    id: str
    source: str
    title: str
    status: str
    chunks: int
    size: int | None
    mtime: float | None


def generation_key(collection: str, generation: int) -> str:
    """A name safe for SQLite tables and Chroma collections."""
    digest = hashlib.sha1(collection.encode()).hexdigest()[:12]
    return f"qa-{digest}-g{generation}"
