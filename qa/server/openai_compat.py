"""An OpenAI-compatible face: ``POST /v1/chat/completions`` and ``GET /v1/models``.

The model name picks the collection (``qa/default``, ``qa/<collection>``); the
messages are the conversation: the last user message is the question, the earlier
user and assistant messages its history (system messages are ignored: qa answers
with its own prompt). The reply is qa's checked answer followed by its sources as
text, and the structured citations in an extra ``citations`` field. With
``stream: true`` the text streams as ``chat.completion.chunk`` events ending with
``data: [DONE]``; the checked answer is appended when it differs from the streamed
text (as ``qa ask`` prints it), then the sources.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from qa.config import Settings
from qa.server.routes import (
    MAX_HISTORY_TURNS,
    MAX_QUERY_CHARS,
    collection_settings,
    event_stream,
    runtime,
    sse,
)
from qa.server.security import APIError, error_body
from qa.types import Answer, display_name

PREFIX = "qa/"
SOURCES = "\n\nSources:\n"
CHECKED = "Checked answer: "

router = APIRouter()


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None


class ChatRequest(BaseModel):
    """OpenAI's request; parameters qa does not use (temperature, max_tokens...) are ignored."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(description="'qa/<collection>', e.g. 'qa/default'")
    messages: list[Message] = Field(min_length=1, max_length=2 * MAX_HISTORY_TURNS + 10)
    stream: bool = False


def collection_of(model: str, base: Settings) -> str:
    """The collection a model name selects: ``qa`` -> the configured one, ``qa/NAME`` -> NAME."""
    name = model.strip()
    if name == "qa":
        return base.collection
    if not name.startswith(PREFIX) or len(name) == len(PREFIX):
        raise APIError(404, f"model '{name}' does not exist; use 'qa/<collection>', e.g. "
                            f"'qa/{base.collection}' (GET /v1/models lists them)",
                       "not_found_error")
    return name[len(PREFIX):]


def conversation(messages: list[Message]) -> tuple[str, list[dict[str, str]]]:
    """The question (the last user message) and the history before it."""
    turns = [(m.role, _text(m.content)) for m in messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user":
        raise APIError(400, "the last message must be the user's question")
    if len(turns[-1][1]) > MAX_QUERY_CHARS:
        raise APIError(400, f"the question is {len(turns[-1][1]):,} characters long; ask in at "
                            f"most {MAX_QUERY_CHARS:,}")
    history = [{"role": role, "content": _answer_only(text) if role == "assistant" else text}
               for role, text in turns[:-1]]
    return turns[-1][1], history


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content if part.get("type") == "text")


def _answer_only(text: str) -> str:
    """An earlier reply of ours without its sources (and the checked text when it was added)."""
    text = text.split(SOURCES, 1)[0]
    if "\n\n" + CHECKED in text:
        text = text.rsplit("\n\n" + CHECKED, 1)[1]
    return text.strip()


def sources_text(answer: Answer) -> str:
    """The citations as the lines a chat window shows under the answer."""
    if answer.refused or not answer.citations:
        return ""
    lines = []
    for c in answer.citations:
        where = "; ".join(x for x in (display_name(c.source), f"page {c.page}" if c.page else "",
                                      c.section if c.section != c.title else "") if x)
        lines.append(f"[{c.n}] {c.title} ({where}): \"{' '.join(c.quote.split())}\"")
    return SOURCES + "\n".join(lines)


def _shape(text: str) -> tuple[str, list[int]]:
    """Text and markers, ignoring where a marker sits around a full stop (as ``qa ask``)."""
    from qa.text.markers import markers, strip_citations

    return " ".join(strip_citations(text).replace(" .", ".").split()), markers(text)


def extra_fields(answer: Answer) -> dict[str, Any]:
    return {"citations": [c.to_dict() for c in answer.citations], "refused": answer.refused,
            "standalone_question": answer.standalone_question}


@router.get("/v1/models", summary="Collections as OpenAI models ('qa/<collection>')")
async def models(request: Request) -> dict[str, Any]:
    from qa.api import open_store

    base = runtime(request).settings
    store = await runtime(request).call(open_store, base)
    names = {base.collection, *(c.name for c in store.collections())}
    return {"object": "list", "data": [_model(n) for n in sorted(names)]}


@router.get("/v1/models/{model:path}", summary="One model")
async def model(request: Request, model: str) -> dict[str, Any]:
    return _model(collection_of(model, runtime(request).settings))


def _model(collection: str) -> dict[str, Any]:
    return {"id": PREFIX + collection, "object": "model", "created": 0, "owned_by": "qa"}


@router.post("/v1/chat/completions", summary="OpenAI-compatible chat over a collection")
async def chat_completions(request: Request, body: ChatRequest) -> Any:
    rt = runtime(request)
    settings = collection_settings(request, collection_of(body.model, rt.settings), None)
    question, history = conversation(body.messages)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    llm = rt.settings.llm
    if not body.stream:
        answer = await rt.answer(question, history, settings, llm, None)
        return {
            "id": completion_id, "object": "chat.completion", "created": created,
            "model": body.model,
            "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                         "message": {"role": "assistant", "refusal": None,
                                     "content": answer.text + sources_text(answer)}}],
            **extra_fields(answer),
        }
    items = rt.answer_stream(question, history, settings, llm, None)
    first = await anext(items)  # a bad request fails here, as a JSON error

    def chunk(delta: dict[str, Any], finish: str | None = None,
              **extra: Any) -> str:
        return sse({"id": completion_id, "object": "chat.completion.chunk", "created": created,
                    "model": body.model,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                 "finish_reason": finish}], **extra})

    async def events() -> AsyncIterator[str]:
        streamed = ""
        try:
            yield chunk({"role": "assistant", "content": ""})
            item: str | Answer = first
            while not isinstance(item, Answer):
                streamed += item
                yield chunk({"content": item})
                item = await anext(items)
            tail = ""
            if _shape(streamed) != _shape(item.text):
                tail = ("\n\n" + CHECKED if streamed else "") + item.text
            tail += sources_text(item)
            if tail:
                yield chunk({"content": tail})
            yield chunk({}, "stop", **extra_fields(item))
        except Exception as exc:  # noqa: BLE001 - the status line has gone out already
            yield sse(error_body(request.app.state.error_message(exc)))
        finally:
            await items.aclose()
        yield "data: [DONE]\n\n"

    response: StreamingResponse = event_stream(events())
    return response
