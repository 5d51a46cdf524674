"""The web app's start: the chat input from the first paint, the answer model in the background.

The app tests drive app.py with Streamlit's AppTest on the real embedding model
and a real index; the local-model test loads the real GGUF.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from qa.llm.factory import local_available
from qa.llm.llama_chat import BackgroundLoad

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
SEED_QUESTION = "Which countries took part in the conference Moscow hosted in January?"


# --- BackgroundLoad (real threads) --------------------------------------------------------


def test_a_background_load_reports_loading_then_ready() -> None:
    gate = threading.Event()
    job = BackgroundLoad(gate.wait, name="test")
    assert job.state == "loading" and job.seconds is None
    assert not job.wait(0.05)
    gate.set()
    assert job.wait(5)
    assert job.state == "ready" and job.error is None and job.seconds is not None


def test_a_failed_background_load_keeps_its_error() -> None:
    def broken() -> None:
        raise OSError("weights missing")

    job = BackgroundLoad(broken, name="test")
    assert job.wait(5)
    assert job.state == "failed"
    assert isinstance(job.error, OSError) and "weights missing" in str(job.error)


# --- the page -------------------------------------------------------------------------------


def captions(at: AppTest) -> list[str]:
    return [c.value.replace("\\", "") for c in at.sidebar.caption]


@pytest.mark.slow
def test_the_chat_input_is_disabled_with_a_reason_until_the_index_opens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data directory should be")
    monkeypatch.setenv("QA_DATA_DIR", str(blocker))
    monkeypatch.setenv("QA_LLM", "extractive")
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.error  # the store cannot open: said on the page
    [box] = at.chat_input
    assert box.proto.disabled and "Preparing the documents" in box.proto.placeholder


@pytest.mark.slow
def test_the_chat_input_is_enabled_once_the_seeds_are_indexed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_LLM", "extractive")
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    [box] = at.chat_input
    assert not box.proto.disabled
    assert not any("Loading the answer model" in c for c in captions(at))  # no model to load
    box.set_value(SEED_QUESTION).run()
    assert "Pakistan" in at.chat_message[1].markdown[0].value


needs_local = pytest.mark.skipif(not local_available(), reason="extra 'local' not installed")


@pytest.mark.slow
@pytest.mark.llm
@needs_local
def test_the_local_model_loads_in_the_background_and_says_when_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_LLM", "local")
    at = AppTest.from_file(str(APP), default_timeout=300)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = captions(at)
    assert any("Loading the answer model (local)" in c or "Answer model ready (local" in c
               for c in shown), shown
    assert not at.chat_input[0].proto.disabled  # usable while the model loads

    deadline = time.monotonic() + 300
    while not any("Answer model ready (local" in c for c in captions(at)):
        assert time.monotonic() < deadline, captions(at)
        time.sleep(1)
        at.run()
    at.chat_input[0].set_value(SEED_QUESTION).run()
    assert not at.exception, [e.value for e in at.exception]
    reply = at.chat_message[1]
    assert "local" in " ".join(c.value for c in reply.caption)
    assert "Pakistan" in " ".join(m.value for m in reply.markdown)


# --- scripts/run.sh, as a user starts the app -------------------------------------------------


@pytest.mark.slow
def test_run_sh_starts_the_app_and_sets_up_only_once(tmp_path: Path) -> None:
    """`scripts/run.sh` serves the page; a second start finds the setup done and skips it."""
    import os
    import subprocess
    import urllib.request

    from tests.conftest import free_port, stop_process

    env = {**os.environ, "QA_DATA_DIR": str(tmp_path / "qa_data"), "QA_LLM": "extractive"}
    for _ in range(2):
        port = free_port()
        log = tmp_path / f"run-{port}.log"
        with open(log, "wb") as out:
            proc = subprocess.Popen(
                ["scripts/run.sh", "--server.port", str(port), "--server.address", "127.0.0.1",
                 "--server.fileWatcherType", "none"],
                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while True:
                assert proc.poll() is None, log.read_text()
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health",
                                                timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        finally:
            stop_process(proc)
    # The second start printed only Streamlit's own lines: no pip, no model cache check.
    second = log.read_text()
    assert "ready:" not in second and "pip" not in second.lower(), second
    assert (ROOT / ".venv" / ".qa-setup-done").is_file()
