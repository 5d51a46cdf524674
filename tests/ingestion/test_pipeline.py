"""Ingest consistency: idempotent, replace-on-change, remove leaves no trace, batches go on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from qa import documents, ingest, remove, retrieve
from qa.api import open_store
from qa.config import Settings
from qa.errors import DocumentNotFoundError
from tests.conftest import SEED_QUESTION

pytestmark = pytest.mark.slow


def index_state(settings: Settings) -> tuple[int, int, int]:
    """(vectors in Chroma, chunk rows, keyword rows) of the collection."""
    store = open_store(settings)
    info = store.info()
    assert info is not None
    return store.vector_count(info), store.chunk_count(info), store.keyword_count(info)


def test_seed_question_finds_the_passage(seeds_copy: Path) -> None:
    report = ingest(seeds_copy)
    assert report.count("added") == 1 and not report.failed
    top = retrieve(SEED_QUESTION, k=3)[0]
    assert "Pakistan and China" in top.text
    assert "<u>" not in top.text
    assert top.title == "The ISIS Expansion in Afghanistan Is Pointed at Russia"
    Path(top.source).read_text()
    assert top.end > top.start >= 0 and top.chunk_id.startswith(top.doc_id)


def test_reingest_embeds_nothing_and_edit_replaces_only_that_file(seeds_copy: Path) -> None:
    other = seeds_copy / "notes.md"
    other.write_text("# Notes\n\nThe lighthouse keeper counted 412 gulls on Tuesday.\n")
    first = ingest(seeds_copy)
    assert first.count("added") == 2
    before = {d.source: d for d in documents()}
    settings = Settings.from_env()
    state = index_state(settings)

    again = ingest(seeds_copy)
    assert again.chunks_embedded == 0 and again.count("unchanged") == 2
    assert {d.source: d for d in documents()} == before
    assert index_state(settings) == state

    other.write_text("# Notes\n\nThe lighthouse keeper counted 977 gulls on Friday.\n")
    edited = ingest(seeds_copy)
    assert edited.count("replaced") == 1 and edited.count("unchanged") == 1
    # The note is one short paragraph: one chunk, embedded once; the seed is not embedded.
    assert edited.chunks_embedded == 1
    after = {d.source: d for d in documents()}
    assert after[str(other.resolve())].chunks == 1
    seed_source = next(s for s in before if s.endswith(".txt"))
    assert after[seed_source] == before[seed_source]
    assert after[str(other.resolve())].id != before[str(other.resolve())].id
    hits = retrieve("how many gulls did the lighthouse keeper count", k=10)
    assert any("977" in p.text for p in hits) and not any("412" in p.text for p in hits)
    assert index_state(settings)[0] == sum(d.chunks for d in after.values())


def test_remove_leaves_no_trace_in_either_index(seeds_copy: Path) -> None:
    ingest(seeds_copy)
    settings = Settings.from_env()
    doc = documents()[0]
    removed = remove(doc.source)
    assert removed.id == doc.id
    assert documents() == []
    assert index_state(settings) == (0, 0, 0)
    assert retrieve(SEED_QUESTION) == []
    with pytest.raises(DocumentNotFoundError):
        remove(doc.id)


def test_a_bad_file_fails_alone(seeds_copy: Path) -> None:
    (seeds_copy / "broken.pdf").write_bytes(b"%PDF-1.4\nnot really a pdf")
    (seeds_copy / "empty.txt").write_text("   \n")
    report = ingest(seeds_copy)
    failed = {Path(f.path).name: f.message for f in report.failed}
    assert set(failed) == {"broken.pdf", "empty.txt"}
    assert all(msg and "\n" not in msg for msg in failed.values())
    assert [Path(d.source).name for d in documents()] == [
        p.name for p in seeds_copy.glob("*.txt") if p.name != "empty.txt"
    ]


def test_duplicate_and_moved_files(seeds_copy: Path, tmp_path: Path) -> None:
    seed = next(seeds_copy.glob("*.txt"))
    shutil.copy(seed, seeds_copy / "copy.txt")
    report = ingest(seeds_copy)
    assert report.count("added") == 1 and report.count("duplicate") == 1
    moved = tmp_path / "moved.txt"
    shutil.move(seed, moved)
    (seeds_copy / "copy.txt").unlink()
    again = ingest(moved)
    assert again.count("unchanged") == 1 and again.chunks_embedded == 0
    assert [d.source for d in documents()] == [str(moved.resolve())]


def test_document_filter_and_modes(seeds_copy: Path) -> None:
    (seeds_copy / "other.txt").write_text("Moscow is the capital of Russia. It hosted a conference.")
    ingest(seeds_copy)
    other = str((seeds_copy / "other.txt").resolve())
    only = retrieve(SEED_QUESTION, k=5, documents=[other])
    assert only and {p.source for p in only} == {other}
    for mode in ("dense", "keyword", "hybrid"):
        assert retrieve(SEED_QUESTION, k=2, mode=mode)  # type: ignore[arg-type]


def test_collections_are_separate(seeds_copy: Path) -> None:
    ingest(seeds_copy, collection="first")
    assert documents(collection="first") and documents(collection="second") == []
