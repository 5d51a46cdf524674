"""kill -9 at random points of ingest and remove; every restart finds a consistent index.

A fork server (``crash_driver``) keeps the imports warm, so a round costs about a
second plus the work: the child loads the model, checks the index the last
killed child left (before writing anything), then ingests a changed corpus or
removes documents, and is killed with SIGKILL (its whole process group, parse
worker included) at a random moment: most rounds after its ``begin`` event,
uniformly over the time such work takes, some during startup (model load, store
open, the check). Two more rounds kill the real ``qa ingest`` and ``qa remove``
commands at a random delay from process start. A final run completes the work;
then every file must be indexed in its latest version and nothing else.
"""

from __future__ import annotations

import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from tests.conftest import ROOT
from tests.hostile.conftest import REPORT
from tests.hostile.helpers import prose

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("shared_model")]

FILES = 12
KILLS = 22  # rounds that end in a kill (at least 20 are required)
REMOVE_EVERY = 4  # every 4th round removes documents instead of ingesting
# Where a kill is aimed: during startup (model load, store open, the check), anywhere
# in the job, or just after the vectors are computed (Chroma writes and commits,
# which are short and would rarely be hit by a uniform delay).
AIMS = (("startup", 0.15), ("job", 0.55), ("commits", 0.30))
MAX_ROUNDS = 40


class ForkServer:
    """The ``crash_driver`` process: forks a fresh child per job."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.hostile.crash_driver"], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        assert json.loads(self._line(180)) == {"ready": True}

    def _line(self, timeout: float) -> str:
        stdout = self.proc.stdout
        assert stdout is not None
        result: list[str] = []
        reader = threading.Thread(target=lambda: result.append(stdout.readline()))
        reader.start()
        reader.join(timeout)
        assert result and result[0], "the fork server did not answer"
        return result[0]

    def ask(self, command: dict[str, Any], timeout: float = 120) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        answer: dict[str, Any] = json.loads(self._line(timeout))
        return answer

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def fork_server(data_dir: Path) -> Iterator[ForkServer]:
    server = ForkServer(dict(os.environ))
    yield server
    server.close()


@dataclass
class Round:
    number: int
    kind: str  # "ingest" | "remove" | "cli-ingest" | "cli-remove"
    killed: bool = False
    phase: str = ""  # where the kill landed
    events: list[dict[str, Any]] = field(default_factory=list)


class Corpus:
    """Text files, each with a marker word of its own, rewritten between rounds."""

    def __init__(self, folder: Path, rng: random.Random) -> None:
        self.folder = folder
        self.rng = rng
        self.versions = dict.fromkeys(range(FILES), 0)
        folder.mkdir()
        for i in range(FILES):
            self.write(i)

    def path(self, i: int) -> Path:
        return self.folder / f"doc{i:02d}.txt"

    @staticmethod
    def marker(i: int) -> str:
        return f"crashmarker{i:02d}"

    @property
    def markers(self) -> dict[str, str]:
        return {str(self.path(i).resolve()): self.marker(i) for i in range(FILES)}

    def write(self, i: int) -> None:
        version = self.versions[i]
        paragraphs = [f"Document {i}, version {version}."] + [
            f"{self.marker(i)} " + prose(f"v{version}d{i}p{p}", 3) for p in range(6)
        ]
        self.path(i).write_text("\n\n".join(paragraphs))

    def change(self, n: int) -> None:
        for i in self.rng.sample(range(FILES), n):
            self.versions[i] += 1
            self.write(i)

    def pick(self, n: int) -> list[str]:
        return [str(self.path(i).resolve()) for i in self.rng.sample(range(FILES), n)]


def start_command(
    args: list[str], env: dict[str, str]
) -> tuple[subprocess.Popen[str], threading.Event, threading.Thread]:
    """``qa ARGS -v`` in a session of its own; the event is set once its model is loaded."""
    proc = subprocess.Popen([sys.executable, "-m", "qa", *args, "-v"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    loaded = threading.Event()

    def watch(stream: IO[str]) -> None:
        for line in stream:
            if "loaded embedding model" in line:
                loaded.set()

    watcher = threading.Thread(target=watch, args=(proc.stderr,), daemon=True)
    watcher.start()
    return proc, loaded, watcher


def ready_source(data_dir: Path, rng: random.Random) -> str:
    """A source that is indexed now (read from the registry, with no writer running)."""
    import sqlite3

    db = sqlite3.connect(f"file:{data_dir / 'registry.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT source FROM documents WHERE status = 'ready'").fetchall()
    finally:
        db.close()
    return str(rng.choice(sorted(rows))[0])


def read_events(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    lines = path.read_text().splitlines()
    return [json.loads(line) for line in lines if line.endswith("}")]


def wait_for(path: Path, event: str, timeout: float) -> dict[str, Any] | None:
    """Poll the events file until ``event`` (or "done"/"error") appears."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in read_events(path):
            if item["event"] in (event, "done", "error"):
                return item
        time.sleep(0.01)
    return None


