"""Chunking tables: a table is cut only between rows, and every part keeps its header."""

from __future__ import annotations

from qa.ingestion.chunking import chunk_document
from qa.loaders.tables import table_text
from qa.types import Block, LoadedDocument


def words(texts: list[str]) -> list[int]:
    return [len(t.split()) for t in texts]


def table_doc(rows: int) -> LoadedDocument:
    intro = "Revenue by year, as reported."
    table = table_text([["Year", "Revenue", "Note"]]
                       + [[str(2000 + n), f"{n}.5 M", "audited. final"] for n in range(rows)])
    text = f"{intro}\n\n{table}"
    start = len(intro) + 2
    blocks = [Block(0, len(intro), None, "Figures"),
              Block(start, len(text), None, "Figures", "table")]
    return LoadedDocument("mem", "Report", text, blocks, "h")


def test_a_table_that_fits_stays_whole() -> None:
    doc = table_doc(3)
    chunks = chunk_document(doc, "d", words, chunk_tokens=60, overlap=8, max_tokens=80)
    assert [c.text for c in chunks] == [doc.text]


def test_a_long_table_is_cut_between_rows_and_each_part_names_its_columns() -> None:
    doc = table_doc(40)
    chunks = chunk_document(doc, "d", words, chunk_tokens=40, overlap=8, max_tokens=60)
    assert len(chunks) > 3
    rows = [c.text.split("\n") for c in chunks]
    table_lines = [line for part in rows for line in part if line.startswith("Year: ")]
    # Every row once (no overlap repeats a row), in order, none cut in the middle.
    assert table_lines == [line for line in doc.text.split("\n") if line.startswith("Year: ")]
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text
        for line in filter(None, chunk.text.split("\n")):
            assert line.startswith(("Year: ", "Revenue by year")), line
            if line.startswith("Year: "):
                assert "; Revenue: " in line and "; Note: audited. final" in line


def test_sentences_inside_a_row_do_not_split_it() -> None:
    # "audited. final" would be a sentence break in running text.
    doc = table_doc(40)
    chunks = chunk_document(doc, "d", words, chunk_tokens=40, overlap=0, max_tokens=60)
    assert not any(c.text.startswith("final") for c in chunks)
