"""What keeps `qa serve` safe by default: binding, the token, paths, origins and body limits.

- :func:`check_bind` refuses to listen on anything but loopback without a token.
- :func:`token_matches` compares bearer tokens in constant time.
- :func:`resolve_under_roots` admits a server-side path only when it resolves (symlinks
  followed) inside one of the configured roots.
- :class:`GuardMiddleware` refuses requests from other web origins, requests whose
  ``Host`` is not the loopback name the server was reached by (DNS rebinding), bodies
  over the limit and bodies that stall.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qa.errors import QAError, printable_path

TOKEN_ENV = "QA_API_TOKEN"
MIN_TOKEN_CHARS = 16
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
# How long a client may pause while sending a request body before it is dropped.
BODY_IDLE_SECONDS = 30.0


class APIError(QAError):
    """A request the server refuses, with the HTTP status to answer with."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or "localhost") only accepts connections from this machine."""
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """Refuse to listen beyond loopback without a good token.

    Raises:
        QAError: ``host`` is not loopback and ``QA_API_TOKEN`` is unset or too short.
    """
    if token is not None and token != "" and len(token) < MIN_TOKEN_CHARS:
        raise QAError(
            f"{TOKEN_ENV} is {len(token)} characters long; use at least {MIN_TOKEN_CHARS}, e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
        )
    if not is_loopback(host) and not token:
        raise QAError(
            f"refusing to listen on {host} without a token: anyone who can reach it could read "
            f"and change the documents; set {TOKEN_ENV} (clients send it as "
            "`Authorization: Bearer ...`) or bind to 127.0.0.1"
        )


def token_matches(given: str | None, token: str) -> bool:
    """Constant-time comparison of a presented bearer token with the configured one."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def resolve_under_roots(raw: str, roots: list[Path]) -> Path:
    """The real path of ``raw``, if it lies inside one of ``roots``.

    A relative path is taken relative to the first root. ``..`` is refused outright;
    the path is then resolved with every symlink followed, so a link that points out
    of the roots is refused too.

    Raises:
        APIError: 403 when server-side paths are off or the path leaves the roots,
            404 when it does not exist, 400 when it is not a usable path.
    """
    shown = printable_path(raw)
    if not roots:
        raise APIError(403, "server-side paths are turned off; upload the files instead, or "
                            "start the server with QA_API_ROOTS=/folder/to/allow", "permission_error")
    if not raw or "\x00" in raw:
        raise APIError(400, f"'{shown}' is not a usable path")
    path = Path(raw)
    if ".." in path.parts:
        raise APIError(403, f"'{shown}': '..' is not allowed in a path; name the file inside "
                            "QA_API_ROOTS directly", "permission_error")
    if not path.is_absolute():
        path = roots[0] / path
    try:
        real = path.resolve(strict=True)
    except FileNotFoundError:
        raise APIError(404, f"'{shown}': no such file or folder", "not_found_error") from None
    except (OSError, RuntimeError) as exc:  # a symlink loop raises RuntimeError
        raise APIError(400, f"'{shown}' cannot be resolved ({type(exc).__name__})") from None
    if not any(real == root or real.is_relative_to(root) for root in roots):
        raise APIError(403, f"'{shown}' is outside the folders this server may read "
                            "(QA_API_ROOTS); symlinks out of them are refused too",
                       "permission_error")
    return real


def error_body(message: str, kind: str = "invalid_request_error",
               code: str | None = None) -> dict[str, Any]:
    """The JSON of every error the server sends (OpenAI's shape, so its clients read it)."""
    return {"error": {"message": message, "type": kind, "code": code}}


class GuardMiddleware:
    """Plain ASGI middleware that refuses a request before any route sees it.

    Args:
        app: the application.
        body_limit: request path -> most bytes its body may have.
        loopback_only: the server listens on loopback, so the ``Host`` header must name
            loopback too (a rebound DNS name pointing at 127.0.0.1 is refused).
    """

    def __init__(self, app: Any, body_limit: Callable[[str], int], loopback_only: bool) -> None:
        self.app = app
        self.body_limit = body_limit
        self.loopback_only = loopback_only

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope.get("headers", [])}
        host = headers.get("host", "")
        refusal = self._refusal(headers, host, scope["path"])
        if refusal is not None:
            await _send_error(send, *refusal)
            return
        limit = self.body_limit(scope["path"])
        await self.app(scope, _limited(receive, limit), send)

    def _refusal(self, headers: dict[str, str], host: str,
                 path: str) -> tuple[int, str, str] | None:
        hostname = _hostname(host)
        if self.loopback_only and not is_loopback(hostname):
            return (421, f"Host '{printable_path(host)}' is not this server's loopback "
                         "address; use http://127.0.0.1:PORT", "invalid_request_error")
        origin = headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1].rstrip("/") != host:
            return (403, f"requests from the web page at '{printable_path(origin)}' are "
                         "refused; call the API from a program, not from another site",
                    "permission_error")
        length = headers.get("content-length")
        limit = self.body_limit(path)
        if length is not None and length.isdigit() and int(length) > limit:
            return (413, _too_large(limit), "invalid_request_error")
        return None


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _too_large(limit: int) -> str:
    return (f"the request body is larger than {limit / 2**20:.1f} MB; an upload may hold at "
            "most QA_MAX_FILE_MB of files (send several requests for more)")


class BodyTooLarge(APIError):
    def __init__(self, limit: int) -> None:
        super().__init__(413, _too_large(limit))


class BodyTimeout(APIError):
    def __init__(self) -> None:
        super().__init__(408, f"the request body stalled for {BODY_IDLE_SECONDS:g} s; "
                              "send it in one go")


def _limited(receive: Any, limit: int) -> Any:
    """``receive`` that counts body bytes and gives up on a stalled or oversized body."""
    received = 0
    finished = False

    async def wrapped() -> dict[str, Any]:
        nonlocal received, finished
        if finished:  # after the body: only disconnects, which may take as long as they like
            return dict(await receive())
        try:
            message = dict(await asyncio.wait_for(receive(), BODY_IDLE_SECONDS))
        except TimeoutError:
            raise BodyTimeout() from None
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise BodyTooLarge(limit)
            finished = not message.get("more_body", False)
        return message

    return wrapped


async def _send_error(send: Any, status: int, message: str, kind: str) -> None:
    body = json.dumps(error_body(message, kind)).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
