"""qa doctor: each store broken for real (files deleted or overwritten, rows and vectors
removed behind qa's back), then found, explained and repaired.

The damage is done to a real index of seeds/ (real model, embedded Chroma, tantivy,
SQLite). The user-facing message is checked where a user meets it: in a fresh
``qa search`` process, which has no index open from before.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa import doctor, ingest, retrieve
from qa.api import open_store
from qa.cli import main
from qa.config import Settings
from qa.doctor import _close_open_stores
from tests.conftest import ROOT, SEED_QUESTION

pytestmark = pytest.mark.slow

ANSWER = "Pakistan and China"


@pytest.fixture
def indexed(seeds_copy: Path) -> Settings:
    """seeds/ and one more note indexed into this test's data directory."""
    (seeds_copy / "notes.md").write_text(
        "# Lighthouse notes\n\nThe Orvik lighthouse keeper counted 977 gulls on Tuesday.\n")
    report = ingest(seeds_copy)
    assert report.count("added") == 2 and not report.failed
    settings = Settings.from_env()
    _close_open_stores(settings)  # as a fresh process would find it
    return settings


def qa_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=ROOT, env=dict(os.environ),
                          capture_output=True, text=True, timeout=300)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """The single ``qa: error:`` line a failed command printed (no traceback)."""
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("qa: error: "), done.stderr
    return lines[0]


def keyword_dir(settings: Settings) -> Path:
    info = open_store(settings).info()
    assert info is not None
    folder = settings.data_dir / "keyword" / info.key
    _close_open_stores(settings)
    return folder


def test_an_empty_data_directory_is_fine(tmp_path: Path) -> None:
    report = doctor(settings=Settings.from_env(data_dir=tmp_path / "nothing"))
    assert report.ok and report.findings == [] and report.documents == 0


def test_a_healthy_index_agrees(indexed: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    report = doctor()
    assert report.ok, report.summary()
    assert report.documents == 2 and report.chunks > 2
    assert report.vectors == report.chunks == report.keyword_entries
    assert main(["doctor", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is True and data["findings"] == [] and data["documents"] == 2


def test_deleted_keyword_index_is_reported_and_rebuilt(indexed: Settings) -> None:
    import shutil

    shutil.rmtree(keyword_dir(indexed))
    line = one_error_line(qa_cli("search", SEED_QUESTION, "--mode", "keyword"))
    assert "keyword index" in line and "qa doctor --repair" in line
    found = doctor()
    assert not found.ok
    (finding,) = found.findings
    assert finding.store == "keyword" and finding.repairable
    assert f"holds 0 entries for {found.chunks} chunks" in finding.problem
    fixed = doctor(repair=True)
    assert fixed.ok, fixed.summary()
    assert any("rebuilt the keyword index" in a for a in fixed.actions)
    assert fixed.keyword_entries == fixed.chunks
    assert ANSWER in retrieve(SEED_QUESTION, k=1, mode="keyword")[0].text


def test_corrupt_keyword_index_is_reported_and_rebuilt(indexed: Settings) -> None:
    folder = keyword_dir(indexed)
    (folder / "meta.json").write_text("{ this is not json")
    line = one_error_line(qa_cli("search", SEED_QUESTION, "--mode", "keyword"))
    assert "keyword index" in line and "qa doctor --repair" in line
    done = qa_cli("doctor")
    assert done.returncode == 1 and "keyword: cannot read the keyword index" in done.stdout
    assert "qa doctor --repair" in done.stdout
    fixed = qa_cli("doctor", "--repair")
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "rebuilt the keyword index" in fixed.stdout
    assert ANSWER in retrieve(SEED_QUESTION, k=1, mode="keyword")[0].text


def test_missing_and_stray_vectors_are_embedded_again_and_deleted(indexed: Settings) -> None:
    store = open_store(indexed)
    info = store.info()
    assert info is not None
    seed = next(d for d in store.documents() if d.source.endswith(".txt"))
    collection = store._collection(info)
    collection.delete(where={"doc_id": seed.id})
    collection.upsert(ids=["ghost:0"], embeddings=[[0.1] * info.dim],
                      metadatas=[{"doc_id": "ghost", "idx": 0}])
    _close_open_stores(indexed)
    found = doctor()
    problems = sorted(f.problem for f in found.findings)
    assert len(problems) == 2 and all(f.store == "vectors" for f in found.findings)
    assert f"1 document(s) lack {seed.chunks} of their vectors" in problems[0]
    assert problems[1] == "1 vector(s) belong to no searchable chunk"
    fixed = doctor(repair=True)
    assert fixed.ok, fixed.summary()
    assert f"embedded {seed.chunks} chunk(s) again from the registry" in fixed.actions
    assert "deleted 1 vector(s) of no searchable chunk" in fixed.actions
    assert fixed.vectors == fixed.chunks
    assert ANSWER in retrieve(SEED_QUESTION, k=1, mode="dense")[0].text


def test_half_written_document_is_rolled_back(indexed: Settings) -> None:
    store = open_store(indexed)
    store.begin(store.info(), "f" * 24, "/gone/half.txt", "Half", 10, 0.0)
    _close_open_stores(indexed)
    found = doctor()
    (finding,) = found.findings
    assert finding.store == "registry" and "half-written" in finding.problem
    assert "/gone/half.txt" in finding.problem
    assert doctor(repair=True).ok
    store = open_store(indexed)
    assert [d.status for d in store.documents(status=None)] == ["ready"] * 2


def test_deleted_registry_cannot_be_rebuilt_and_says_to_ingest_again(
    indexed: Settings, seeds_copy: Path
) -> None:
    for suffix in ("", "-wal", "-shm"):
        (indexed.data_dir / f"registry.sqlite3{suffix}").unlink(missing_ok=True)
    found = doctor()
    (finding,) = found.findings
    assert finding.store == "registry" and not finding.repairable
    assert "is missing" in finding.problem and "vectors" in finding.problem
    assert "cannot be rebuilt" in finding.remedy and "qa ingest" in finding.remedy
    done = qa_cli("doctor")
    assert done.returncode == 1 and "cannot be rebuilt" in done.stdout
    fixed = doctor(repair=True)
    assert fixed.ok, fixed.summary()
    assert any("ingest your files again" in a for a in fixed.actions)
    assert not list((indexed.data_dir / "keyword").glob("qa-*"))
    report = ingest(seeds_copy)
    assert report.count("added") == 2
    assert ANSWER in retrieve(SEED_QUESTION, k=1)[0].text
    assert doctor().ok


def test_corrupt_registry_is_a_message_and_repair_starts_over(
    indexed: Settings, seeds_copy: Path
) -> None:
    registry = indexed.data_dir / "registry.sqlite3"
    for suffix in ("-wal", "-shm"):
        (indexed.data_dir / f"registry.sqlite3{suffix}").unlink(missing_ok=True)
    registry.write_bytes(b"this is no database at all" * 100)
    line = one_error_line(qa_cli("search", SEED_QUESTION))
    assert "registry" in line and "damaged" in line and "qa doctor" in line
    found = doctor()
    (finding,) = found.findings
    assert finding.store == "registry" and "damaged" in finding.problem
    fixed = doctor(repair=True)
    assert fixed.ok, fixed.summary()
    assert [p.name.split(".damaged-")[0] for p in indexed.data_dir.glob("*.damaged-*")] == [
        "registry.sqlite3"]
    assert ingest(seeds_copy).count("added") == 2
    assert ANSWER in retrieve(SEED_QUESTION, k=1)[0].text
    assert doctor().ok
