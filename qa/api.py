"""The Python face of qa: ingest, retrieve, list, remove, reindex, ask.

Each function takes optional ``settings`` (default: :meth:`Settings.from_env`)
and ``collection``, and is a call on the process's default
:class:`~qa.workspace.Workspace` for those settings (:func:`workspace`), which
loads the models and opens the store once and reuses them.

Example::

    from qa import ingest, retrieve

    ingest(["seeds/"])
    for p in retrieve("Which countries attended the Moscow conference?", k=3):
        print(p.score, p.title, p.page, p.text[:80])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from qa.config import SearchMode, Settings
from qa.embedding import Embedder
from qa.index import Store
from qa.ingestion.progress import ProgressCallback
from qa.retrieval import Retriever
from qa.types import Answer, DocumentInfo, IngestReport, LoadedDocument, Passage
from qa.workspace import History, Workspace

# The default workspace per settings: the one cache of the module-level API.
_workspaces: dict[tuple[Settings, str], Workspace] = {}
_workspaces_lock = threading.Lock()


def workspace(settings: Settings | None = None, collection: str | None = None) -> Workspace:
    """The process's default workspace for ``settings`` (default :meth:`Settings.from_env`)
    and ``collection``, made on first use."""
    settings = (settings or Settings.from_env()).with_(collection=collection)
    key = (settings, str(settings.data_dir.resolve()))
    with _workspaces_lock:
        if key not in _workspaces:
            _workspaces[key] = Workspace(settings)
        return _workspaces[key]


def open_store(settings: Settings, embedder: Embedder | None = None) -> Store:
    """The store of ``settings.collection``, opened once per process.

    ``embedder``, if given, is the one :func:`qa.embedding.get_embedder` loaded for
    ``settings``: the workspace uses that same process-wide instance.
    """
    return workspace(settings).store


def retriever(settings: Settings | None = None, collection: str | None = None) -> Retriever:
    """A :class:`Retriever` over one collection, with the configured model."""
    return workspace(settings, collection).retriever()


def ingest(
    paths: str | Path | Iterable[str | Path],
    *,
    collection: str | None = None,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Index files and folders of every type in ``qa.loaders.SUPPORTED_SUFFIXES``.

    Unchanged files embed nothing; a changed file replaces its old chunks; a
    file that cannot be read is reported in the result and the rest go on.

    Returns:
        An :class:`IngestReport` with one :class:`FileResult` per file.
    """
    return workspace(settings, collection).ingest(paths, progress=progress)


def ingest_loaded(
    docs: Iterable[LoadedDocument],
    *,
    collection: str | None = None,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
) -> IngestReport:
    """Index documents that are already in memory (see :class:`LoadedDocument`)."""
    return workspace(settings, collection).ingest_loaded(docs, progress=progress)


def retrieve(
    query: str,
    k: int = 5,
    *,
    collection: str | None = None,
    documents: Iterable[str] | None = None,
    mode: SearchMode | None = None,
    settings: Settings | None = None,
) -> list[Passage]:
    """The ``k`` passages that best match ``query``, best first.

    Args:
        query: the question or keywords.
        k: how many passages.
        collection: which collection (default: the configured one).
        documents: only search these documents (ids or source paths).
        mode: "hybrid" (default), "dense" or "keyword".

    Raises:
        StoreError: the collection has never been ingested into.
        ModelMismatchError: the collection was built with another model.
    """
    return workspace(settings, collection).retrieve(query, k, documents=documents, mode=mode)


def documents(
    collection: str | None = None, settings: Settings | None = None
) -> list[DocumentInfo]:
    """The collection's searchable documents with their chunk counts."""
    return workspace(settings, collection).documents()


def remove(
    doc: str, collection: str | None = None, settings: Settings | None = None
) -> DocumentInfo:
    """Delete a document (by id, unique id prefix, or source path) from every index."""
    return workspace(settings, collection).remove(doc)


def reindex(
    collection: str | None = None,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
) -> int:
    """Re-chunk and re-embed every document with the configured model and chunking.

    Builds a new generation beside the current one and switches atomically, so
    an interrupted reindex leaves the collection as it was. Returns the number
    of chunks embedded.
    """
    return workspace(settings, collection).reindex(progress)


def ask_stream(
    question: str,
    history: History | None = None,
    *,
    collection: str | None = None,
    llm: str | None = None,
    k: int | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> Iterator[str | Answer]:
    """Answer ``question`` as a stream: text deltas (``str``), then the final :class:`Answer`.

    The deltas add up to the text as generated; the final :class:`Answer` is
    always the last item and is what to show once the stream ends: its ``text``
    has passed the citation check (unsupported sentences dropped, markers
    renumbered), so it can differ from the streamed text, and when the documents
    do not hold the answer it is a refusal with the closest passages.

    Example::

        from qa import Answer, ask_stream

        for item in ask_stream("Who attended the January conference?"):
            if isinstance(item, Answer):
                for c in item.citations:
                    print(f"[{c.n}] {c.title}: {c.quote}")
            else:
                print(item, end="", flush=True)

    Takes the same arguments as :func:`ask`. ``progress``, if given, is called
    with a short line ("Reading report.pdf: section 3 of 9") while a long step runs.
    """
    yield from workspace(settings, collection).ask_stream(question, history, llm=llm, k=k,
                                                          progress=progress)


def ask(
    question: str,
    history: History | None = None,
    *,
    collection: str | None = None,
    llm: str | None = None,
    k: int | None = None,
    settings: Settings | None = None,
    progress: Callable[[str], None] | None = None,
) -> Answer:
    """Answer ``question`` from the indexed documents, citing the passages used.

    Args:
        question: the question; a follow-up may lean on ``history``.
        history: earlier turns, ``[{"role": "user"|"assistant", "content": str}, ...]``,
            oldest first; used to make a follow-up question standalone.
        collection: which collection (default: the configured one).
        llm: the backend: "extractive" (no model), "local" or "provider:model"
            (default: ``settings.llm``, i.e. ``QA_LLM``).
        k: passages to retrieve (default ``settings.k``).
        settings: default :meth:`Settings.from_env`.

    Returns:
        An :class:`Answer`: ``text`` with ``[n]`` markers matching ``citations``
        (each with source, title, page, section, span and the supporting quote
        with its document offsets), or ``refused=True`` with the closest passages.

    Raises:
        StoreError: the collection has not been ingested into.
        ConfigError, MissingDependencyError: the backend cannot be used.

    Example::

        from qa import ask

        answer = ask("Which countries took part in the conference Moscow hosted in January?")
        print(answer.text)         # "... Pakistan and China ... [1]."
        answer.citations[0].quote  # the sentence that says so
        follow = ask("And which countries were invited in February?",
                     history=[{"role": "user", "content": answer.question},
                              {"role": "assistant", "content": answer.text}])
    """
    return workspace(settings, collection).ask(question, history, llm=llm, k=k,
                                               progress=progress)


def rewrite(
    question: str,
    history: History | None = None,
    *,
    llm: str | None = None,
    settings: Settings | None = None,
) -> str:
    """The standalone question qa searches with for ``question`` after ``history``.

    This is the query the chain retrieves with (``Answer.standalone_question``),
    without retrieving or answering; evaluation compares it with people's rewrites.
    """
    return workspace(settings).rewrite(question, history, llm=llm)
