"""The FastAPI application: routes, the token check, errors as JSON, start-up warm-up."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from qa.config import Settings, apply_process_defaults
from qa.errors import DocumentNotFoundError, ModelMismatchError, QAError, StoreError
from qa.server.runtime import Runtime
from qa.server.security import (
    APIError,
    GuardMiddleware,
    error_body,
    token_matches,
)

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 4 * 2**20
# Multipart framing around the files of one upload request.
UPLOAD_OVERHEAD = 2**20

DESCRIPTION = """Answers from your own documents, with the passages they came from.

The `/v1/...` routes take the collection as a `collection` field or query parameter,
or in the path: `/v1/collections/{collection}/search` and so on. `/v1/chat/completions`
and `/v1/models` speak OpenAI's protocol: point an OpenAI client at `http://HOST:PORT/v1`
and use the model `qa/<collection>`. When the server has a token (`QA_API_TOKEN`),
send it as `Authorization: Bearer <token>`. Errors are JSON:
`{"error": {"message": ..., "type": ..., "code": ...}}`.
"""


def status_of(exc: QAError) -> int:
    if isinstance(exc, APIError):
        return exc.status
    if isinstance(exc, DocumentNotFoundError):
        return 404
    if isinstance(exc, ModelMismatchError):
        return 409
    if isinstance(exc, StoreError) and "is empty" in str(exc):
        return 404
    if isinstance(exc, StoreError):
        return 503
    return 400


def error_message(exc: BaseException) -> str:
    """What a client is told: a QAError's own message; anything else only by its type."""
    if isinstance(exc, QAError):
        return str(exc)
    log.error("request failed", exc_info=exc)
    return f"the server failed unexpectedly ({type(exc).__name__}); its log has the details"


BEARER = HTTPBearer(auto_error=False, description="QA_API_TOKEN, when the server has one")


async def authorized(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> None:
    """Every /v1 route: the bearer token, compared in constant time, when the server has one."""
    token: str | None = request.app.state.token
    if token and not token_matches(credentials.credentials if credentials else None, token):
        raise APIError(401, "missing or wrong bearer token; send the server's QA_API_TOKEN "
                            "as `Authorization: Bearer <token>`", "authentication_error")


def create_app(settings: Settings, token: str | None = None, loopback_only: bool = True
               ) -> FastAPI:
    """The app over ``settings``.

    Args:
        settings: the server's settings; requests may pick another collection.
        token: when set, every ``/v1`` request must carry ``Authorization: Bearer <token>``.
        loopback_only: the server listens on loopback only, so requests must name a
            loopback host (see :class:`~qa.server.security.GuardMiddleware`).
    """
    from qa.server import openai_compat, routes

    apply_process_defaults()  # before the warm-up thread loads the models
    runtime = Runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=runtime.warm_up, name="qa-warm-up", daemon=True).start()
        yield
        runtime.close()

    app = FastAPI(title="qa", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.runtime = runtime
    app.state.token = token
    app.state.error_message = error_message
    for router in (routes.router, openai_compat.router):
        app.include_router(router, dependencies=[Depends(authorized)])

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.exception_handler(QAError)
    async def qa_error(request: Request, exc: QAError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if status_of(exc) == 401 else None
        kind = exc.kind if isinstance(exc, APIError) else type(exc).__name__
        return JSONResponse(error_body(str(exc), kind), status_of(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for e in exc.errors():
            where = ".".join(str(p) for p in e.get("loc", ()) if p != "body") or "body"
            parts.append(f"{where}: {e.get('msg', 'invalid')}")
        return JSONResponse(error_body("invalid request: " + "; ".join(parts)), 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        cause = exc.__cause__
        if isinstance(cause, APIError):  # raised while FastAPI read the body
            return JSONResponse(error_body(str(cause), cause.kind), cause.status)
        return JSONResponse(error_body(str(exc.detail)), exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse(error_body(error_message(exc), "server_error"), 500)

    def body_limit(path: str) -> int:
        if path.endswith("/ingest"):
            return settings.max_file_mb * 2**20 + UPLOAD_OVERHEAD
        return MAX_JSON_BYTES

    app.add_middleware(GuardMiddleware, body_limit=body_limit,  # type: ignore[arg-type]
                       loopback_only=loopback_only)
    return app

