"""The REST face of qa: ingest, documents, remove, search, ask (and its SSE stream).

Each route takes its collection from the path (``/v1/collections/{collection}/...``) or
from a ``collection`` field or query parameter (default: the server's configured one),
and returns what the CLI's ``--json`` prints for the same call.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import AsyncIterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile

from qa.config import Settings
from qa.server.runtime import Runtime
from qa.server.security import APIError, error_body, resolve_under_roots
from qa.types import Answer, IngestReport
from qa.uploads import HASH_CHARS, discard_upload, safe_file_name, uploads_dir

MAX_K = 50
MAX_QUERY_CHARS = 4000
MAX_HISTORY_TURNS = 100
MAX_UPLOAD_FILES = 100
MAX_PATHS = 100
COPY_CHUNK = 2**20

router = APIRouter()


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=100_000)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="question or keywords")
    k: int | None = Field(None, ge=1, le=MAX_K, description="passages (default QA_K)")
    mode: Literal["hybrid", "dense", "keyword"] | None = None
    documents: list[str] | None = Field(
        None, max_length=1000, description="only these documents (ids, id prefixes or paths)")
    collection: str | None = None


class AskRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(max_length=MAX_QUERY_CHARS)
    history: list[Turn] = Field(default_factory=list, max_length=MAX_HISTORY_TURNS,
                                description="earlier turns, oldest first")
    k: int | None = Field(None, ge=1, le=MAX_K)
    llm: str | None = Field(None, description="'extractive' or the server's QA_LLM")
    collection: str | None = None


class IngestPaths(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paths: list[str] = Field(min_length=1, max_length=MAX_PATHS,
                             description="files or folders inside QA_API_ROOTS")
    collection: str | None = None


def runtime(request: Request) -> Runtime:
    found: Runtime = request.app.state.runtime
    return found


def collection_settings(request: Request, path_value: str | None,
                        field_value: str | None) -> Settings:
    """The server's settings for the collection named by the path or by the request."""
    if path_value and field_value and path_value != field_value:
        raise APIError(400, f"the path names collection '{path_value}' and the request "
                            f"'{field_value}'; name one")
    base = runtime(request).settings
    return base.with_(collection=path_value or field_value)


def backend(request: Request, llm: str | None) -> str:
    """The answer backend a request may use: the server's own, or extractive."""
    configured = runtime(request).settings.llm.strip()
    chosen = (llm or configured).strip()
    if chosen not in (configured, "extractive"):
        raise APIError(400, f"llm '{chosen}' is not offered by this server; use "
                            f"'{configured}' or 'extractive'")
    return chosen


# --- documents ---------------------------------------------------------------------


@router.get("/v1/documents", summary="List documents (as `qa docs --json`)")
@router.get("/v1/collections/{collection}/documents", include_in_schema=False)
async def list_documents(request: Request, collection: str | None = None
                         ) -> list[dict[str, Any]]:
    from qa.api import documents

    settings = collection_settings(request, collection, None)
    docs = await runtime(request).call(documents, settings=settings)
    return [d.to_dict() for d in docs]


@router.delete("/v1/documents/{doc}", summary="Remove a document (by id or id prefix)")
@router.delete("/v1/collections/{collection}/documents/{doc}", include_in_schema=False)
async def remove_document(request: Request, doc: str, collection: str | None = None
                          ) -> dict[str, Any]:
    from qa.api import remove

    settings = collection_settings(request, collection, None)
    info = await runtime(request).call(remove, doc, settings=settings)
    discard_upload(Path(info.source), settings)
    return info.to_dict()


# --- ingest --------------------------------------------------------------------------


INGEST_BODY = {
    "requestBody": {
        "content": {
            "multipart/form-data": {"schema": {
                "type": "object",
                "properties": {
                    "files": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "paths": {"type": "array", "items": {"type": "string"}},
                    "collection": {"type": "string"},
                },
            }},
            "application/json": {"schema": IngestPaths.model_json_schema()},
        },
    },
}


@router.post("/v1/ingest", summary="Add documents: upload files, or name paths under "
                                   "QA_API_ROOTS", openapi_extra=INGEST_BODY)
@router.post("/v1/collections/{collection}/ingest", include_in_schema=False,
             openapi_extra=INGEST_BODY)
