"""The naive LangChain conversational chain that ``qa eval chat`` measures qa against.

It is the chain of LangChain's conversational RAG tutorial, as a newcomer would
build it: ``create_history_aware_retriever`` (the model rewrites a follow-up with
:data:`CONTEXTUALIZE_PROMPT`), ``create_stuff_documents_chain`` with
:data:`QA_PROMPT` and ``create_retrieval_chain``; the documents split with
``RecursiveCharacterTextSplitter(1000, 200)`` into Chroma with
``HuggingFaceEmbeddings`` over the same all-MiniLM-L6-v2 files qa uses (as in
``qa bench ingest``), top 4 chunks; the same chat model object as qa.

Its "I don't know" signal is :data:`IDK`, a regular expression for the ways such a
reply says the context does not hold the answer (qa refuses explicitly instead).
"""

from __future__ import annotations

import hashlib
import logging
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import MissingDependencyError

log = logging.getLogger(__name__)

# The baseline's name in the keys of its cached answers (``qa eval chat --baseline-cache``);
# fixed, so the answers cached under it stay valid.
NAME = "qa.evaluation.naive_chat"

CONTEXTUALIZE_PROMPT = (
    "Given a chat history and the latest user question which might reference context in the "
    "chat history, formulate a standalone question which can be understood without the chat "
    "history. Do NOT answer the question, just reformulate it if needed and otherwise return it "
    "as is."
)
QA_PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of retrieved "
    "context to answer the question. If you don't know the answer, say that you don't know. "
    "Use three sentences maximum and keep the answer concise.\n\n{context}"
)
CHUNK_SIZE, CHUNK_OVERLAP, TOP_K = 1000, 200, 4

# "I don't know" and its variants, and replies that say the context lacks the answer.
IDK = re.compile(
    r"\b(?:(?:do|does|did)\s*(?:n['’]t|not)\s+know"
    r"|(?:can['’]?not|can['’]t|unable to|not able to)\s+(?:answer|determine|find|provide|say|tell)"
    r"|(?:do|does|did)\s*(?:n['’]t|not)\s+(?:provide|mention|contain|include|specify|state|say"
    r"|have|give|offer)"
    r"|(?:is|are)\s+not\s+(?:provided|mentioned|specified|stated|given|available|included)"
    r"|not\s+enough\s+information|no\s+(?:information|mention|details?)\s+(?:about|on|regarding"
    r"|in|is|are)|there\s+is\s+no\s+(?:information|mention))",
    re.I,
)


def is_idk(text: str) -> bool:
    """Whether a baseline reply says it does not know (see :data:`IDK`).

    >>> is_idk("I don't know."), is_idk("The context does not provide that.")
    (True, True)
    >>> is_idk("You can file Form 1040 online.")
    False
    """
    return bool(IDK.search(text)) or not text.strip()


@dataclass
class NaiveReply:
    text: str
    contexts: list[str] = field(default_factory=list)
    first_token: float = 0.0
    total: float = 0.0


class NaiveChat:
    """The naive chain over one folder of documents; the Chroma index is built once and kept.

    Args:
        docs: MTRAG documents (``id``, ``title``, ``text``).
        folder: where this index lives; a finished index there is reused.
        chat: the chat model (the same object qa answers with).
        embeddings: a LangChain embeddings object (see :func:`naive_embeddings`).
    """

    def __init__(self, docs: list[dict[str, Any]], folder: Path, chat: Any,
                 embeddings: Any) -> None:
        try:
            from langchain_chroma import Chroma
        except ImportError as exc:
            raise MissingDependencyError("langchain-chroma", "bench", "The naive baseline") from exc
        self.folder = folder
        done = folder / "complete"
        if not done.exists():
            self._build(docs, embeddings)
        self.store = Chroma(collection_name="naive", embedding_function=embeddings,
                            persist_directory=str(folder / "chroma"))
        self.chain = build_chain(chat, self.store.as_retriever(search_kwargs={"k": TOP_K}))

    def _build(self, docs: list[dict[str, Any]], embeddings: Any) -> None:
        from langchain_chroma import Chroma
        from langchain_core.documents import Document
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        shutil.rmtree(self.folder, ignore_errors=True)  # an unfinished earlier build
        self.folder.mkdir(parents=True)
        started = time.perf_counter()
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE,
                                                  chunk_overlap=CHUNK_OVERLAP)
        splits = splitter.split_documents(
            [Document(page_content=d["text"], metadata={"source": d["id"], "title": d["title"]})
             for d in docs])
        Chroma.from_documents(splits, embeddings, collection_name="naive",
                              persist_directory=str(self.folder / "chroma"))
        (self.folder / "complete").write_text(f"{len(splits)}\n", encoding="utf-8")
        log.info("naive index %s: %d chunks in %.0fs", self.folder.name, len(splits),
                 time.perf_counter() - started)

    def ask(self, question: str, history: list[dict[str, str]]) -> NaiveReply:
        """Answer ``question`` after ``history``, timing the first streamed answer text."""
        from langchain_core.messages import AIMessage, HumanMessage

        messages = [HumanMessage(m["content"]) if m["role"] == "user" else AIMessage(m["content"])
                    for m in history]
        reply = NaiveReply("")
        started = time.perf_counter()
        for chunk in self.chain.stream({"input": question, "chat_history": messages}):
            if chunk.get("context"):
                reply.contexts = [d.page_content for d in chunk["context"]]
            piece = chunk.get("answer")
            if piece:
                if not reply.text:
                    reply.first_token = time.perf_counter() - started
                reply.text += piece
        reply.total = time.perf_counter() - started
        if not reply.text:
            reply.first_token = reply.total
        return reply


def build_chain(chat: Any, retriever: Any) -> Any:
    """LangChain's conversational retrieval chain with its standard prompts."""
    from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

    try:
        from langchain_classic.chains import create_history_aware_retriever, create_retrieval_chain
        from langchain_classic.chains.combine_documents import create_stuff_documents_chain
    except ImportError as exc:
        raise MissingDependencyError("langchain-classic", "bench", "The naive baseline") from exc
    contextualize = ChatPromptTemplate.from_messages(
        [("system", CONTEXTUALIZE_PROMPT), MessagesPlaceholder("chat_history"), ("human", "{input}")])
    answer = ChatPromptTemplate.from_messages(
        [("system", QA_PROMPT), MessagesPlaceholder("chat_history"), ("human", "{input}")])
    history_aware = create_history_aware_retriever(chat, retriever, contextualize)
    return create_retrieval_chain(history_aware, create_stuff_documents_chain(chat, answer))


def naive_embeddings(model: str) -> Any:
    """``HuggingFaceEmbeddings`` over the local files of embedding model ``model``."""
    from qa.embedding import resolve_model_path

    try:
        from langchain_huggingface import HuggingFaceEmbeddings
    except ImportError as exc:
        raise MissingDependencyError("langchain-huggingface", "bench",
                                     "The naive baseline") from exc
    return HuggingFaceEmbeddings(model_name=resolve_model_path(model))


def index_folder(root: Path, name: str, digest: str, model: str) -> Path:
    """The folder of one naive index, named after its data and its fixed settings."""
    shape = f"{digest}|{model}|{CHUNK_SIZE}|{CHUNK_OVERLAP}"
    return root / f"naive-{name}-{hashlib.sha1(shape.encode()).hexdigest()[:10]}"
