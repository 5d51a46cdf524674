"""The few records that cross module borders."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import PurePosixPath
from typing import Any


@dataclass(frozen=True)
class Block:
    """A span of a loaded document's text that shares one page and section.

    Loaders describe structure with blocks; the chunker never lets a chunk
    straddle two pages, and records the section of the block a chunk starts in.

    Attributes:
        start: offset of the first character in ``LoadedDocument.text``.
        end: offset one past the last character.
        page: 1-based page number (PDF), else ``None``.
        section: heading path of the enclosing section ("Intro > Scope"), or "".
        kind: "heading" for a heading line, "text" otherwise.
    """

    start: int
    end: int
    page: int | None = None
    section: str = ""
    kind: str = "text"


@dataclass
class LoadedDocument:
    """A file turned into plain text plus its structure.

    ``text`` is what passages quote: clean text, no markup. ``blocks`` cover the
    text in order; paragraphs are separated by blank lines inside the text.
    """

    source: str
    title: str
    text: str
    blocks: list[Block]
    content_hash: str
    mime: str = "text/plain"
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A piece of a document that is embedded and indexed as one unit."""

    doc_id: str
    index: int
    text: str
    start: int
    end: int
    page: int | None
    section: str

    @property
    def chunk_id(self) -> str:
        return f"{self.doc_id}:{self.index}"


@dataclass(frozen=True)
class Passage:
    """A retrieved chunk with its provenance, as returned by ``retrieve``.

    ``start``/``end`` are character offsets into the document's extracted text.
    """

    text: str
    score: float
    source: str
    title: str
    page: int | None
    section: str
    start: int
    end: int
    chunk_id: str
    doc_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class DocumentInfo:
    """A document in a collection, as listed by ``documents``."""

    id: str
    source: str
    title: str
    chunks: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FileResult:
    """What happened to one file during ingest."""

    path: str
    status: str  # "added" | "replaced" | "unchanged" | "duplicate" | "failed"
    doc_id: str | None = None
    chunks: int = 0
    message: str = ""


@dataclass
class IngestReport:
    """The outcome of one ``ingest`` call."""

    files: list[FileResult] = field(default_factory=list)
    chunks_embedded: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[FileResult]:
        return [f for f in self.files if f.status == "failed"]

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)

    def summary(self) -> str:
        parts = [
            f"{self.count(s)} {s}"
            for s in ("added", "replaced", "unchanged", "duplicate", "failed")
            if self.count(s)
        ]
        rate = self.chunks_embedded / self.seconds if self.seconds > 0 else 0.0
        return (
            f"{counted(len(self.files), 'file')}: {', '.join(parts) or 'nothing to do'}; "
            f"{counted(self.chunks_embedded, 'chunk')} embedded in {self.seconds:.1f}s"
            + (f" ({rate:.1f} chunks/s)" if self.chunks_embedded else "")
        )


def counted(n: int, noun: str) -> str:
    """``n`` and a regular ``noun``, plural unless one: "1 chunk", "3 chunks"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@dataclass(frozen=True)
class Citation:
    """A passage an answer cites as ``[n]``, with the span that supports the claim.

    ``start``/``end`` locate the whole passage in its document's text;
    ``quote_start``/``quote_end`` locate the supporting sentence(s) inside the
    document text too (so ``text[quote_start - start : quote_end - start]`` is
    the quote), for highlighting.
    """

    n: int
    source: str
    title: str
    page: int | None
    section: str
    start: int
    end: int
    text: str
    quote: str
    quote_start: int
    quote_end: int
    chunk_id: str
    doc_id: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Answer:
    """What ``ask`` returns.

    Attributes:
        text: the answer, with ``[n]`` markers that match ``citations``.
        refused: True when the documents do not contain the answer; ``text``
            then says so and ``passages`` holds the closest passages.
        citations: the cited passages, numbered as in the text.
        passages: every passage given to the model, in prompt order.
        standalone_question: the question rewritten without the chat history.
        timings: seconds per stage ("retrieve", "first_token", "total", ...).
        flagged: sentences removed because their citation did not support them.
        clarifying: True when ``text`` is a question back to the user, because the
            question was too vague to answer from the documents (not a refusal).
        route: "passages" (the best passages answered it) or "document" (a
            whole-document question: the document itself was read).
        signals: the numbers the refusal decision looked at ("best_sentence":
            the best passage sentence's score for the question; "top_passage":
            the best passage's retrieval score).
    """

    question: str
    text: str
    refused: bool
    citations: list[Citation] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    standalone_question: str = ""
    backend: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    flagged: list[str] = field(default_factory=list)
    clarifying: bool = False
    route: str = "passages"
    signals: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "answer": self.text,
            "refused": self.refused,
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages],
            "standalone_question": self.standalone_question,
            "backend": self.backend,
            "timings": self.timings,
            "flagged": self.flagged,
            "clarifying": self.clarifying,
            "route": self.route,
            "signals": self.signals,
        }


def display_name(source: str) -> str:
    """The file name to show for a document's source path (never the folders).

    >>> display_name("/home/me/notes/plan.txt")
    'plan.txt'
    """
    return PurePosixPath(source.replace("\\", "/")).name or source
