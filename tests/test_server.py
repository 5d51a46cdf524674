"""`qa serve` for real: a server subprocess on loopback over an index of seeds/.

Plain HTTP (httpx) against every endpoint, the official ``openai`` client against
the OpenAI-compatible one, and the safety rules: the token, roots, size limits,
origins. The JSON must be what ``qa search --json``, ``qa docs --json`` and ``qa ask
--json`` print, and errors must carry the CLI's messages.
"""

from __future__ import annotations

import json
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from qa.cli import main
from tests.conftest import MODEL_DIR, SEED_QUESTION, SEEDS, free_port, stop_process

pytestmark = pytest.mark.slow

openai = pytest.importorskip("openai")

TOKEN = "test-token-" + "x" * 24
MAX_FILE_MB = 1


@dataclass
class Server:
    url: str
    data_dir: Path
    roots: Path
    outside: Path
    proc: subprocess.Popen
    log: Path

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=120, **kwargs)


def server_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("QA_") and k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL")}
    env.update({"QA_DATA_DIR": str(data_dir), "QA_MODEL_DIR": str(MODEL_DIR),
                "QA_LLM": "extractive", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "OMP_WAIT_POLICY": "PASSIVE", **extra})
    return env


def start_server(data_dir: Path, log: Path, *args: str, **env: str
                 ) -> tuple[subprocess.Popen, str]:
    port = free_port()
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qa", "serve", "--port", str(port), *args],
            env=server_env(data_dir, **env), stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    wait_until_serving(proc, url, log, 120)
    return proc, url


def wait_until_serving(proc: subprocess.Popen, url: str, log: Path, seconds: float) -> None:
    """Return once ``qa serve`` at ``url`` answers /healthz; fail if it exits or stalls."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"qa serve exited ({proc.returncode}); see {log}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"qa serve did not answer within {seconds:.0f} s; see {log}")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A real `qa serve` on a free loopback port, over a temp data dir with seeds/ ingested."""
    from qa.api import ingest
    from qa.config import Settings

    home = tmp_path_factory.mktemp("server")
    data_dir, roots, outside = home / "qa_data", home / "roots", home / "outside"
    roots.mkdir()
    outside.mkdir()
    report = ingest([SEEDS], settings=Settings.from_env(data_dir=data_dir))
    assert report.count("added") == 1 and not report.failed
    proc, url = start_server(data_dir, home / "server.log", QA_API_ROOTS=str(roots),
                             QA_MAX_FILE_MB=str(MAX_FILE_MB))
    try:
        yield Server(url, data_dir, roots, outside, proc, home / "server.log")
    finally:
        stop_process(proc)


def cli_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


def cli_error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("qa: error: ")
    return err.removeprefix("qa: error: ")


def without_timings(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "timings"}


def assert_error(response: httpx.Response, status: int, message: str | None = None) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and "Traceback" not in response.text
    if message is not None:
        assert body["error"]["message"] == message
    return str(body["error"]["message"])


def sse_events(response: httpx.Response) -> list[tuple[str, str]]:
    """(event, data) of every Server-Sent Event, read to the end of the stream."""
    events, event, data = [], "message", []
    for line in response.iter_lines():
        if line == "":
            if data:
                events.append((event, "\n".join(data)))
            event, data = "message", []
        elif line.startswith("event: "):
            event = line.removeprefix("event: ")
        elif line.startswith("data: "):
            data.append(line.removeprefix("data: "))
    return events


# --- docs, documents, search ------------------------------------------------------------


def test_openapi_docs(server: Server) -> None:
    with server.client() as http:
        page = http.get("/docs")
        assert page.status_code == 200 and "swagger" in page.text.lower()
        paths = http.get("/openapi.json").json()["paths"]
    for path in ("/v1/ingest", "/v1/documents", "/v1/documents/{doc}", "/v1/search", "/v1/ask",
                 "/v1/ask/stream", "/v1/chat/completions", "/v1/models"):
        assert path in paths


