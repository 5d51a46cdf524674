"""qa.ingestion.parsing: the parse worker, its limits and its failure paths, for real.

The worker is the real ``python -m qa.ingestion.parse_worker``; the files are real. A parse
that runs past QA_PARSE_TIMEOUT, a worker killed mid-parse, a parse over
QA_PARSE_MEMORY_MB: each must cost one file, with one line in ``qa ingest``'s
output, while the other files of the batch are ingested. A worker that cannot
start at all must say so, and blame no file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from qa.config import Settings
from qa.errors import LoaderError, ParseWorkerError
from qa.ingestion.parsing import Limits, load_isolated
from qa.types import LoadedDocument
from tests.hostile import helpers as h


def limits(**changes: Any) -> Limits:
    """The default settings' limits, with ``changes``."""
    return replace(Limits.of(Settings()), **changes)


TIMEOUT = 600  # for one qa command; a hang fails the test


def slow_pdf(operators: int = 50_000) -> bytes:
    """A valid one-page PDF whose text takes pypdf seconds to extract (one Tj per line)."""
    body = b"BT /F1 12 Tf 20 100 Td " + b"(slow) Tj 0 -1 Td " * operators + b"ET"
    return h.raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        h.page_obj(2, 4, 5),
        h.stream(body, compress=True),
        h.FONT,
    ])


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


