"""Failure paths forced for real: two writers at once, a Chroma server that is not there
or dies mid-ingest, a remote model that is slow or answers with an HTTP error, Ctrl-C
during ingest, a full disk.

Each test makes the failure happen to the real command (a ``qa`` subprocess, real
model, real Chroma, real files), then checks what a user sees (one line that says
what failed and what to do, the exit code), that a reader finds no half-written
document (:func:`tests.hostile.crash_driver.check_state`: registry, Chroma and the
keyword index agree, and searching finds only whole documents), and that running
the command again completes the work.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from tests.conftest import ROOT, SEEDS, free_port, wait_for_port
from tests.hostile.crash_driver import check_state
from tests.hostile.helpers import prose

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("shared_model")]

# Files of a corpus that takes several embedding batches (of 256 chunks) to ingest.
FILES = 64  # about 320 chunks: two batches
QUESTION = "Which countries took part in the conference Moscow hosted in January?"


# --- helpers -------------------------------------------------------------------


def write_corpus(folder: Path, n: int, tag: str, paragraphs: int = 8) -> dict[str, str]:
    """``n`` text files, each with a marker word of its own; returns {source: marker}."""
    folder.mkdir(parents=True)
    markers = {}
    for i in range(n):
        marker = f"{tag}marker{i:02d}"
        path = folder / f"{tag}{i:02d}.txt"
        path.write_text("\n\n".join([f"{tag.title()} document {i}."] + [
            f"{marker} " + prose(f"{tag}{i}p{p}", 4) for p in range(paragraphs)]))
        markers[str(path.resolve())] = marker
    return markers


def qa_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra}


def run_qa(*args: str, env: dict[str, str] | None = None,
           timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=ROOT, env=env or qa_env(),
                          capture_output=True, text=True, timeout=timeout)


def start_qa(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """``qa ARGS`` in a session of its own (a Ctrl-C reaches its whole group)."""
    # Ctrl-C acts as in a terminal even when this run was started in the background,
    # where SIGINT is ignored and the child would inherit that.
    return subprocess.Popen([sys.executable, "-m", "qa", *args], cwd=ROOT,
                            env=env or qa_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def error_line(stderr: str) -> str:
    """The one ``qa: error:`` line of a failed command; no traceback, nothing else."""
    assert "Traceback" not in stderr, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("qa: error: "), stderr
    return lines[0]


def ready_count(data_dir: Path) -> int:
    """Documents marked ready, read the way a second process would (read-only)."""
    path = data_dir / "registry.sqlite3"
    if not path.exists():
        return 0
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)
        try:
            return int(db.execute(
                "SELECT COUNT(*) FROM documents WHERE status = 'ready'").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


def wait_until_ready(data_dir: Path, n: int, proc: subprocess.Popen[str],
                     timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while ready_count(data_dir) < n:
        assert proc.poll() is None, f"the ingest ended first: {proc.communicate()}"
        assert time.monotonic() < deadline, "no document became ready in time"
        time.sleep(0.05)


def consistent(settings: Settings, markers: dict[str, str], strict: bool) -> dict[str, Any]:
    """:func:`check_state` as a process that opens the index now would see it."""
    from qa.doctor import _close_open_stores

    _close_open_stores(settings)  # indexes this process opened before are not reloaded
    # Every document is checked in every store; the searches, for a sample of the files.
    sample = dict(sorted(markers.items())[::8])
    state = check_state(settings, sample, strict=strict)
    assert not state["problems"], state["problems"]
    return state


# --- two writers ---------------------------------------------------------------


def test_two_writer_processes_at_once_both_finish_and_agree(
    tmp_path: Path, data_dir: Path
) -> None:
    markers = write_corpus(tmp_path / "a", 6, "alpha")
    markers |= write_corpus(tmp_path / "b", 6, "beta")
    both = tmp_path / "both.txt"  # given to both writers: must be indexed once
    both.write_text("bothmarker " + prose("both", 8))
    markers[str(both.resolve())] = "bothmarker"
    writers = [start_qa("ingest", str(tmp_path / name), str(both), "--no-progress")
               for name in ("a", "b")]
    outputs = [w.communicate(timeout=600) for w in writers]
    for writer, (_out, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err
    state = consistent(Settings.from_env(), markers, strict=True)
    assert state["ready"] == 13 and state["searchable"] == 2 and state["orphans"] == 0
    summaries = " ".join(out for out, _ in outputs)
    assert "1 unchanged" in summaries or "1 duplicate" in summaries, summaries


# --- a Chroma server that is not there, or dies ---------------------------------


class ChromaServer:
    """A `chroma run` process on loopback that a test may kill and start again."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        chroma = Path(sys.executable).parent / "chroma"
        log = open(self.path / "server.log", "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(
            [str(chroma), "run", "--path", str(self.path / "db"), "--host", "127.0.0.1",
             "--port", str(self.port)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_for_port(self.port, 60, self.proc)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def env(self) -> dict[str, str]:
        return {"QA_CHROMA_HOST": "127.0.0.1", "QA_CHROMA_PORT": str(self.port)}


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    folder = tmp_path / "chroma-server"
    folder.mkdir()
    server = ChromaServer(folder)
    yield server
    if server.proc is not None and server.proc.poll() is None:
        server.kill()


@pytest.mark.server
@pytest.mark.parametrize("command", [["ingest", str(SEEDS), "--no-progress"],
                                     ["search", QUESTION]])
def test_chroma_server_unreachable_at_start_is_one_clear_line(
    command: list[str], data_dir: Path
) -> None:
    port = free_port()  # nothing listens there
    done = run_qa(*command, env=qa_env(QA_CHROMA_HOST="127.0.0.1", QA_CHROMA_PORT=str(port)))
    assert done.returncode == 2, done.stderr
    line = error_line(done.stderr)
    assert "QA_CHROMA_HOST=127.0.0.1" in line and f"QA_CHROMA_PORT={port}" in line
    assert "chroma run" in line
    assert ready_count(data_dir) == 0


@pytest.mark.server
def test_chroma_server_dying_mid_ingest_then_rerun_completes(
    chroma: ChromaServer, tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Several embedding batches: when the first documents are ready, more are to come.
    markers = write_corpus(tmp_path / "corpus", FILES, "served", paragraphs=10)
    chroma.start()
    env = qa_env(**chroma.env())
    proc = start_qa("ingest", str(tmp_path / "corpus"), "--no-progress", env=env)
    wait_until_ready(data_dir, 2, proc)
    chroma.kill()
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    line = error_line(err)
    assert "lost the Chroma server" in line and "QA_CHROMA_HOST" in line
    assert "run the command again" in line
    done_before = ready_count(data_dir)
    assert 2 <= done_before < FILES

    chroma.start()  # same port, same folder: the vectors written so far are there
    for name, value in chroma.env().items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()
    state = consistent(settings, markers, strict=False)  # a reader, before any writer
    assert state["ready"] == done_before
    again = run_qa("ingest", str(tmp_path / "corpus"), "--no-progress", env=env)
    assert again.returncode == 0, again.stderr
    state = consistent(settings, markers, strict=True)
    assert state["ready"] == FILES and state["searchable"] == FILES // 8


# --- a remote model that is slow or fails ----------------------------------------


class StubModel(BaseHTTPRequestHandler):
    """An OpenAI-compatible /chat/completions that misbehaves by the model's name:
    ``stub-slow`` answers after 30 s, ``stub-500`` and ``stub-401`` with that status."""

    calls: list[str] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        model = str(body.get("model"))
        StubModel.calls.append(model)
        if model == "stub-slow":
            time.sleep(30)
            status, error = 200, {}
        elif model == "stub-401":
            status, error = 401, {"message": "Incorrect API key provided", "type": "auth",
                                  "code": "invalid_api_key"}
        else:
            status, error = 500, {"message": "The server had an error", "type": "server_error",
                                  "code": None}
        try:
            data = json.dumps({"error": error}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up waiting

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def stub_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), StubModel)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory with seeds/ indexed (real model, embedded Chroma)."""
    from qa import ingest

    folder = tmp_path_factory.mktemp("seeded") / "qa_data"
    assert not ingest([SEEDS], settings=Settings.from_env(data_dir=folder)).failed
    return folder


SECRET = "sk-test-secret-0123456789"
REMOTE_FAILURES = [
    ("stub-slow", "did not answer within 1 s"),
    ("stub-500", "failed with HTTP 500"),
    ("stub-401", "refused the request (HTTP 401): check the API key"),
]


@pytest.mark.parametrize(("model", "says"), REMOTE_FAILURES)
def test_remote_model_failure_is_one_clear_line_in_the_cli(
    model: str, says: str, stub_url: str, seeded: Path
) -> None:
    before = StubModel.calls.count(model)
    done = run_qa("ask", QUESTION, "--llm", f"openai:{model}", env=qa_env(
        QA_DATA_DIR=str(seeded), OPENAI_BASE_URL=stub_url, OPENAI_API_KEY=SECRET,
        QA_LLM_TIMEOUT="1"), timeout=300)
    assert done.returncode == 2, (done.stdout, done.stderr)
    line = error_line(done.stderr)
    assert says in line
    assert model in line and stub_url.removesuffix("/v1") in line
    assert "--llm extractive" in line  # what to do instead
    assert SECRET not in done.stdout + done.stderr
    assert StubModel.calls.count(model) > before  # the request really went out


@pytest.mark.parametrize(("model", "says"), REMOTE_FAILURES)
def test_remote_model_failure_is_a_message_in_the_web_app(
    model: str, says: str, stub_url: str, seeded: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("QA_DATA_DIR", str(seeded))
    monkeypatch.setenv("QA_LLM", f"openai:{model}")
    monkeypatch.setenv("QA_LLM_TIMEOUT", "1")
    monkeypatch.setenv("OPENAI_BASE_URL", stub_url)
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    app.run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.sidebar.selectbox(key="backend").value == f"openai:{model}"
    app.chat_input[0].set_value(QUESTION).run()
    assert not app.exception, [e.value for e in app.exception]
    shown = [e.value.replace("\\", "") for e in app.error]
    assert any(says in e and "failed unexpectedly" not in e for e in shown), shown
    assert not any(SECRET in e for e in shown)
    app.chat_input[0].set_value(QUESTION).run()  # the page still works
    assert not app.exception and len(app.error) == 2


# --- Ctrl-C ----------------------------------------------------------------------


def test_ctrl_c_during_ingest_exits_130_and_a_rerun_completes(
    tmp_path: Path, data_dir: Path
) -> None:
    # About 1,500 chunks: several embedding batches are still to come when the first
    # document is ready, so the Ctrl-C lands mid-ingest even on a fast, idle machine.
    markers = write_corpus(tmp_path / "corpus", FILES, "intr", paragraphs=40)
    proc = start_qa("ingest", str(tmp_path / "corpus"), "--no-progress")
    wait_until_ready(data_dir, 1, proc)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err, err
    settings = Settings.from_env()
    state = consistent(settings, markers, strict=False)  # a reader, before any writer
    assert 1 <= state["ready"] < FILES
    again = run_qa("ingest", str(tmp_path / "corpus"), "--no-progress")
    assert again.returncode == 0, again.stderr
    state = consistent(settings, markers, strict=True)
    assert state["ready"] == FILES and state["searchable"] == FILES // 8


# --- a full disk -------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MB tmpfs, mounted for this test (needs root and a mount namespace that allows it)."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(folder)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the full-disk "
                    "test needs root and mount rights")
    try:
        yield folder
    finally:
        from qa.doctor import _close_open_stores

        _close_open_stores(Settings.from_env(data_dir=folder / "qa_data"))
        if subprocess.run(["umount", str(folder)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], check=True)


def fill(folder: Path, leave: int) -> Path:
    """Fill the file system of ``folder`` up to ``leave`` free bytes."""
    stats = os.statvfs(folder)
    free = stats.f_bavail * stats.f_frsize
    filler = folder / "filler.bin"
    with open(filler, "wb") as handle:
        handle.truncate(0)
        remaining = max(0, free - leave)
        block = b"\0" * (1 << 20)
        while remaining > 0:
            handle.write(block[: min(len(block), remaining)])
            remaining -= len(block)
    return filler


def test_full_disk_during_ingest_is_clear_and_leaves_nothing_half_written(
    small_disk: Path, tmp_path: Path, seeds_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = small_disk / "qa_data"
    monkeypatch.setenv("QA_DATA_DIR", str(data))
    env = qa_env()
    first = run_qa("ingest", str(seeds_copy), "--no-progress", env=env)
    assert first.returncode == 0, first.stderr  # the stores exist, with room to spare
    markers = write_corpus(tmp_path / "corpus", 30, "disk", paragraphs=12)
    filler = fill(small_disk, leave=400_000)
    done = run_qa("ingest", str(tmp_path / "corpus"), "--no-progress", env=env)
    assert done.returncode == 2, (done.stdout, done.stderr)
    line = error_line(done.stderr)
    assert "is full" in line and "free some space" in line, line
    assert str(data) in line
    assert ready_count(data) < 31  # it stopped before the end

    filler.unlink()  # room again; a reader first, before any writer recovers anything
    settings = Settings.from_env()
    state = consistent(settings, markers, strict=False)
    assert state["ready"] >= 1
    again = run_qa("ingest", str(tmp_path / "corpus"), "--no-progress", env=env)
    assert again.returncode == 0, again.stderr
    state = consistent(settings, markers, strict=True)
    assert state["ready"] == 31  # and the seed document
    assert state["searchable"] == 4
