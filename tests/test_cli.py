"""The `qa` command as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli import main
from tests.conftest import SEED_QUESTION

pytestmark = pytest.mark.slow


def qa(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QA_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "qa", *args], env=env, capture_output=True,
                          text=True, timeout=600)


def test_seed_walkthrough(seeds_copy: Path, data_dir: Path) -> None:
    first = qa("ingest", str(seeds_copy), data_dir=data_dir)
    assert first.returncode == 0, first.stderr
    assert "1 added" in first.stdout
    found = qa("search", SEED_QUESTION, "--json", data_dir=data_dir)
    passages = json.loads(found.stdout)
    assert "Pakistan and China" in passages[0]["text"] and "<u>" not in passages[0]["text"]
    assert set(passages[0]) >= {"text", "score", "source", "title", "page", "section", "start",
                                "end", "chunk_id"}
    docs = json.loads(qa("docs", "--json", data_dir=data_dir).stdout)
    assert [set(d) for d in docs] == [{"id", "source", "title", "chunks"}]
    again = qa("ingest", str(seeds_copy), data_dir=data_dir)
    assert "0 chunks embedded" in again.stdout and "1 unchanged" in again.stdout
    assert json.loads(qa("docs", "--json", data_dir=data_dir).stdout) == docs
    removed = qa("remove", docs[0]["id"][:8], data_dir=data_dir)
    assert removed.returncode == 0 and "removed" in removed.stdout
    assert json.loads(qa("docs", "--json", data_dir=data_dir).stdout) == []


def test_failed_file_is_one_line_and_exit_code(seeds_copy: Path, data_dir: Path) -> None:
    (seeds_copy / "bad.docx").write_bytes(b"this is not a zip")
    done = qa("ingest", str(seeds_copy), "--no-progress", data_dir=data_dir)
    assert done.returncode == 1
    lines = [line for line in done.stderr.splitlines() if "bad.docx" in line]
    assert len(lines) == 1 and lines[0].startswith("failed:"), done.stderr
    assert "1 added" in done.stdout and "1 failed" in done.stdout


def test_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["search", "anything"]) == 2
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert last.startswith("qa: error:") and "qa ingest" in last and "Traceback" not in err
    assert main(["remove", "nothing-like-this"]) == 2


def test_collection_option(seeds_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ingest", str(seeds_copy), "--collection", "papers", "--no-progress"]) == 0
    capsys.readouterr()
    main(["docs", "--json", "--collection", "papers"])
    assert len(json.loads(capsys.readouterr().out)) == 1
    main(["docs", "--json"])
    assert json.loads(capsys.readouterr().out) == []
