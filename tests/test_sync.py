"""Folders that change: `sync` and `qa ingest --sync` once, `Watcher` on real file events.

Real files, the real model and store: new and changed files are ingested,
deleted ones removed from every index, renamed ones followed without embedding.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import pytest

from qa import documents, retrieve
from qa.sync import SyncReport, sync
from qa.watch import Watcher
from tests.hostile.helpers import check_index, prose

pytestmark = [pytest.mark.slow]


def names() -> dict[str, int]:
    return {Path(d.source).name: d.chunks for d in documents()}


def found(marker: str) -> set[str]:
    return {Path(p.source).name for p in retrieve(marker, k=5, mode="keyword")}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text(prose("mkalpha", 4))
    (docs / "b.md").write_text("# Bee\n\n" + prose("mkbeta", 4))
    (docs / "sub" / "c.txt").write_text(prose("mkgamma", 4))
    return docs


def test_sync_follows_new_changed_renamed_and_deleted_files(folder: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    first = sync(folder)
    assert first.ingest.count("added") == 3 and not first.removed
    (folder / "a.txt").unlink()
    (folder / "b.md").write_text("# Bee\n\n" + prose("mkbetatwo", 4))
    (folder / "sub" / "c.txt").rename(folder / "sub" / "renamed.txt")
    (folder / "e.txt").write_text(prose("mkepsilon", 4))
    second = sync(folder)
    statuses = {Path(r.path).name: r.status for r in second.ingest.files}
    assert statuses == {"b.md": "replaced", "renamed.txt": "unchanged", "e.txt": "added"}
    embedded = sum(r.chunks for r in second.ingest.files if r.status in ("added", "replaced"))
    assert second.ingest.chunks_embedded == embedded  # the renamed file embedded nothing
    assert [Path(d.source).name for d in second.removed] == ["a.txt"]
    assert set(names()) == {"b.md", "renamed.txt", "e.txt"}
    assert found("mkalpha") == set() and found("mkbeta") == set()
    assert found("mkgamma") == {"renamed.txt"} and found("mkbetatwo") == {"b.md"}
    check_index()
    again = sync(folder)
    assert again.ingest.chunks_embedded == 0 and not again.removed


def test_sync_of_a_folder_that_is_gone_removes_its_documents(folder: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    import shutil

    sync(folder)
    shutil.rmtree(folder / "sub")
    report = sync([folder / "sub", folder])
    assert [Path(d.source).name for d in report.removed] == ["c.txt"]
    assert set(names()) == {"a.txt", "b.md"}
    check_index()


def test_cli_ingest_sync(folder: Path, embedder, capsys) -> None:  # type: ignore[no-untyped-def]
    from qa.cli import main

    assert main(["ingest", "--no-progress", str(folder)]) == 0
    (folder / "a.txt").unlink()
    capsys.readouterr()
    assert main(["ingest", "--sync", "--no-progress", str(folder)]) == 0
    out = capsys.readouterr()
    assert "removed: " in out.err and "a.txt (the file is gone)" in out.err
    assert out.out.strip().endswith("1 removed")
    assert set(names()) == {"b.md", "c.txt"}


def test_watch_follows_real_file_operations(folder: Path, embedder) -> None:  # type: ignore[no-untyped-def]
    passes: queue.Queue[SyncReport] = queue.Queue()
    stop = threading.Event()
    watcher = Watcher([folder], debounce=0.5, on_pass=passes.put)
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()

    def next_pass() -> SyncReport:
        return passes.get(timeout=120)

    def until(check, seconds: float = 60.0) -> SyncReport:  # type: ignore[no-untyped-def]
        """Passes until ``check`` holds for the index (events may come in several passes)."""
        deadline = time.monotonic() + seconds
        last = SyncReport()
        while not check():
            last = passes.get(timeout=max(0.1, deadline - time.monotonic()))
        return last

    try:
        assert next_pass().ingest.count("added") == 3  # the first, full sync
        (folder / "new.md").write_text("# New\n\n" + prose("mkdelta", 4))
        until(lambda: "new.md" in names())
        assert found("mkdelta") == {"new.md"}
        before = {d.source: d.id for d in documents()}
        (folder / "sub" / "c.txt").rename(folder / "moved.txt")
        until(lambda: "moved.txt" in names() and "c.txt" not in names())
        after = {Path(d.source).name: d.id for d in documents()}
        assert after["moved.txt"] == before[str((folder / "sub" / "c.txt").resolve())]
        (folder / "a.txt").unlink()
        until(lambda: "a.txt" not in names())
        assert found("mkalpha") == set()
        # A burst of saves to one file is one change.
        for n in range(5):
            (folder / "b.md").write_text("# Bee\n\n" + prose(f"mkbetav{n}", 4))
        until(lambda: bool(found("mkbetav4")))
        assert found("mkbetav0") == set()
        check_index()
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
