"""Generated corpora: the asked size, made of real sentences, written once."""

from __future__ import annotations

from pathlib import Path

from qa_measure.bench.corpus import corpus_bytes, generated_corpus, scifact_documents, sentence_pool
from tests.conftest import SHARED_DATA
from tests.qa_measure.bench.conftest import needs_data

pytestmark = needs_data


def test_generated_corpus_size_and_reuse(tmp_path: Path) -> None:
    files = generated_corpus(SHARED_DATA, tmp_path / "c", total_mb=0.1, file_kb=20)
    assert len(files) == 5 and all(f.suffix == ".txt" for f in files)
    assert abs(corpus_bytes(files) - 0.1 * 2**20) < 0.02 * 2**20
    first = files[0].read_text()
    assert "\n\n" in first and len(first.split("\n\n")) > 3
    stamp = files[0].stat().st_mtime_ns
    assert generated_corpus(SHARED_DATA, tmp_path / "c", 0.1, 20) == files
    assert files[0].stat().st_mtime_ns == stamp  # reused, not rewritten


def test_generated_text_is_deterministic(tmp_path: Path) -> None:
    a = generated_corpus(SHARED_DATA, tmp_path / "a", 0.02, 20)
    b = generated_corpus(SHARED_DATA, tmp_path / "b", 0.02, 20)
    assert a[0].read_text() == b[0].read_text()


def test_sources() -> None:
    assert len(sentence_pool(SHARED_DATA)) > 40_000
    docs = scifact_documents(SHARED_DATA, 3)
    assert len(docs) == 3 and all(d.text and d.title for d in docs)
