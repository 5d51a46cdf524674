"""``Workspace``: one collection with the store, embedder and chat model that serve it.

A workspace is cheap to build: nothing is loaded until first needed (or until
:meth:`Workspace.load`), and each part is then made once, behind the
workspace's lock. ``qa.ingest``, ``qa.retrieve``, ``qa.ask`` and the rest of the
module-level API are calls on a default workspace per settings
(:func:`qa.api.workspace`); the web app, the server and ``qa watch`` hold theirs.

Example::

    from qa import Settings, Workspace

    with Workspace(Settings.from_env(data_dir="notes_index")) as ws:
        ws.ingest(["notes/"])
        answer = ws.ask("Who hosted the January conference?")
        print(answer.text, answer.citations[0].quote)

Importing this module loads no model and no LangChain: the answer chain and the
chat backends are imported on the first question.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from qa.config import SearchMode, Settings
from qa.embedding import Embedder, get_embedder
from qa.errors import DocumentNotFoundError
from qa.index import Store, import_chromadb_in_background
from qa.ingestion.pipeline import ingest_documents, ingest_files
from qa.ingestion.progress import ProgressCallback
from qa.ingestion.reindex import reindex_collection
from qa.retrieval import Retriever
from qa.types import Answer, DocumentInfo, IngestReport, LoadedDocument, Passage

if TYPE_CHECKING:
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.runnables import Runnable

    from qa.answer.chain import AnswerChunk
    from qa.doctor import DoctorReport

History = list[dict[str, str]]
_StoreKey = tuple[str, str, str | None, int, str]

# One Store per collection and process. A Store's keyword index sees its own commits,
# and other processes' through the registry's change counter, but not the commits of a
# second Store of the same collection in this process; so workspaces of one collection
# share its Store. Closing a Store releases its whole data directory (registry
# connection, Chroma client), so the stores of a directory close when the last
# workspace using that directory closes.
_stores: dict[_StoreKey, Store] = {}
_users: weakref.WeakSet[Workspace] = weakref.WeakSet()
_stores_lock = threading.Lock()


class Workspace:
    """One collection of documents, with the store, embedder and chat model it needs.

    Args:
        settings: where the data lives, which models, the defaults for ``k`` and
            the search mode (default :meth:`Settings.from_env`).
        collection: which collection (default ``settings.collection``).

    The embedder and the store are loaded on first use; a chat model is built the
    first time a question needs its backend (one per ``llm`` spec). Model weights
    are shared with other workspaces of the process that use the same model, and
    workspaces of the same collection share its store. Safe to use from several
    threads.

    Example::

        from qa import Settings, Workspace

        ws = Workspace(Settings.from_env(llm="extractive"), collection="papers")
        ws.load()                                       # optional: load everything now
        ws.ingest(["~/papers"])
        for p in ws.retrieve("attention heads", k=3):
            print(p.score, p.title, p.page)
        ws.close()                                      # or use it as a context manager
    """

    def __init__(self, settings: Settings | None = None, *, collection: str | None = None
                 ) -> None:
        self.settings = (settings or Settings.from_env()).with_(collection=collection)
        self._lock = threading.RLock()
        self._embedder: Embedder | None = None
        self._chats: dict[str, BaseChatModel | None] = {}

    def __repr__(self) -> str:
        return (f"Workspace(collection={self.settings.collection!r}, "
                f"data_dir={str(self.settings.data_dir)!r})")

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # --- the loaded parts -------------------------------------------------------

    @property
    def embedder(self) -> Embedder:
        """The embedding model (loaded on first use)."""
        with self._lock:
            if self._embedder is None:
                # get_embedder keeps one model per name and backend for the process,
                # so workspaces with the same model share its weights and sessions.
                self._embedder = get_embedder(self.settings)
            return self._embedder

    @property
    def store(self) -> Store:
        """The collection's store (opened on first use; again after :meth:`close`)."""
        if self._embedder is None:
            import_chromadb_in_background()  # overlaps with loading the embedder
        embedder = self.embedder
        key = self._store_key(embedder)
        with _stores_lock:
            store = _stores.get(key)
            if store is None:
                store = _stores[key] = Store(self.settings, embedder.name, embedder.dim).load()
            _users.add(self)
            return store

    def chat_model(self, llm: str | None = None) -> BaseChatModel | None:
        """The chat model of backend ``llm`` (default ``settings.llm``); None for "extractive".

        Built on first use, once per spec. The local model's weights load on its
        first call, once per process (``qa.llm.llama_chat.load_llama``).

        Raises:
            ConfigError, MissingDependencyError: the backend cannot be used.
        """
        from qa.llm import get_chat_model

        spec = (llm or self.settings.llm).strip()
        with self._lock:
            if spec not in self._chats:
                self._chats[spec] = get_chat_model(spec, self.settings)
            return self._chats[spec]

    def prepare_chat(self, llm: str | None = None) -> BaseChatModel | None:
        """The chat model of ``llm`` (as :meth:`chat_model`), ready now: a model that runs
        on this CPU loads its weights and reads the answer prompt's fixed start
        (:func:`qa.answer.prime`), so the first question waits for neither.

        Raises:
            ConfigError, MissingDependencyError: the backend cannot be used.
        """
        from qa.answer import prime

        chat = self.chat_model(llm)
        if chat is not None:
            prime(chat)
        return chat

    def retriever(self) -> Retriever:
        """A :class:`~qa.retrieval.Retriever` over the collection."""
        return Retriever(self.store, self.embedder)

    def load(self, *, chat: bool = True) -> Workspace:
        """Load everything now instead of on first use: the embedder, the store and,
        with ``chat``, the configured chat model (:meth:`prepare_chat`). Returns ``self``.

        Raises:
            StoreError: the store cannot be opened.
            ConfigError, MissingDependencyError: the answer backend cannot be used.
        """
        self.store  # noqa: B018 - opening it loads the embedder too
        if chat:
            self.prepare_chat()
        return self

    def close(self) -> None:
        """Let go of the loaded parts. The store closes (registry connection, indexes,
        embedded Chroma client) unless another workspace of this process still uses
        its data directory; weights shared with other workspaces stay loaded. Using
        the workspace again opens what it needs again."""
        root = self._root()
        with _stores_lock:
            held = self in _users
            _users.discard(self)
            if not held or any(other._root() == root for other in _users):
                closing: list[Store] = []
            else:
                closing = [_stores.pop(key) for key in list(_stores) if key[0] == root]
        for store in closing:
            store.close()
        with self._lock:
            self._embedder = None
            self._chats.clear()

    # --- documents ----------------------------------------------------------------

    def ingest(
        self, paths: str | Path | Iterable[str | Path], *,
        progress: ProgressCallback | None = None,
    ) -> IngestReport:
        """Index files and folders of every type in ``qa.loaders.SUPPORTED_SUFFIXES``.

        Unchanged files embed nothing; a changed file replaces its old chunks; a
        file that cannot be read is reported in the result and the rest go on.

        Returns:
            An :class:`IngestReport` with one :class:`FileResult` per file.
        """
        if isinstance(paths, (str, Path)):
            paths = [paths]
        return ingest_files(paths, self.settings, self.embedder, self.store, progress)

    def ingest_loaded(
        self, docs: Iterable[LoadedDocument], *, progress: ProgressCallback | None = None
    ) -> IngestReport:
        """Index documents that are already in memory (see :class:`LoadedDocument`)."""
        return ingest_documents(docs, self.settings, self.embedder, self.store, progress)

    def documents(self) -> list[DocumentInfo]:
        """The collection's searchable documents with their chunk counts."""
        store = self.store
        return [
            DocumentInfo(d.id, d.source, d.title, d.chunks)
            for d in store.documents()
        ]

    def remove(self, doc: str) -> DocumentInfo:
        """Delete a document (by id, unique id prefix, or source path) from every index.

        Raises:
            DocumentNotFoundError: ``doc`` matches no document, or several.
        """
        store = self.store
        with store.writing() as info:
            (doc_id,) = _resolve_documents(store, [doc])
            row = store.document(doc_id)
            if row is None:  # resolved from the ready documents under the write lock
                raise DocumentNotFoundError(
                    f"'{doc}' matches no document in collection '{store.name}'; `qa docs` "
                    "lists their ids")
            store.remove(info, doc_id)
        return DocumentInfo(row.id, row.source, row.title, row.chunks)

    def reindex(self, progress: ProgressCallback | None = None) -> int:
        """Re-chunk and re-embed every document with the configured model and chunking.

        Builds a new generation beside the current one and switches atomically, so
        an interrupted reindex leaves the collection as it was. Returns the number
        of chunks embedded.
        """
        return reindex_collection(self.settings, self.embedder, self.store)

    def doctor(self, *, repair: bool = False) -> DoctorReport:
        """Check that the collection's registry, vectors and keyword index agree; with
        ``repair``, rebuild what can be rebuilt (see :func:`qa.doctor.doctor`)."""
        from qa.doctor import doctor

        return doctor(repair=repair, settings=self.settings)

    # --- search and answers ---------------------------------------------------------

    def retrieve(
        self, query: str, k: int = 5, *, documents: Iterable[str] | None = None,
        mode: SearchMode | None = None,
    ) -> list[Passage]:
        """The ``k`` passages that best match ``query``, best first.

        Args:
            query: the question or keywords.
            k: how many passages.
            documents: only search these documents (ids or source paths).
            mode: "hybrid" (default: ``settings.search_mode``), "dense" or "keyword".

        Raises:
            StoreError: the collection has never been ingested into.
            ModelMismatchError: the collection was built with another model.
        """
        found = self.retriever()
        doc_ids = _resolve_documents(found.store, documents) if documents is not None else None
        return found.passages(query, k=k, mode=mode or self.settings.search_mode,
                              documents=doc_ids)

    def answer_chain(self, llm: str | None = None, k: int | None = None
                     ) -> Runnable[dict[str, Any], AnswerChunk]:
        """The LCEL answer chain (:mod:`qa.answer.chain`) over this collection, with
        backend ``llm`` and ``k`` passages (defaults from the settings)."""
        from qa.answer import build_chain

        spec = (llm or self.settings.llm).strip()
        return build_chain(self.retriever(), self.chat_model(spec), k=k or self.settings.k,
                           mode=self.settings.search_mode, backend=spec)

    def ask_stream(
        self, question: str, history: History | None = None, *, llm: str | None = None,
        k: int | None = None, progress: Callable[[str], None] | None = None,
    ) -> Iterator[str | Answer]:
        """Answer ``question`` as a stream: text deltas (``str``), then the final :class:`Answer`.

        The deltas add up to the text as generated; the final :class:`Answer` is
        always the last item and is what to show once the stream ends (see
        :func:`qa.ask_stream`). Takes the arguments of :meth:`ask`.
        """
        from qa.answer.ask import check_history, check_question, stream_answer

        check_question(question)
        check_history(history)
        chain = self.answer_chain(llm, k)
        started = time.perf_counter()  # timings count from here: the parts are loaded
        yield from stream_answer(chain, question, history, started=started, progress=progress)

    def ask(
        self, question: str, history: History | None = None, *, llm: str | None = None,
        k: int | None = None, progress: Callable[[str], None] | None = None,
    ) -> Answer:
        """Answer ``question`` from the collection, citing the passages used.

        Args:
            question: the question; a follow-up may lean on ``history``.
            history: earlier turns, ``[{"role": "user"|"assistant", "content": str}, ...]``.
            llm: the backend: "extractive", "local" or "provider:model"
                (default ``settings.llm``).
            k: passages to retrieve (default ``settings.k``).
            progress: called with a short line while a long step runs.

        Returns:
            An :class:`Answer` with checked ``[n]`` citations, or a refusal.
        """
        final: Answer | None = None
        for item in self.ask_stream(question, history, llm=llm, k=k, progress=progress):
            if isinstance(item, Answer):
                final = item
        assert final is not None
        return final

    def rewrite(self, question: str, history: History | None = None, *,
                llm: str | None = None) -> str:
        """The standalone question the answer chain searches with for ``question``
        after ``history`` (``Answer.standalone_question``), without retrieving."""
        from qa.answer.ask import check_history, rewrite

        check_history(history)
        return rewrite(question, history, self.chat_model(llm))

    # --- plumbing ---------------------------------------------------------------------

    def _root(self) -> str:
        return str(self.settings.data_dir.resolve())

    def _store_key(self, embedder: Embedder) -> _StoreKey:
        s = self.settings
        return (self._root(), s.collection, s.chroma_host, s.chroma_port, embedder.name)


def release_stores(data_dir: Path) -> None:
    """Close this process's stores of ``data_dir``; workspaces open them again on next use."""
    root = str(data_dir.resolve())
    with _stores_lock:
        closing = [_stores.pop(key) for key in list(_stores) if key[0] == root]
    for store in closing:
        store.close()


def _resolve_documents(store: Store, refs: Iterable[str]) -> list[str]:
    docs = store.documents()
    out: list[str] = []
    for ref in refs:
        path = str(Path(ref).expanduser().resolve()) if ref else ref
        matches = [d.id for d in docs if d.id == ref or d.source in (ref, path)]
        if not matches:
            matches = [d.id for d in docs if d.id.startswith(ref)] if len(ref) >= 6 else []
        if len(matches) != 1:
            what = "matches no document" if not matches else "matches several documents"
            raise DocumentNotFoundError(
                f"'{ref}' {what} in collection '{store.name}'; `qa docs` lists their ids"
            )
        out.append(matches[0])
    return out
