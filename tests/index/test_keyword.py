"""qa.index.keyword: the tantivy BM25 index on small literal texts."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.errors import StoreError
from qa.index.keyword import KeywordIndex, query_words
from qa.types import Chunk


def chunk(doc: str, i: int) -> Chunk:
    return Chunk(doc, i, "", 0, 0, None, "")


@pytest.fixture
def index(tmp_path: Path) -> KeywordIndex:
    idx = KeywordIndex(tmp_path / "kw")
    idx.add([chunk("a", 0), chunk("a", 1), chunk("b", 0)], [
        "The heron nests by the mill pond.",
        "Gulls were counted at the lighthouse on Tuesday.",
        "Herons and gulls share the marsh.",
    ])
    idx.commit()
    return idx


def test_search_ranks_by_the_words_and_folds_inflections(index: KeywordIndex) -> None:
    assert [c for c, _ in index.search("lighthouse", 5)] == ["a:1"]
    # "herons" and "heron" meet at one stem; the chunk with both words ranks first.
    found = [c for c, _ in index.search("heron gulls", 5)]
    assert found[0] == "b:0" and set(found) == {"a:0", "a:1", "b:0"}
    assert index.search("zeppelin", 5) == []


def test_search_within_documents(index: KeywordIndex) -> None:
    assert [c for c, _ in index.search("gulls", 5, doc_ids=["a"])] == ["a:1"]
    assert index.search("gulls", 5, doc_ids=[]) == []


def test_counts_and_delete(index: KeywordIndex) -> None:
    assert (index.count(), index.count("a"), index.count("b")) == (3, 2, 1)
    index.delete("a")
    assert index.count() == 3  # queued, not committed
    index.commit()
    assert (index.count(), index.count("a")) == (1, 0)


def test_rollback_drops_what_was_not_committed(index: KeywordIndex) -> None:
    index.add([chunk("c", 0)], ["Otters swim in the canal."])
    index.rollback()
    assert index.search("otters", 5) == [] and index.count() == 3


def test_query_syntax_is_plain_words(index: KeywordIndex) -> None:
    assert query_words('body:x AND -y* "gulls"') == ["body", "x", "y", "gulls"]
    assert [c for c, _ in index.search('"gulls" AND (lighthouse', 5)][0] == "a:1"


def test_a_corrupt_index_names_the_repair(tmp_path: Path) -> None:
    folder = tmp_path / "kw"
    KeywordIndex(folder)
    (folder / "meta.json").write_text("{ not json")
    with pytest.raises(StoreError, match="qa doctor --repair"):
        KeywordIndex(folder)
