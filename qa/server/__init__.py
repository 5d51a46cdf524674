"""qa over HTTP: a REST API and an OpenAI-compatible chat endpoint (``qa serve``).

Example::

    from qa import Settings
    from qa.server import serve

    serve(Settings.from_env(), host="127.0.0.1", port=8080)   # blocks; Ctrl-C stops

Endpoints (see ``/docs`` on a running server): ``POST /v1/ingest``, ``GET /v1/documents``,
``DELETE /v1/documents/{id}``, ``POST /v1/search``, ``POST /v1/ask``, ``POST
/v1/ask/stream`` (Server-Sent Events), each also under ``/v1/collections/{collection}/``;
``POST /v1/chat/completions`` and ``GET /v1/models`` (OpenAI's protocol, model
``qa/<collection>``).
"""

from __future__ import annotations

import logging
import os

from qa.config import Settings
from qa.errors import QAError
from qa.server.security import TOKEN_ENV, check_bind, is_loopback

log = logging.getLogger(__name__)

# Connections served at once; more wait in the listen backlog or get a 503.
MAX_CONNECTIONS = 64


def serve(settings: Settings, host: str = "127.0.0.1", port: int = 8080,
          token: str | None = None) -> None:
    """Serve the API until interrupted, in this process (the one owner of its stores).

    Args:
        settings: the server's settings (data dir, default collection, QA_LLM, roots, limits).
        host: address to bind; anything but loopback needs a token.
        port: TCP port.
        token: the bearer token clients must send (default: ``QA_API_TOKEN``).

    Raises:
        QAError: a non-loopback ``host`` without a token, a token that is too short, or
            FastAPI or uvicorn missing.
    """
    token = token if token is not None else os.environ.get(TOKEN_ENV) or None
    check_bind(host, token)
    try:
        import uvicorn

        from qa.server.app import create_app
    except ModuleNotFoundError as exc:
        raise QAError(f"`qa serve` needs the package '{exc.name}'; reinstall qa "
                      "(`pip install -e .`) to get fastapi, uvicorn and python-multipart") from None
    app = create_app(settings, token=token, loopback_only=is_loopback(host))
    config = uvicorn.Config(
        app, host=host, port=port, workers=1, log_level="info", access_log=True,
        limit_concurrency=MAX_CONNECTIONS, timeout_keep_alive=5, server_header=False,
        proxy_headers=False, timeout_graceful_shutdown=10,
    )
    log.info("serving %s on http://%s:%d (token %s)", settings.collection, host, port,
             "required" if token else "not required")
    uvicorn.Server(config).run()


__all__ = ["TOKEN_ENV", "check_bind", "serve"]