@pytest.fixture
def goods(tmp_path: Path) -> tuple[Path, Path]:
    return (write(tmp_path / "first.txt", h.prose("parsefirst", 4)),
            write(tmp_path / "last.md", "# Last\n\n" + h.prose("parselast", 4)))


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` and that run the parse worker."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid and b"qa.ingestion.parse_worker" in cmdline:
            found.append(int(entry.name))
    return found


def qa_command(args: list[str], data_dir: Path, **env: str) -> subprocess.Popen[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    full.update(QA_DATA_DIR=str(data_dir), QA_MODEL_DIR=os.environ["QA_MODEL_DIR"], **env)
    return subprocess.Popen(
        [sys.executable, "-m", "qa", *args], env=full, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )


def finish(proc: subprocess.Popen[str]) -> tuple[int, str, list[str]]:
    out, err = proc.communicate(timeout=TIMEOUT)
    return proc.returncode, out, [line for line in err.splitlines() if line.strip()]


def check_one_failure(code: int, out: str, err: list[str], name: str, *words: str) -> None:
    """Exactly one line on stderr, about ``name``; the two good files were added."""
    assert code == 1, (code, out, err)
    assert len(err) == 1, err
    line = err[0]
    assert line.startswith("failed: ") and name in line, line
    assert "Traceback" not in line and len(line) < 500, line
    for word in words:
        assert word in line, (word, line)
    assert "3 files: 2 added, 1 failed" in out, out


# --- the worker as a library function -----------------------------------------------


def test_results_come_back_in_order_with_each_failure_in_its_place(
    tmp_path: Path, goods: tuple[Path, Path]
) -> None:
    first, last = goods
    empty = write(tmp_path / "empty.txt", b"")
    binary = write(tmp_path / "noise.txt", bytes(range(256)) * 64)
    paths = [first, tmp_path / "missing.txt", empty, binary, last]
    results = list(load_isolated(paths, limits()))
    assert [p for p, _ in results] == paths
    kinds = [type(r).__name__ if isinstance(r, LoadedDocument) else str(r) for _, r in results]
    assert kinds[0] == kinds[4] == "LoadedDocument"
    assert "does not exist" in kinds[1] and "empty" in kinds[2] and "binary" in kinds[3]
    assert "parsefirst" in results[0][1].text  # type: ignore[union-attr]


def test_no_files_starts_no_worker() -> None:
    assert list(load_isolated([], limits(memory_bytes=1))) == []


def test_a_killed_worker_costs_the_file_it_was_parsing(
    tmp_path: Path, goods: tuple[Path, Path]
) -> None:
    first, last = goods
    slow = write(tmp_path / "slow.pdf", slow_pdf())
    results = load_isolated([first, slow, last], limits())
    path, doc = next(results)
    assert path == first and isinstance(doc, LoadedDocument)
    # The worker got slow.pdf with first.txt (lookahead) and is parsing it now.
    (worker,) = children(os.getpid())
    time.sleep(0.5)
    os.kill(worker, signal.SIGKILL)
    path, error = next(results)
    assert path == slow and isinstance(error, LoaderError)
    assert "the parser crashed on it (killed by SIGKILL)" in str(error)
    path, doc = next(results)  # a new worker parses the rest
    assert path == last and isinstance(doc, LoadedDocument)
    assert children(os.getpid()) and next(results, None) is None
    assert not children(os.getpid())  # stopped when the files ran out


def test_a_parse_over_the_time_limit_fails_alone(
    tmp_path: Path, goods: tuple[Path, Path]
) -> None:
    first, last = goods
    slow = write(tmp_path / "slow.pdf", slow_pdf())
    results = dict(load_isolated([first, slow, last], limits(seconds=1)))
    assert isinstance(results[first], LoadedDocument)
    assert isinstance(results[last], LoadedDocument)
    assert "parsing took longer than the limit of 1s" in str(results[slow])


def test_a_worker_that_cannot_start_blames_no_file(
    tmp_path: Path, goods: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", str(tmp_path / "no-python"))
    with pytest.raises(ParseWorkerError, match="cannot start its parse worker") as caught:
        list(load_isolated(list(goods), limits()))
    assert "first.txt" not in str(caught.value) and "no-python" in str(caught.value)


def test_a_worker_without_room_to_start_says_why(goods: tuple[Path, Path]) -> None:
    with pytest.raises(ParseWorkerError) as caught:
        list(load_isolated(list(goods), limits(memory_bytes=16 * 2**20)))
    message = str(caught.value)
    assert "could not start its parse worker" in message and "QA_PARSE_MEMORY_MB" in message
    assert "exited with code" in message and "first.txt" not in message
    assert "\n" not in message


def test_other_libraries_warnings_go_to_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    broken = write(tmp_path / "broken.pdf", b"%PDF-1.4\nnot really a pdf")
    with caplog.at_level(logging.INFO, logger="qa.ingestion.parsing"):
        ((_, error),) = list(load_isolated([broken], limits()))
    assert isinstance(error, LoaderError) and "not a readable PDF" in str(error)
    logged = [r.getMessage() for r in caplog.records if r.name == "qa.ingestion.parsing"]
    assert any("EOF marker not found" in m and "pypdf" in m for m in logged), logged
    assert all(r.levelno <= logging.INFO for r in caplog.records if r.name == "qa.ingestion.parsing")
    out, err = capfd.readouterr()
    assert "EOF marker" not in out + err


# --- the same paths through `qa ingest` ------------------------------------------


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "qa_data"


@pytest.mark.slow
def test_qa_ingest_of_a_broken_pdf_prints_only_its_own_line(
    tmp_path: Path, data: Path
) -> None:
    broken = write(tmp_path / "broken.pdf", b"%PDF-1.4\nnot really a pdf")
    notpdf = write(tmp_path / "header.pdf", b"hello, not a pdf at all")
    code, out, err = finish(qa_command(["ingest", str(broken), str(notpdf)], data))
    assert code == 1 and "2 files: 2 failed" in out, (out, err)
    assert len(err) == 2 and all(line.startswith("failed: ") for line in err), err
    assert not any("EOF marker" in line or "invalid pdf header" in line for line in err), err


@pytest.mark.slow
def test_qa_ingest_with_a_parse_over_the_time_limit(
    tmp_path: Path, goods: tuple[Path, Path], data: Path
) -> None:
    slow = write(tmp_path / "slow.pdf", slow_pdf())
    proc = qa_command(["ingest", str(goods[0]), str(slow), str(goods[1])], data,
                      QA_PARSE_TIMEOUT="1")
    check_one_failure(*finish(proc), "slow.pdf", "longer than the limit of 1s",
                      "QA_PARSE_TIMEOUT")


@pytest.mark.slow
def test_qa_ingest_with_a_worker_killed_mid_parse(
    tmp_path: Path, goods: tuple[Path, Path], data: Path
) -> None:
    slow = write(tmp_path / "slow.pdf", slow_pdf(200_000))
    proc = qa_command(["ingest", str(slow), str(goods[0]), str(goods[1])], data)
    worker = wait_until_parsing(proc)
    os.kill(worker, signal.SIGKILL)
    check_one_failure(*finish(proc), "slow.pdf", "crashed", "SIGKILL")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_parsing(proc: subprocess.Popen[str]) -> int:
    """The pid of ``proc``'s parse worker once it is well into its first file.

    A worker started here shows how much CPU time starting takes; once ``proc``'s
    worker has used a second more, it is parsing the first file (a PDF that keeps
    it busy far longer). CPU time, unlike a delay, does not depend on the machine's load.
    """
    from qa.ingestion.parsing import _Worker

    probe = _Worker(limits())
    started = cpu_seconds(probe.proc.pid)
    probe.stop()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        for pid in children(proc.pid):
            with contextlib.suppress(OSError):
                if cpu_seconds(pid) > started + 1.0:
                    return pid
        time.sleep(0.05)
    raise AssertionError("the parse worker never got to the file")


@pytest.mark.slow
def test_qa_ingest_with_a_parse_over_the_memory_limit(
    tmp_path: Path, goods: tuple[Path, Path], data: Path
) -> None:
    big = tmp_path / "big.txt"
    block = ((h.prose("parsebig", 8) + "\n") * 1000).encode()[: 2**20]
    with open(big, "wb") as out:
        for _ in range(80):
            out.write(block)
    proc = qa_command(["ingest", str(goods[0]), str(big), str(goods[1])], data,
                      QA_PARSE_MEMORY_MB="200")
    check_one_failure(*finish(proc), "big.txt", "QA_PARSE_MEMORY_MB", "200 MB")


@pytest.mark.slow
def test_qa_ingest_when_the_worker_cannot_start(goods: tuple[Path, Path], data: Path) -> None:
    proc = qa_command(["ingest", *map(str, goods)], data, QA_PARSE_MEMORY_MB="16")
    code, out, err = finish(proc)
    assert code == 2 and len(err) == 1, (code, out, err)
    assert err[0].startswith("qa: error: qa could not start its parse worker"), err
    assert "first.txt" not in err[0] and "last.md" not in err[0]
