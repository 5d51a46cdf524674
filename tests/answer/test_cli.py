"""`qa ask` and `qa chat` as a user runs them."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qa.cli import main

from .conftest import FEBRUARY, JANUARY, KABUL

pytestmark = pytest.mark.slow


def test_ask_json(seed_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", JANUARY, "--json", "--llm", "extractive"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert not data["refused"] and "Pakistan and China" in data["answer"]
    c = data["citations"][0]
    assert c["n"] == 1 and "Pakistan and China" in c["text"]
    assert c["quote"] in c["text"] and c["quote_start"] < c["quote_end"]


def test_ask_streams_text_then_sources(seed_data_dir: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", JANUARY, "-k", "3"]) == 0
    out = capsys.readouterr().out
    answer, sources = out.split("\nSources:\n")
    assert "Pakistan and China" in answer and "[1]" in answer
    assert sources.lstrip().startswith("[1] ") and "characters " in sources


def test_ask_refuses_with_closest_passages(seed_data_dir: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", KABUL]) == 0
    out = capsys.readouterr().out
    assert out.startswith("The documents do not say.") and "Closest passages:" in out


def test_chat_reads_a_pipe_and_keeps_history(seed_data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{JANUARY}\n\n{FEBRUARY}\nexit\n{KABUL}\n"))
    assert main(["chat"]) == 0
    out = capsys.readouterr().out
    first, second = out.split(f"> {FEBRUARY}\n")
    assert "Pakistan and China" in first
    assert "India and Iran" in second and "(searched for: " in second
    assert KABUL not in out  # "exit" ended the chat


def test_chat_in_a_real_pipe(seed_data_dir: Path) -> None:
    env = {**os.environ, "QA_DATA_DIR": str(seed_data_dir)}
    done = subprocess.run([sys.executable, "-m", "qa", "chat"], input=f"{JANUARY}\n{FEBRUARY}\n",
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Sources:") == 2 and "India and Iran" in done.stdout


def test_ask_unknown_backend_is_one_line(seed_data_dir: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", JANUARY, "--llm", "gpt4"]) == 2
    assert "QA_LLM='gpt4'" in capsys.readouterr().err
