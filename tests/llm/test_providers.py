"""qa.llm.providers: provider errors become one-line LLMErrors (a stub OpenAI server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from qa.errors import LLMError, MissingDependencyError
from qa.llm.providers import PLACEHOLDER_KEY, installed_providers, provider_chat_model

pytestmark = pytest.mark.skipif("openai" not in installed_providers(),
                                reason="extra 'openai' not installed")


class Failing(BaseHTTPRequestHandler):
    """Answers every request with the HTTP status named by the model ("status-503")."""

    def do_POST(self) -> None:  # noqa: N802 - the http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        status = int(str(body["model"]).rpartition("-")[2])
        data = json.dumps({"error": {"message": f"stub says {status}"}}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.fixture
def local_server(base_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_BASE_URL", base_url)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return base_url


def test_a_local_server_gets_a_placeholder_key_and_the_timeout(local_server: str) -> None:
    chat = provider_chat_model("openai", "status-500", timeout=7)
    assert chat.openai_api_key.get_secret_value() == PLACEHOLDER_KEY  # type: ignore[attr-defined]
    assert chat.request_timeout == 7  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "says"),
    [(500, "failed with HTTP 500"), (503, "stub says 503"),
     (401, "refused the request (HTTP 401): check the API key"), (403, "(HTTP 403)")],
)
def test_http_errors_become_one_line_llm_errors(local_server: str, status: int,
                                                says: str) -> None:
    chat = provider_chat_model("openai", f"status-{status}", timeout=5)
    for call in (lambda: chat.invoke("hi"), lambda: list(chat.stream("hi"))):
        with pytest.raises(LLMError) as err:
            call()
        message = str(err.value)
        assert says in message and "\n" not in message
        assert f"status-{status} at {local_server}" in message


def test_nothing_listening_is_a_connection_message(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import free_port

    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")
    chat = provider_chat_model("openai", "anything", timeout=2)
    with pytest.raises(LLMError, match="cannot reach the answer model anything"):
        chat.invoke("hi")


def test_an_uninstalled_provider_names_the_package() -> None:
    if "anthropic" in installed_providers():
        pytest.skip("langchain-anthropic is installed")
    with pytest.raises(MissingDependencyError, match="qa\\[anthropic\\]"):
        provider_chat_model("anthropic", "claude")
