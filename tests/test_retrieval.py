"""Retrieval logic: the keyword query, score fusion."""

from __future__ import annotations

import pytest

from qa.index import query_words
from qa.retrieval import fuse, rrf, zscores
from qa.types import Chunk


def row(cid: str) -> Chunk:
    doc, idx = cid.split(":")
    return Chunk(doc, int(idx), f"text {cid}", 0, 1, None, "")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("What is the capital of France?", ["capital", "france"]),
        ('x" OR 1 NEAR(y', ["x", "1", "near", "y"]),
        ("the of and", ["the", "of", "and"]),
        ("   ", []),
        ("Café au lait, café", ["café", "au", "lait"]),
        ("body:x AND -y*", ["body", "x", "y"]),
    ],
)
def test_query_words_are_plain_words(query: str, expected: list[str]) -> None:
    assert query_words(query) == expected


def test_zscores() -> None:
    scores = zscores([(row("a:0"), 3.0), (row("a:1"), 1.0)])
    assert scores == {"a:0": 1.0, "a:1": -1.0}
    assert zscores([(row("a:0"), 5.0)]) == {"a:0": 0.0}
    assert zscores([]) == {}


def test_fuse_weights_and_missing_items() -> None:
    dense = [(row("a:0"), 0.9), (row("b:0"), 0.5), (row("c:0"), 0.1)]
    keyword = [(row("b:0"), 12.0), (row("d:0"), 2.0)]
    ids = [h.row.chunk_id for h in fuse(dense, keyword, k=4, alpha=0.4)]
    assert ids[0] == "b:0"  # in both rankings, best by keyword
    assert set(ids) == {"a:0", "b:0", "c:0", "d:0"}
    assert [h.row.chunk_id for h in fuse(dense, [], k=2)] == ["a:0", "b:0"]
    assert [h.row.chunk_id for h in fuse([], keyword, k=1)] == ["b:0"]


def test_rrf() -> None:
    fused = rrf([(["a", "b"], 1.0), (["b", "c"], 1.0)], k=0)
    assert max(fused, key=fused.__getitem__) == "b"
    assert fused["a"] == pytest.approx(1.0)