async def ingest_route(request: Request, collection: str | None = None) -> dict[str, Any]:
    """Multipart ``files`` (and/or ``paths`` fields), or JSON ``{"paths": [...]}``.

    Uploads are stored under ``<data dir>/uploads/<collection>/`` as the web app
    stores them; a server-side path must resolve inside ``QA_API_ROOTS``.
    """
    from qa.api import ingest

    rt = runtime(request)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    uploads: list[tuple[str, Path]] = []
    if kind == "application/json":
        try:
            body = IngestPaths.model_validate(await request.json())
        except ValueError as exc:
            raise APIError(422, _one_line(exc)) from None
        raw_paths, field_collection = body.paths, body.collection
        settings = collection_settings(request, collection, field_collection)
    elif kind in ("multipart/form-data", "application/x-www-form-urlencoded"):
        form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=MAX_PATHS + 10)
        try:
            raw_paths = [str(v) for v in form.getlist("paths")]
            field = form.get("collection")
            settings = collection_settings(request, collection,
                                           str(field) if field is not None else None)
            files = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
            if not files and not raw_paths:
                raise APIError(400, "nothing to ingest: send files in 'files' fields or "
                                    "server-side paths in 'paths'")
            limit = settings.max_file_mb * 2**20
            for f in files:
                if f.size is not None and f.size > limit:
                    raise APIError(413, f"{_name(f)} is {f.size / 2**20:.1f} MB; the limit is "
                                        f"{settings.max_file_mb} MB (QA_MAX_FILE_MB)")
            paths = [resolve_under_roots(p, settings.api_root_paths) for p in raw_paths]
            for f in files:
                uploads.append((_name(f), await rt.call(store_upload, f, settings)))
        finally:
            await form.close()
    else:
        raise APIError(415, "send multipart/form-data (files to upload) or application/json "
                            '({"paths": [...]})')
    if kind == "application/json":
        paths = [resolve_under_roots(p, settings.api_root_paths) for p in raw_paths]
    stored = {str(p.resolve()): name for name, p in uploads}
    report: IngestReport = await rt.call(
        ingest, [*paths, *(p for _, p in uploads)], settings=settings, timeout=False)
    out = []
    for r in report.files:
        result = asdict(r)
        name = stored.get(r.path)
        if name is not None:  # report the upload by its own name, not where it was stored
            result["path"] = name
            result["message"] = r.message.replace(r.path, name)
            if r.status in ("failed", "duplicate"):
                discard_upload(Path(r.path), settings)
        out.append(result)
    return {"files": out, "chunks_embedded": report.chunks_embedded,
            "seconds": report.seconds, "summary": report.summary(),
            "failed": len(report.failed)}


def _name(upload: UploadFile) -> str:
    return upload.filename or "upload"


def store_upload(upload: UploadFile, settings: Settings) -> Path:
    """Copy an upload to ``<uploads>/<sha256 prefix>/<safe name>`` (as ``qa.uploads.upload_path``)."""

    upload.file.seek(0)
    digest = hashlib.sha256()
    while block := upload.file.read(COPY_CHUNK):
        digest.update(block)
    folder = uploads_dir(settings)
    target = folder / digest.hexdigest()[:HASH_CHARS] / safe_file_name(_name(upload))
    root = folder.resolve()
    if not target.resolve().is_relative_to(root) or target.resolve() == root:
        raise APIError(400, f"upload name {_name(upload)!r} cannot be stored")
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".part")
        upload.file.seek(0)
        with open(partial, "wb") as out:
            shutil.copyfileobj(upload.file, out, COPY_CHUNK)
        partial.replace(target)
    return target



# --- search and ask ----------------------------------------------------------------------


@router.post("/v1/search", summary="Find passages (as `qa search --json`)")
@router.post("/v1/collections/{collection}/search", include_in_schema=False)
async def search(request: Request, body: SearchRequest,
                 collection: str | None = None) -> list[dict[str, Any]]:
    from qa.api import retrieve

    settings = collection_settings(request, collection, body.collection)
    passages = await runtime(request).call(
        retrieve, body.query, k=body.k or settings.k, documents=body.documents,
        mode=body.mode, settings=settings)
    return [p.to_dict() for p in passages]


@router.post("/v1/ask", summary="Answer a question with citations (as `qa ask --json`)")
@router.post("/v1/collections/{collection}/ask", include_in_schema=False)
async def ask(request: Request, body: AskRequest, collection: str | None = None
              ) -> dict[str, Any]:
    settings = collection_settings(request, collection, body.collection)
    answer = await runtime(request).answer(body.question, _history(body), settings,
                                           backend(request, body.llm), body.k)
    return answer.to_dict()


@router.post(
    "/v1/ask/stream",
    summary="Answer as Server-Sent Events: 'delta' events, then one 'answer' event",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
@router.post("/v1/collections/{collection}/ask/stream", include_in_schema=False)
async def ask_stream(request: Request, body: AskRequest,
                     collection: str | None = None) -> StreamingResponse:
    """``event: delta`` with ``{"text": ...}`` as the answer is generated, then ``event:
    answer`` with the checked answer (the ``/v1/ask`` object); ``event: error`` if it fails."""
    settings = collection_settings(request, collection, body.collection)
    items = runtime(request).answer_stream(body.question, _history(body), settings,
                                           backend(request, body.llm), body.k)
    first = await anext(items)  # fails here, as a JSON error, when the request is bad

    async def events() -> AsyncIterator[str]:
        try:
            item: str | Answer = first
            while True:
                if isinstance(item, Answer):
                    yield sse(item.to_dict(), "answer")
                else:
                    yield sse({"text": item}, "delta")
                try:
                    item = await anext(items)
                except StopAsyncIteration:
                    return
        except Exception as exc:  # noqa: BLE001 - the status line has gone out already
            yield sse(error_body(request.app.state.error_message(exc)), "error")
        finally:
            await items.aclose()

    return event_stream(events())


def sse(data: dict[str, Any], event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"


def event_stream(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(events, media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _history(body: AskRequest) -> list[dict[str, str]]:
    return [{"role": t.role, "content": t.content} for t in body.history]


def _one_line(exc: Exception) -> str:
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())) or 'body'}: {e.get('msg', '')}"
            for e in errors())
    return str(exc).splitlines()[0]
