"""qa.types: the records' derived fields and their JSON shapes."""

from __future__ import annotations

import json

from qa.types import Answer, Chunk, DocumentInfo, FileResult, IngestReport, Passage


def test_chunk_id_names_document_and_position() -> None:
    assert Chunk("abc", 3, "text", 0, 4, None, "").chunk_id == "abc:3"


def test_ingest_report_counts_and_summary() -> None:
    report = IngestReport(
        files=[FileResult("a.txt", "added", "d1", 4), FileResult("b.txt", "added", "d2", 2),
               FileResult("c.pdf", "failed", message="is encrypted"),
               FileResult("d.md", "unchanged", "d3", 1)],
        chunks_embedded=6, seconds=2.0,
    )
    assert report.count("added") == 2 and [f.path for f in report.failed] == ["c.pdf"]
    assert report.summary() == ("4 files: 2 added, 1 unchanged, 1 failed; "
                                "6 chunks embedded in 2.0s (3.0 chunks/s)")
    assert IngestReport().summary() == "0 files: nothing to do; 0 chunks embedded in 0.0s"
    one = IngestReport(files=[FileResult("a.txt", "added", chunks=1)], chunks_embedded=1,
                       seconds=0.5)
    assert one.summary() == "1 file: 1 added; 1 chunk embedded in 0.5s (2.0 chunks/s)"


def test_records_serialise_to_plain_json() -> None:
    passage = Passage("Moscow hosted talks.", 0.5, "/d/n.txt", "Notes", 2, "Intro", 10, 30,
                      "d:0", "d")
    answer = Answer("Who hosted?", "Moscow [1].", False, passages=[passage],
                    timings={"total": 1.0})
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["answer"] == "Moscow [1]." and data["refused"] is False
    assert data["passages"][0]["page"] == 2 and data["passages"][0]["chunk_id"] == "d:0"
    assert DocumentInfo("d", "/d/n.txt", "Notes", 3).to_dict() == {
        "id": "d", "source": "/d/n.txt", "title": "Notes", "chunks": 3}