def phase_of(events: list[dict[str, Any]]) -> str:
    """Where a killed child was, from its last events."""
    names = [e["event"] for e in events]
    if "begin" not in names:
        return "model load" if "model" not in names else "check (reading)"
    last = names[-1]
    if last in ("embed",):
        return "embedding"
    if last == "embedded":
        return "writing vectors, committing"
    if last == "file":
        return "between commits"
    if last in ("removing",):
        return "removing"
    if last in ("removed", "absent"):
        return "between removals"
    if last == "begin":
        return "recovery, parsing, chunking"
    return last


def check_of(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((e for e in events if e["event"] in ("check", "final")), None)


def test_kill_9_at_random_points_never_leaves_a_partial_document(
    fork_server: ForkServer, tmp_path: Path, data_dir: Path
) -> None:
    rng = random.Random(int(os.environ.get("QA_CRASH_SEED", "20260525")))
    corpus = Corpus(tmp_path / "corpus", rng)
    started = time.monotonic()
    rounds: list[Round] = []
    errors: list[str] = []
    checks: list[tuple[int, dict[str, Any]]] = []  # (round whose state it checked, check)
    work = {"ingest": [2.0], "remove": [0.3]}  # seconds from "begin" to "done", measured
    commits = [0.3]  # seconds from the last "embedded" to "done", measured
    startup: list[float] = [1.5]

    def job(kind: str, number: int, **extra: Any) -> dict[str, Any]:
        return {
            "kind": kind, "data_dir": str(data_dir), "markers": corpus.markers,
            "paths": [str(corpus.folder)], "events": str(tmp_path / f"round{number:02d}.jsonl"),
            "log": str(tmp_path / f"round{number:02d}.log"), **extra,
        }

    def finish(child: Round, pid: int, events_file: Path) -> None:
        answer = fork_server.ask({"op": "reap", "pid": pid})
        child.events = read_events(events_file)
        child.killed = answer.get("signal") == signal.SIGKILL
        names = [e["event"] for e in child.events]
        if "error" in names:
            trace = child.events[names.index("error")]["traceback"]
            errors.append(f"round {child.number}: {trace}")
        elif not child.killed and answer.get("code") != 0:
            errors.append(f"round {child.number}: exited with {answer}")
        if check := check_of(child.events):
            checks.append((child.number - 1, check))
        if child.killed:
            child.phase = phase_of(child.events)
        times = {e["event"]: e["t"] for e in child.events}
        if "begin" in times:
            startup.append(times["begin"] - times["start"])
        if "done" in times and "begin" in times and child.kind in work:
            work[child.kind].append(times["done"] - times["begin"])
        if "done" in times and "embedded" in times:
            commits.append(times["done"] - times["embedded"])

    # Round 0 builds the index and is never killed.
    first = Round(0, "ingest")
    pid = fork_server.ask({"op": "fork", "job": job("ingest", 0)})["pid"]
    events_file = tmp_path / "round00.jsonl"
    assert wait_for(events_file, "done", 300), "the first ingest did not finish"
    finish(first, pid, events_file)
    rounds.append(first)

    number = 0
    while sum(r.killed for r in rounds) < KILLS and number < MAX_ROUNDS:
        number += 1
        kind = "remove" if number % REMOVE_EVERY == 0 else "ingest"
        if kind == "ingest":
            corpus.change(5)
            spec = job("ingest", number)
        else:
            spec = job("remove", number, remove=corpus.pick(4))
        current = Round(number, kind)
        events_file = Path(spec["events"])
        pid = fork_server.ask({"op": "fork", "job": spec})["pid"]
        aim = rng.choices([a for a, _ in AIMS], [w for _, w in AIMS])[0]
        if aim == "commits" and kind == "ingest":
            assert wait_for(events_file, "embedded", 120), f"round {number} never embedded"
            time.sleep(rng.uniform(0, 1.2 * statistics.median(commits)))
        elif aim == "startup":
            time.sleep(rng.uniform(0, statistics.median(startup)))
        else:
            assert wait_for(events_file, "begin", 120), f"round {number} never began"
            time.sleep(rng.uniform(0, 1.2 * statistics.median(work[kind])))
        os.killpg(pid, signal.SIGKILL)
        finish(current, pid, events_file)
        rounds.append(current)

    # The real commands, killed at a random delay from process start.
    env = {**os.environ, "QA_DATA_DIR": str(data_dir)}
    for kind in ("cli-ingest", "cli-remove"):
        number += 1
        if kind == "cli-ingest":
            corpus.change(3)
            args = ["ingest", str(corpus.folder), "--no-progress"]
        else:
            args = ["remove", ready_source(data_dir, rng)]
        current = Round(number, kind)
        proc, loaded, watcher = start_command(args, env)
        if kind == "cli-ingest":  # loading takes some 8 s: the kill may land before or after
            time.sleep(rng.uniform(1.0, 15.0))
        else:  # removal is quick: aim just after the model is loaded
            loaded.wait(120)
            time.sleep(rng.uniform(0, 1.0))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        watcher.join(5)
        current.killed = proc.returncode == -signal.SIGKILL
        current.phase = "model load" if not loaded.is_set() else "after model load"
        rounds.append(current)
        # A reader checks what the killed command left, before anything writes again.
        number += 1
        reader = Round(number, "check")
        spec = job("check", number)
        pid = fork_server.ask({"op": "fork", "job": spec})["pid"]
        assert wait_for(Path(spec["events"]), "done", 300), "the check did not finish"
        finish(reader, pid, Path(spec["events"]))
        rounds.append(reader)

    # A final, unkilled run finishes the work and checks strictly.
    number += 1
    final = Round(number, "ingest")
    spec = job("ingest", number, final=True)
    pid = fork_server.ask({"op": "fork", "job": spec})["pid"]
    assert wait_for(Path(spec["events"]), "done", 300), "the final ingest did not finish"
    finish(final, pid, Path(spec["events"]))
    rounds.append(final)
    final_check = next((e for e in final.events if e["event"] == "final"), None)

    killed = [r for r in rounds if r.killed]
    broken = [(n, c["problems"]) for n, c in checks if c["problems"]]
    survived = len(killed) - len({n for n, _ in broken if any(r.number == n for r in killed)})
    phases = Counter(r.phase for r in killed)
    REPORT.append(
        f"kill -9: {len(killed)} kills in {len(rounds)} rounds ({dict(phases)}); "
        f"{survived}/{len(killed)} survived with a consistent index; "
        f"{len(errors)} errors; {time.monotonic() - started:.0f}s"
    )
    assert not errors, errors
    assert not broken, broken
    assert len(killed) >= 20, f"only {len(killed)} rounds were killed"
    assert final_check is not None and not final_check["problems"], final_check
    assert final_check["ready"] == FILES and final_check["searchable"] == FILES, final_check
    assert final_check["other"] == 0 and final_check["orphans"] == 0, final_check
    # Every file is indexed in its latest version: its id is the hash of what is on disk.
    from qa.api import open_store
    from qa.config import Settings
    from qa.ingestion.sources import doc_id_for, file_hash

    store = open_store(Settings.from_env())
    on_disk = {str(corpus.path(i).resolve()): doc_id_for(file_hash(corpus.path(i)))
               for i in range(FILES)}
    indexed = {d.source: d.id for d in store.documents()}
    assert indexed == on_disk
