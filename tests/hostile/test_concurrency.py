"""Searches and questions while another thread ingests, replaces and removes documents.

Every document version the writer makes has a marker word (one per file) in
every chunk, and the writer records, with monotonic clock times, when each
version's ingest started and ended, its chunks as committed, and when its
removal (or its replacement by a newer version) started and ended. Readers
(threads in this process, one of them asking questions with the extractive
backend, and one separate process) record the start and end of each call and
what it returned. A returned passage is sound when:

* its document is a version the writer (or the setup) made, whose ingest had
  started before the call ended (nothing is seen before it is written);
* the call started before that version's removal ended (nothing removed is seen);
* its chunk id and text are exactly one of the version's committed chunks;
* in keyword mode, where a marker matches every chunk of its file, a version
  comes back whole or not at all (never half-ingested).

``CLOCK_MONOTONIC`` is system-wide on Linux, so the other process's times compare.
Every call must succeed.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from qa import ingest, remove, retrieve
from qa.api import open_store
from qa.config import Settings
from tests.conftest import ROOT
from tests.hostile.conftest import REPORT
from tests.hostile.helpers import check_index, prose

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("shared_model")]

FILES = 10
WRITER_OPS = 14
READER_THREADS = 3
K = 10  # more than the chunks of one document, so keyword mode returns all of them


@dataclass
class Version:
    doc_id: str
    marker: str
    chunks: dict[str, str]  # chunk id -> text, as committed
    ingest: tuple[float, float]
    removal: tuple[float, float] | None = None


@dataclass
class Call:
    who: str
    mode: str
    marker: str
    t0: float
    t1: float
    passages: list[tuple[str, str, str]] = field(default_factory=list)
    error: str = ""


class Writer:
    """Ingests, replaces and removes files, recording every version it makes."""

    def __init__(self, folder: Path, settings: Settings, rng: random.Random) -> None:
        self.folder = folder
        self.settings = settings
        self.rng = rng
        self.versions: dict[str, Version] = {}
        self.current: dict[int, str] = {}  # file -> doc id of its ready version
        self.edits = dict.fromkeys(range(FILES), 0)
        self.log: list[str] = []

    @staticmethod
    def marker(i: int) -> str:
        return f"concmarker{i:02d}"

    def path(self, i: int) -> Path:
        return self.folder / f"file{i:02d}.txt"

    def write(self, i: int) -> None:
        self.edits[i] += 1
        paragraphs = [f"{self.marker(i)} " + prose(f"e{self.edits[i]}f{i}p{p}", 3)
                      for p in range(5)]
        self.path(i).write_text("\n\n".join(paragraphs))

    def ingest(self, i: int) -> None:
        self.write(i)
        old = self.current.get(i)
        t0 = time.monotonic()
        report = ingest(self.path(i), settings=self.settings)
        t1 = time.monotonic()
        (result,) = report.files
        assert result.status in ("added", "replaced") and result.doc_id, result
        store = open_store(self.settings)
        info = store.info()
        assert info is not None
        rows = store.chunks_of(info, result.doc_id)
        self.versions[result.doc_id] = Version(
            result.doc_id, self.marker(i), {r.chunk_id: r.text for r in rows}, (t0, t1)
        )
        if old is not None:  # replaced inside this ingest
            self.versions[old].removal = (t0, t1)
        self.current[i] = result.doc_id
        self.log.append(f"{result.status} file{i:02d}")

    def remove(self, i: int) -> None:
        doc_id = self.current.pop(i)
        t0 = time.monotonic()
        remove(doc_id, settings=self.settings)
        self.versions[doc_id].removal = (t0, time.monotonic())
        self.log.append(f"removed file{i:02d}")

    def step(self) -> None:
        present = sorted(self.current)
        absent = [i for i in range(FILES) if i not in self.current]
        op = self.rng.choice(["add", "replace", "remove"])
        if op == "add" and absent:
            self.ingest(self.rng.choice(absent))
        elif op == "remove" and len(present) > 2:
            self.remove(self.rng.choice(present))
        else:
            self.ingest(self.rng.choice(present))


def soundness(call: Call, versions: dict[str, Version]) -> list[str]:
    """What is wrong with what one call returned (see the module docstring)."""
    problems = []
    counts: dict[str, int] = {}
    for doc_id, chunk_id, text in call.passages:
        version = versions.get(doc_id)
        if version is None:
            problems.append(f"{call.who}: {chunk_id} belongs to no document ever written")
            continue
        counts[doc_id] = counts.get(doc_id, 0) + 1
        if version.ingest[0] > call.t1:
            problems.append(f"{call.who}: {chunk_id} returned before its ingest began")
        if version.removal is not None and call.t0 > version.removal[1]:
            problems.append(f"{call.who}: {chunk_id} returned after its document was removed")
        if version.chunks.get(chunk_id) != text:
            problems.append(f"{call.who}: {chunk_id} is not a committed chunk of its document")
    if call.mode == "keyword":
        for doc_id, n in counts.items():
            if n != len(versions[doc_id].chunks):
                problems.append(f"{call.who}: keyword search returned {n} of "
                                f"{len(versions[doc_id].chunks)} chunks of {doc_id}")
    return problems


def ask_available() -> bool:
    try:
        from qa.api import ask  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass
class Outcome:
    calls: list[Call]
    writer: Writer
    errors: list[str]
    unsound: list[str]
    summary: str
    fresh_modes: set[str]  # search modes that returned a document written during the run


def run_concurrently(
    tmp_path: Path, settings: Settings, *, threads: bool, process: bool, label: str
) -> Outcome:
    """The writer thread's operations with the chosen readers running; what they saw."""
    rng = random.Random(11)
    folder = tmp_path / "docs"
    folder.mkdir()
    writer = Writer(folder, settings, rng)
    for i in range(4):  # an index to start from
        writer.ingest(i)
    markers = [Writer.marker(i) for i in range(FILES)]
    (tmp_path / "markers.json").write_text(json.dumps(markers))
    stop = threading.Event()
    calls: list[Call] = []
    lock = threading.Lock()
    out_file, stop_file = tmp_path / "process.jsonl", tmp_path / "stop"
    reader_process = None
    if process:  # it loads its model first (that takes a while), then waits for "go"
        reader_process = subprocess.Popen(
            [sys.executable, "-m", "tests.hostile.reader_process", str(settings.data_dir),
             str(tmp_path / "markers.json"), str(out_file), str(stop_file)],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert reader_process.stdout is not None and reader_process.stdin is not None
        assert reader_process.stdout.readline().strip() == "ready"

    def search(who: str) -> None:
        local = random.Random(who)
        while not stop.is_set():
            marker, mode = local.choice(markers), local.choice(["hybrid", "keyword", "dense"])
            call = Call(who, mode, marker, time.monotonic(), 0.0)
            try:
                found = retrieve(marker, k=K, mode=mode, settings=settings)  # type: ignore[arg-type]
                call.passages = [(p.doc_id, p.chunk_id, p.text) for p in found]
            except Exception:  # noqa: BLE001 - collected; the test fails on it
                call.error = traceback.format_exc()
            call.t1 = time.monotonic()
            with lock:
                calls.append(call)

    def question(who: str) -> None:
        from qa.api import ask

        local = random.Random(who)
        while not stop.is_set():
            marker = local.choice(markers)
            call = Call(who, "ask", marker, time.monotonic(), 0.0)
            try:
                answer = ask(f"What did the {marker} survey note?", llm="extractive",
                             settings=settings)
                call.passages = [(p.doc_id, p.chunk_id, p.text) for p in answer.passages]
                cited = {(c.doc_id, c.chunk_id) for c in answer.citations}
                given = {(d, c) for d, c, _ in call.passages}
                if not cited <= given:
                    call.error = f"citations {cited - given} are not among the given passages"
            except Exception:  # noqa: BLE001
                call.error = traceback.format_exc()
            call.t1 = time.monotonic()
            with lock:
                calls.append(call)

    readers = []
    if threads:
        readers = [threading.Thread(target=search, args=(f"thread{n}",))
                   for n in range(READER_THREADS)]
        if ask_available():
            readers.append(threading.Thread(target=question, args=("asker",)))
    started = time.monotonic()
    if reader_process is not None:
        assert reader_process.stdin is not None
        reader_process.stdin.write("go\n")
        reader_process.stdin.flush()
    for reader in readers:
        reader.start()
    writer_error = ""
    try:
        for _ in range(WRITER_OPS):
            writer.step()
    except Exception:  # noqa: BLE001
        writer_error = traceback.format_exc()
    finally:
        stop.set()
        stop_file.touch()
        for reader in readers:
            reader.join(120)
        if reader_process is not None:
            reader_process.wait(120)
    elapsed = time.monotonic() - started
    if reader_process is not None:
        assert reader_process.returncode == 0
        for line in out_file.read_text().splitlines():
            record = json.loads(line)
            calls.append(Call(record["who"], record["mode"], record["marker"], record["t0"],
                              record["t1"], [tuple(p) for p in record.get("passages", [])],
                              record.get("error", "")))
    errors = [f"{c.who} {c.mode} {c.marker}: {c.error}" for c in calls if c.error]
    if writer_error:
        errors.insert(0, f"writer: {writer_error}")
    unsound = [p for c in calls for p in soundness(c, writer.versions)]
    slowest = max((c.t1 - c.t0 for c in calls), default=0.0)
    by_who = {w: sum(c.who == w for c in calls) for w in sorted({c.who for c in calls})}
    written = {v.doc_id for v in writer.versions.values() if v.ingest[0] > started}
    fresh = [c for c in calls if any(d in written for d, _, _ in c.passages)]
    seen_new = len(fresh)
    summary = (
        f"concurrency, {label}: {len(calls)} calls {by_who} during {len(writer.log)} writes "
        f"in {elapsed:.0f}s; {len(errors)} errors, {len(unsound)} unsound results; "
        f"slowest call {slowest:.1f}s; {seen_new} calls saw a document written during the run"
    )
    REPORT.append(summary)
    assert seen_new > 0, "no reader ever saw a document written during the run"
    assert set(check_index(settings)) == set(writer.current.values())
    return Outcome(calls, writer, errors, unsound, summary, {c.mode for c in fresh})


def test_threads_search_and_ask_while_a_thread_writes(tmp_path: Path) -> None:
    """The web app's case: one process, readers and a writer in threads, embedded store."""
    outcome = run_concurrently(tmp_path, Settings.from_env(), threads=True, process=False,
                               label="embedded store, threads")
    assert not outcome.errors, outcome.errors[:3]
    assert not outcome.unsound, outcome.unsound[:10]


def test_threads_and_a_process_on_a_chroma_server(
    tmp_path: Path, chroma_server: tuple[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Several processes on one index: the Chroma server is the way (see SECURITY.md)."""
    host, port = chroma_server
    monkeypatch.setenv("QA_CHROMA_HOST", host)
    monkeypatch.setenv("QA_CHROMA_PORT", str(port))
    monkeypatch.setenv("QA_COLLECTION", f"concurrency-{time.time_ns()}")
    outcome = run_concurrently(tmp_path, Settings.from_env(), threads=True, process=True,
                               label="Chroma server, threads and a process")
    assert not outcome.errors, outcome.errors[:3]
    assert not outcome.unsound, outcome.unsound[:10]
    assert any(c.who == "process" for c in outcome.calls)


def test_a_second_process_searches_the_embedded_store_while_one_writes(tmp_path: Path) -> None:
    """`qa search` in a terminal while the web app ingests: sound, fresh results, no errors.

    The embedded Chroma client of the reading process holds its own copy of the
    vector index; the reader must notice the other process's writes and reload,
    so its dense searches find documents written after it started.
    """
    outcome = run_concurrently(tmp_path, Settings.from_env(), threads=False, process=True,
                               label="embedded store, a second process")
    assert not outcome.errors, outcome.errors[:3]
    assert not outcome.unsound, outcome.unsound[:10]
    assert {"dense", "hybrid", "keyword"} <= outcome.fresh_modes, outcome.fresh_modes
