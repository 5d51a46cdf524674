"""qa.index.registry: document states, atomic commits, generations, the change counter."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import StoreError
from qa.index.registry import Registry
from qa.types import Block, Chunk


def chunks(doc: str, n: int) -> list[Chunk]:
    return [Chunk(doc, i, f"text {doc} {i}", i * 10, i * 10 + 9, None, "") for i in range(n)]


@pytest.fixture
def registry(tmp_path: Path) -> Registry:
    reg = Registry(tmp_path / "registry.sqlite3")
    reg.create_generation("notes", 1)
    reg.set_collection("notes", 1, "model-a", 384)
    return reg


def test_a_pending_document_is_invisible_until_committed(registry: Registry) -> None:
    info = registry.collection("notes")
    assert info is not None and (info.generation, info.model, info.dim) == (1, "model-a", 384)
    registry.begin_document("notes", "d1", "/x/a.txt", "A", 12, 1.0)
    assert registry.documents("notes") == [] and registry.chunk_count(info) == 0
    assert [r.status for r in registry.documents("notes", status=None)] == ["pending"]
    registry.commit_document(info, "d1", chunks("d1", 3), "the text", [Block(0, 8)])
    (row,) = registry.documents("notes")
    assert (row.id, row.status, row.chunks) == ("d1", "ready", 3)
    assert [c.chunk_id for c in registry.chunks_of(info, "d1")] == ["d1:0", "d1:1", "d1:2"]
    assert registry.doc_text("notes", "d1") == ("the text", [Block(0, 8)])


def test_a_new_version_replaces_the_old_in_one_commit(registry: Registry) -> None:
    info = registry.collection("notes")
    assert info is not None
    registry.begin_document("notes", "old", "/x/a.txt", "A", 1, 1.0)
    registry.commit_document(info, "old", chunks("old", 2), "v1", [])
    registry.begin_document("notes", "new", "/x/a.txt", "A", 1, 2.0)
    registry.commit_document(info, "new", chunks("new", 1), "v2", [], replaces=["old"])
    assert [r.id for r in registry.by_source("notes", "/x/a.txt")] == ["new"]
    assert registry.chunks_of(info, "old") == [] and registry.doc_text("notes", "old") is None
    assert registry.document("notes", "old").status == "deleting"  # type: ignore[union-attr]
    registry.forget("notes", "old")
    assert registry.document("notes", "old") is None


def test_chunks_by_ids_keeps_the_asked_order_and_skips_unknown(registry: Registry) -> None:
    info = registry.collection("notes")
    assert info is not None
    registry.begin_document("notes", "d", "/x/d.txt", "D", 1, 1.0)
    registry.commit_document(info, "d", chunks("d", 3), "t", [])
    rows = registry.chunks_by_ids(info, [("d", 2), ("ghost", 0), ("d", 0)])
    assert [r.chunk_id for r in rows] == ["d:2", "d:0"]


def test_the_change_counter_tells_another_process(tmp_path: Path, registry: Registry) -> None:
    other = Registry(tmp_path / "registry.sqlite3")  # a second connection, as another process
    assert not other.changed_elsewhere()
    info = registry.collection("notes")
    assert info is not None
    registry.begin_document("notes", "d", "/x/d.txt", "D", 1, 1.0)
    assert not other.changed_elsewhere()  # pending: nothing searchable changed
    registry.commit_document(info, "d", chunks("d", 1), "t", [])
    assert other.changed_elsewhere() and not registry.changed_elsewhere()


def test_generations(registry: Registry) -> None:
    registry.create_generation("notes", 2)
    assert registry.stale_generations("notes", 1) == [2]
    registry.drop_generation("notes", 2)
    assert registry.stale_generations("notes", 1) == []


def test_a_damaged_file_is_a_store_error_naming_the_remedy(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    path.write_bytes(b"not a database" * 200)
    with pytest.raises(StoreError, match=r"is damaged .*qa doctor --repair"):
        Registry(path)