def test_documents_match_cli(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    expected = cli_json(capsys, "docs", "--json", "--data-dir", str(server.data_dir))
    with server.client() as http:
        assert http.get("/v1/documents").json() == expected
        assert http.get("/v1/collections/default/documents").json() == expected
        assert http.get("/v1/documents", params={"collection": "default"}).json() == expected
    assert len(expected) == 1 and expected[0]["chunks"] > 0


@pytest.mark.parametrize("extra", [[], ["--mode", "keyword", "-k", "2"], ["--mode", "dense"]])
def test_search_matches_cli(server: Server, capsys: pytest.CaptureFixture[str],
                            extra: list[str]) -> None:
    expected = cli_json(capsys, "search", SEED_QUESTION, "--json", "--data-dir",
                        str(server.data_dir), *extra)
    body: dict[str, Any] = {"query": SEED_QUESTION}
    if "--mode" in extra:
        body["mode"] = extra[extra.index("--mode") + 1]
    if "-k" in extra:
        body["k"] = int(extra[extra.index("-k") + 1])
    with server.client() as http:
        got = http.post("/v1/search", json=body).json()
        in_path = http.post("/v1/collections/default/search", json=body).json()
    assert got == expected == in_path
    assert "Pakistan and China" in got[0]["text"]
    assert set(got[0]) == {"text", "score", "source", "title", "page", "section", "start",
                           "end", "chunk_id", "doc_id"}


def test_search_document_filter(server: Server) -> None:
    with server.client() as http:
        (doc,) = http.get("/v1/documents").json()
        hits = http.post("/v1/search", json={"query": SEED_QUESTION,
                                             "documents": [doc["id"][:8]]}).json()
        assert hits and {h["doc_id"] for h in hits} == {doc["id"]}
        missing = http.post("/v1/search", json={"query": SEED_QUESTION,
                                                "documents": ["nosuchdoc"]})
    assert_error(missing, 404)


# --- ask -----------------------------------------------------------------------------


def test_ask_matches_cli(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    expected = cli_json(capsys, "ask", SEED_QUESTION, "--json", "--data-dir",
                        str(server.data_dir))
    with server.client() as http:
        got = http.post("/v1/ask", json={"question": SEED_QUESTION}).json()
    assert without_timings(got) == without_timings(expected)
    assert not got["refused"] and got["citations"] and "Pakistan" in got["answer"]


def test_ask_stream_sse_to_the_end(server: Server) -> None:
    with server.client() as http:
        whole = http.post("/v1/ask", json={"question": SEED_QUESTION}).json()
        with http.stream("POST", "/v1/ask/stream", json={"question": SEED_QUESTION}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            events = sse_events(response)
    kinds = [e for e, _ in events]
    assert kinds[-1] == "answer" and set(kinds[:-1]) == {"delta"} and len(kinds) > 1
    final = json.loads(events[-1][1])
    assert without_timings(final) == without_timings(whole)
    streamed = "".join(json.loads(d)["text"] for e, d in events if e == "delta")
    assert "Pakistan" in streamed


def test_follow_up_uses_history(server: Server) -> None:
    with server.client() as http:
        first = http.post("/v1/ask", json={"question": SEED_QUESTION}).json()
        history = [{"role": "user", "content": SEED_QUESTION},
                   {"role": "assistant", "content": first["answer"]}]
        follow = http.post("/v1/ask", json={"question": "And which countries were invited in "
                                                        "February?", "history": history}).json()
    assert follow["standalone_question"] != follow["question"]
    assert "February" in follow["standalone_question"]


def test_errors_carry_cli_messages(server: Server, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(server.data_dir)]
    with server.client() as http:
        assert_error(http.post("/v1/ask", json={"question": " "}), 400,
                     cli_error(capsys, "ask", " ", *data))
        assert_error(http.delete("/v1/documents/nosuchdoc"), 404,
                     cli_error(capsys, "remove", "nosuchdoc", *data))
        assert_error(http.post("/v1/search", json={"query": "x", "collection": "empty-one"}), 404,
                     cli_error(capsys, "search", "x", "--collection", "empty-one", *data))
        assert_error(http.post("/v1/collections/a!b/search", json={"query": "x"}), 400,
                     cli_error(capsys, "search", "x", "--collection", "a!b", *data))
        assert_error(http.post("/v1/collections/default/search",
                               json={"query": "x", "collection": "other"}), 400)
        assert_error(http.post("/v1/ask", json={"question": "q", "llm": "openai:gpt-4o"}), 400)
        bad_json = http.post("/v1/search", content=b"{not json",
                             headers={"content-type": "application/json"})
        assert_error(bad_json, 422)
        assert "k" in assert_error(http.post("/v1/search", json={"query": "x", "k": 0}), 422)
        assert_error(http.get("/v1/nothing-here"), 404)


# --- the OpenAI-compatible endpoint ------------------------------------------------------


def openai_client(server: Server, api_key: str = "unused") -> Any:
    return openai.OpenAI(base_url=server.url + "/v1", api_key=api_key, max_retries=0,
                         timeout=120)


def test_openai_models(server: Server) -> None:
    ids = [m.id for m in openai_client(server).models.list()]
    assert "qa/default" in ids
    assert openai_client(server).models.retrieve("qa/default").id == "qa/default"


def test_openai_chat_completion(server: Server) -> None:
    with server.client() as http:
        expected = http.post("/v1/ask", json={"question": SEED_QUESTION}).json()
    completion = openai_client(server).chat.completions.create(
        model="qa/default", messages=[{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": SEED_QUESTION}])
    content = completion.choices[0].message.content
    assert completion.choices[0].finish_reason == "stop"
    assert content.startswith(expected["answer"])
    assert "\n\nSources:\n[1] " in content
    extra = completion.model_extra
    assert extra["citations"] == expected["citations"] and extra["refused"] is False


def test_openai_chat_stream(server: Server) -> None:
    client = openai_client(server)
    chunks = list(client.chat.completions.create(
        model="qa/default", messages=[{"role": "user", "content": SEED_QUESTION}], stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    whole = client.chat.completions.create(
        model="qa/default", messages=[{"role": "user", "content": SEED_QUESTION}])
    assert text == whole.choices[0].message.content
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert chunks[-1].model_extra["citations"] == whole.model_extra["citations"]
    with server.client() as http, http.stream("POST", "/v1/chat/completions", json={
            "model": "qa/default", "stream": True,
            "messages": [{"role": "user", "content": SEED_QUESTION}]}) as raw:
        lines = [line for line in raw.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    assert json.loads(lines[0].removeprefix("data: "))["object"] == "chat.completion.chunk"


def test_openai_conversation_and_errors(server: Server) -> None:
    client = openai_client(server)
    first = client.chat.completions.create(
        model="qa/default", messages=[{"role": "user", "content": SEED_QUESTION}])
    follow = client.chat.completions.create(model="qa/default", messages=[
        {"role": "user", "content": SEED_QUESTION},
        {"role": "assistant", "content": first.choices[0].message.content},
        {"role": "user", "content": [{"type": "text",
                                      "text": "And which countries were invited in February?"}]},
    ])
    assert "February" in follow.model_extra["standalone_question"]
    with pytest.raises(openai.NotFoundError, match="qa/<collection>"):
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="the question is empty"):
        client.chat.completions.create(model="qa/default", stream=True,
                                       messages=[{"role": "user", "content": ""}])
    with pytest.raises(openai.BadRequestError, match="last message"):
        client.chat.completions.create(model="qa/default",
                                       messages=[{"role": "assistant", "content": "hi"}])


# --- ingest, remove, roots, limits -----------------------------------------------------


def test_upload_search_remove(server: Server) -> None:
    note = b"# Lab notes\n\nThe zebrafish tank on floor three is cleaned every Thursday.\n"
    with server.client() as http:
        added = http.post("/v1/collections/uploads-test/ingest",
                          files=[("files", ("lab notes.md", note, "text/markdown"))]).json()
        assert [f["status"] for f in added["files"]] == ["added"]
        assert added["files"][0]["path"] == "lab notes.md" and added["failed"] == 0
        again = http.post("/v1/ingest", data={"collection": "uploads-test"},
                          files=[("files", ("lab notes.md", note, "text/markdown"))]).json()
        assert [f["status"] for f in again["files"]] == ["unchanged"]
        hits = http.post("/v1/search", json={"query": "When is the zebrafish tank cleaned?",
                                             "collection": "uploads-test"}).json()
        assert "Thursday" in hits[0]["text"]
        stored = Path(hits[0]["source"])
        assert stored.is_file() and stored.is_relative_to(server.data_dir / "uploads")
        removed = http.delete(f"/v1/collections/uploads-test/documents/{hits[0]['doc_id']}")
        assert removed.status_code == 200 and removed.json()["id"] == hits[0]["doc_id"]
        assert not stored.exists()
        assert http.get("/v1/documents", params={"collection": "uploads-test"}).json() == []


def test_upload_over_the_size_limit(server: Server) -> None:
    big = b"words and more words. " * (MAX_FILE_MB * 2**20 // 20)
    assert len(big) > MAX_FILE_MB * 2**20
    with server.client() as http:
        refused = http.post("/v1/collections/too-big/ingest",
                            files=[("files", ("big.txt", big, "text/plain"))])
        assert "QA_MAX_FILE_MB" in assert_error(refused, 413)

        def chunked() -> Iterator[bytes]:  # no Content-Length: the limit counts what arrives
            yield b"--b\r\nContent-Disposition: form-data; name=\"files\"; filename=\"b.txt\"\r\n\r\n"
            for _ in range(3):
                yield big[: 2**20]
            yield b"\r\n--b--\r\n"

        streamed = http.post("/v1/collections/too-big/ingest", content=chunked(),
                             headers={"content-type": "multipart/form-data; boundary=b"})
        assert_error(streamed, 413)
        assert http.get("/v1/documents", params={"collection": "too-big"}).json() == []
    assert not (server.data_dir / "uploads" / "too-big").exists()


def test_paths_under_roots(server: Server) -> None:
    secret = server.outside / "secret.md"
    secret.write_text("# Secret\n\nThe vault code is 4711.\n")
    allowed = server.roots / "allowed.md"
    allowed.write_text("# Allowed\n\nThe greenhouse opens at seven.\n")
    folder = server.roots / "folder"
    folder.mkdir()
    (folder / "inside.md").write_text("# Inside\n\nThe bike shed is blue.\n")
    (folder / "link-out.md").symlink_to(secret)
    (server.roots / "link-out.md").symlink_to(secret)
    (server.roots / "dir-out").symlink_to(server.outside, target_is_directory=True)
    body = {"collection": "paths-test"}
    with server.client() as http:
        for path in (str(server.roots / ".." / "outside" / "secret.md"), "../outside/secret.md",
                     str(secret), str(server.roots / "link-out.md"), "dir-out",
                     str(server.roots / "dir-out" / "secret.md"), "/etc/passwd"):
            refused = http.post("/v1/ingest", json={**body, "paths": [str(allowed), path]})
            assert_error(refused, 403)
        assert http.get("/v1/documents", params=body).json() == []
        assert_error(http.post("/v1/ingest", json={**body, "paths": ["missing.md"]}), 404)
        done = http.post("/v1/ingest", json={**body, "paths": ["allowed.md", str(folder)]}).json()
        by_name = {Path(f["path"]).name: f for f in done["files"]}
        assert by_name["allowed.md"]["status"] == by_name["inside.md"]["status"] == "added"
        assert by_name["link-out.md"]["status"] == "failed"
        assert "outside" in by_name["link-out.md"]["message"]
        form = http.post("/v1/ingest", data={**body, "paths": str(server.roots / "link-out.md")})
        assert_error(form, 403)
        titles = {d["title"] for d in http.get("/v1/documents", params=body).json()}
    assert titles == {"Allowed", "Inside"}


def seed_variants(folder: Path, count: int) -> list[Path]:
    """Files of shuffled seed sentences: real text, each file different."""
    text = " ".join(p.read_text() for p in sorted(SEEDS.glob("*.txt")))
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text) if len(s) > 30]
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        rng = random.Random(i)
        paragraphs = [" ".join(rng.sample(sentences, 6)) for _ in range(8)]
        file = folder / f"variant-{i:02d}.txt"
        file.write_text(f"Variant {i}\n\n" + "\n\n".join(paragraphs))
        files.append(file)
    return files


def test_searches_while_an_ingest_runs(server: Server) -> None:
    files = seed_variants(server.roots / "busy", 12)
    ingest_done = threading.Event()
    during: list[dict[str, Any]] = []

    def run_ingest() -> httpx.Response:
        with server.client() as http:
            try:
                return http.post("/v1/ingest", json={"collection": "busy-test",
                                                     "paths": [str(files[0].parent)]})
            finally:
                ingest_done.set()

    def search(i: int) -> dict[str, Any]:
        with server.client() as http:
            response = http.post("/v1/search", json={"query": SEED_QUESTION, "k": 3})
            return {"status": response.status_code, "body": response.json(),
                    "during": not ingest_done.is_set()}

    with ThreadPoolExecutor(5) as pool:
        ingesting = pool.submit(run_ingest)
        while not ingest_done.is_set():
            during += list(pool.map(search, range(4)))
        report = ingesting.result().json()
    assert report["failed"] == 0 and [f["status"] for f in report["files"]] == ["added"] * 12
    assert all(r["status"] == 200 for r in during)
    assert all("Pakistan and China" in r["body"][0]["text"] for r in during)
    assert sum(r["during"] for r in during) >= 4  # answered while the ingest was writing
    with server.client() as http:
        docs = http.get("/v1/documents", params={"collection": "busy-test"}).json()
    assert len(docs) == 12 and all(d["chunks"] > 0 for d in docs)


# --- who may call ----------------------------------------------------------------------


def test_other_origins_and_host_names_refused(server: Server) -> None:
    with server.client() as http:
        assert_error(http.post("/v1/search", json={"query": "x"},
                               headers={"origin": "http://evil.example"}), 403)
        assert_error(http.get("/v1/documents", headers={"host": "evil.example:8080"}), 421)
        port = server.url.rsplit(":", 1)[1]
        same = http.post("/v1/search", json={"query": SEED_QUESTION},
                         headers={"origin": f"http://127.0.0.1:{port}"})
        assert same.status_code == 200


def test_token_required_beyond_loopback(tmp_path: Path, server: Server) -> None:
    port = str(free_port())
    refused = subprocess.run(
        [sys.executable, "-m", "qa", "serve", "--host", "0.0.0.0", "--port", port],
        env=server_env(server.data_dir), capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2
    assert "refusing to listen on 0.0.0.0 without a token" in refused.stderr
    assert "Traceback" not in refused.stderr
    short = subprocess.run(
        [sys.executable, "-m", "qa", "serve", "--host", "0.0.0.0", "--port", port],
        env=server_env(server.data_dir, QA_API_TOKEN="short"), capture_output=True, text=True,
        timeout=60)
    assert short.returncode == 2 and "at least 16" in short.stderr

    proc, url = start_server(server.data_dir, tmp_path / "token.log", "--host", "0.0.0.0",
                             QA_API_TOKEN=TOKEN)
    try:
        with httpx.Client(base_url=url, timeout=60) as http:  # traffic only to 127.0.0.1
            assert_error(http.get("/v1/documents"), 401)
            assert_error(http.get("/v1/documents", headers={"authorization": "Bearer nope"}), 401)
            assert_error(http.get("/v1/documents",
                                  headers={"authorization": f"Bearer {TOKEN}x"}), 401)
            good = http.get("/v1/documents", headers={"authorization": f"Bearer {TOKEN}"})
            assert good.status_code == 200 and len(good.json()) == 1
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=url + "/v1", api_key="wrong", max_retries=0).models.list()
        models = openai.OpenAI(base_url=url + "/v1", api_key=TOKEN, max_retries=0).models.list()
        assert "qa/default" in [m.id for m in models]
    finally:
        stop_process(proc)


# --- the real local model ----------------------------------------------------------------


@pytest.mark.llm
def test_openai_client_with_the_local_model(tmp_path: Path, server: Server) -> None:
    from qa.llm.factory import local_available

    if not local_available():
        pytest.skip("extra 'local' not installed")
    proc, url = start_server(server.data_dir, tmp_path / "local.log", "--llm", "local")
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0,
                               timeout=600)
        stream = client.chat.completions.create(
            model="qa/default", messages=[{"role": "user", "content": SEED_QUESTION}],
            stream=True)
        chunks = list(stream)
        text = "".join(c.choices[0].delta.content or "" for c in chunks)
        extra = chunks[-1].model_extra
        assert not extra["refused"] and extra["citations"]
        assert "Pakistan" in text and "Sources:" in text
        assert all("Pakistan" in c["text"] or "China" in c["text"] for c in extra["citations"])
    finally:
        stop_process(proc)


# --- logic, in-process -------------------------------------------------------------------


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("localhost", True), ("::1", True), ("[::1]", True),
    ("127.0.0.2", True), ("0.0.0.0", False), ("192.168.1.5", False), ("example.org", False),
])
def test_is_loopback(host: str, loopback: bool) -> None:
    from qa.server.security import is_loopback

    assert is_loopback(host) is loopback


def test_check_bind() -> None:
    from qa.errors import QAError
    from qa.server.security import check_bind

    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", TOKEN)
    with pytest.raises(QAError, match="without a token"):
        check_bind("0.0.0.0", None)
    with pytest.raises(QAError, match="at least 16"):
        check_bind("127.0.0.1", "short")


def test_resolve_under_roots(tmp_path: Path) -> None:
    from qa.server.security import APIError, resolve_under_roots

    root, outside = tmp_path / "root", tmp_path / "out"
    (root / "sub").mkdir(parents=True)
    outside.mkdir()
    (root / "sub" / "a.md").write_text("a")
    (outside / "b.md").write_text("b")
    (root / "link.md").symlink_to(outside / "b.md")
    (root / "loop").symlink_to(root / "loop")
    roots = [root.resolve()]
    assert resolve_under_roots("sub/a.md", roots) == (root / "sub" / "a.md").resolve()
    assert resolve_under_roots(str(root / "sub"), roots) == (root / "sub").resolve()
    for raw, status in [("sub/../sub/a.md", 403), (str(outside / "b.md"), 403), ("link.md", 403),
                        ("missing.md", 404), ("loop", 400), ("a\x00b", 400)]:
        with pytest.raises(APIError) as caught:
            resolve_under_roots(raw, roots)
        assert caught.value.status == status, raw
    with pytest.raises(APIError, match="turned off"):
        resolve_under_roots("sub/a.md", [])


def test_openai_conversation_parsing() -> None:
    from qa.config import Settings
    from qa.server.openai_compat import Message, collection_of, conversation

    reply = "Moscow hosted it [1].\n\nSources:\n[1] Report (r.txt): \"Moscow hosted it.\""
    question, history = conversation([
        Message(role="system", content="ignored"), Message(role="user", content="Who?"),
        Message(role="assistant", content=reply),
        Message(role="user", content=[{"type": "text", "text": "And "}, {"type": "image_url"},
                                      {"type": "text", "text": "when?"}]),
    ])
    assert question == "And when?"
    assert history == [{"role": "user", "content": "Who?"},
                       {"role": "assistant", "content": "Moscow hosted it [1]."}]
    settings = Settings()
    assert collection_of("qa", settings) == "default"
    assert collection_of("qa/notes", settings) == "notes"


def _fake_stream(seconds: float, active: list[int], peak: list[int],
                 closed: list[bool]) -> Any:
    def ask_stream(question: str, history: Any = None, **kwargs: Any) -> Iterator[Any]:
        from qa.types import Answer

        active.append(1)
        peak.append(len(active))
        try:
            for word in ("one ", "two ", "three"):
                time.sleep(seconds)
                yield word
            yield Answer(question, "one two three", refused=False)
        finally:
            active.pop()
            closed.append(True)

    return ask_stream


def test_runtime_serialises_local_model_and_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio

    import qa.api
    from qa.config import Settings
    from qa.server.runtime import Runtime
    from qa.server.security import APIError

    active: list[int] = []
    peak: list[int] = []
    closed: list[bool] = []
    monkeypatch.setattr(qa.api, "ask_stream", _fake_stream(0.05, active, peak, closed))
    runtime = Runtime(Settings(api_timeout=5))
    settings = Settings()

    async def three(llm: str) -> list[str]:
        answers = await asyncio.gather(*(runtime.answer("q", [], settings, llm, None)
                                         for _ in range(3)))
        return [a.text for a in answers]

    assert asyncio.run(three("local")) == ["one two three"] * 3
    assert max(peak) == 1  # the local model: one answer at a time
    peak.clear()
    asyncio.run(three("extractive"))
    assert max(peak) > 1  # no model to share: concurrent

    monkeypatch.setattr(qa.api, "ask_stream", _fake_stream(1.0, active, peak, closed))
    runtime = Runtime(Settings(api_timeout=1))
    closed.clear()
    with pytest.raises(APIError) as caught:
        asyncio.run(runtime.answer("q", [], settings, "extractive", None))
    assert caught.value.status == 504 and "QA_API_TIMEOUT" in str(caught.value)
    deadline = time.monotonic() + 5
    while not closed and time.monotonic() < deadline:
        time.sleep(0.05)
    assert closed == [True] and not active  # the generation was stopped, not left running
    runtime.close()
