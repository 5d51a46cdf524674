"""Shared fixtures: every test gets its own data directory; the model loads once."""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parent.parent
# Built and assembled models (the ONNX embedder, the local GGUF) are cached here for
# every test, subprocess and session, instead of once per test's data directory.
MODEL_DIR = ROOT / "test-output" / "models"
os.environ["QA_MODEL_DIR"] = str(MODEL_DIR)
SEEDS = ROOT / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"
SEED_QUESTION = "Which countries attended the conference Moscow hosted in January?"
# QA_* variables that are the test run's own, not settings from the developer's shell.
KEPT_QA_VARS = frozenset({"QA_DATA_DIR", "QA_MODEL_DIR", "QA_CRASH_SEED",
                          "QA_README_SCREENSHOTS"})


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The cache of built and assembled models every test shares (see QA_MODEL_DIR)."""
    MODEL_DIR.mkdir(parents=True, exist_ok=True)
    return MODEL_DIR


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point QA_DATA_DIR at a fresh folder so no test touches a user's store."""
    folder = tmp_path / "qa_data"
    # Every QA_* setting of the developer's shell is dropped, so a test sees qa's
    # defaults; a test that wants one sets it itself.
    for var in [v for v in os.environ if v.startswith("QA_") and v not in KEPT_QA_VARS]:
        monkeypatch.delenv(var)
    monkeypatch.setenv("QA_DATA_DIR", str(folder))
    monkeypatch.setenv("QA_MODEL_DIR", str(model_dir))
    return folder


@pytest.fixture(scope="session")
def embedder(model_dir: Path):  # type: ignore[no-untyped-def]
    """The real default embedding model, loaded once per test session."""
    from qa.config import Settings
    from qa.embedding import get_embedder

    return get_embedder(Settings(model_dir=model_dir))


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of seeds/ that a test may edit."""
    folder = tmp_path / "docs"
    shutil.copytree(SEEDS, folder)
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Terminate ``proc``, and kill it if it has not exited within ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with code {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A real `chroma run` server on loopback, for the server-mode tests."""
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        pytest.fail(f"{chroma} not found; install chromadb into this environment")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    log = open(path / "server.log", "w")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [str(chroma), "run", "--path", str(path / "db"), "--host", "127.0.0.1", "--port",
         str(port)],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port, 60, proc)
        yield "127.0.0.1", port
    finally:
        stop_process(proc, 10)
        log.close()


SERVER_MODULES = ["llama_cpp", "fastapi", "uvicorn", "sse_starlette", "starlette_context",
                  "pydantic_settings"]


@pytest.fixture(scope="session")
def openai_server(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server on loopback, one for the whole run,
    serving the local answer model (Qwen2.5-Coder-1.5B) as ``qwen``; yields its base URL.

    The same model as the ``local`` backend, so a test through ``openai:qwen`` can
    hold the answer to the facts the seeds state.
    """
    import importlib.util
    import urllib.request

    missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"the OpenAI-compatible server needs {', '.join(missing)}")
    from qa.config import Settings
    from qa.llm import ensure_local_model

    model = ensure_local_model(Settings(model_dir=model_dir))
    port = free_port()
    log_path = tmp_path_factory.mktemp("openai-server") / "server.log"
    log_file = log_path.open("wb")
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias",
           "qwen", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096",
           "--n_threads", "2"]
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}  # see qa.llm.llama_chat.load_llama
    proc = subprocess.Popen(cmd, stdout=log_file, stderr=subprocess.STDOUT, env=env)
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"server exited with {proc.returncode}; see {log_path}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server not ready after 180 s; see {log_path}")
            time.sleep(0.5)
        yield base
    finally:
        stop_process(proc, 15)
        log_file.close()
