"""qa: answers from your own documents, with the passages they came from.

The whole API::

    from qa import ingest, retrieve, documents, remove, reindex, Settings, Workspace

    report = ingest(["notes/", "paper.pdf"])          # IngestReport
    passages = retrieve("what did the paper find?")     # list[Passage]
    documents()                                         # list[DocumentInfo]
    remove("paper.pdf")                                 # by path or id
    doctor(repair=True)                                 # stores agree? rebuild
    QARetriever(k=4)                                    # a LangChain BaseRetriever
    answer = ask("who hosted the talks?")               # Answer, with citations
    for item in ask_stream("and in February?", history):  # str deltas, then the Answer
        ...
    with Workspace(settings, collection="notes") as ws:  # one collection with its store
        ws.ingest(["notes/"])                           # and models; the functions above
        ws.ask("who hosted the talks?")                 # use a default one per settings
"""

import importlib
from typing import TYPE_CHECKING

from qa.config import PROCESS_DEFAULTS, Settings, apply_process_defaults
from qa.errors import QAError
from qa.types import (
    Answer,
    Citation,
    DocumentInfo,
    FileResult,
    IngestReport,
    LoadedDocument,
    Passage,
)

# The one variable set on import: libgomp reads OMP_WAIT_POLICY once, when torch,
# ONNX Runtime or llama.cpp first loads it, which may be any later import of the
# caller's. Everything else waits for an entry point or a model loader.
apply_process_defaults({"OMP_WAIT_POLICY": PROCESS_DEFAULTS["OMP_WAIT_POLICY"]})

if TYPE_CHECKING:
    from qa.api import (
        ask,
        ask_stream,
        documents,
        ingest,
        ingest_loaded,
        reindex,
        remove,
        retrieve,
        retriever,
    )
    from qa.doctor import DoctorReport, doctor
    from qa.langchain import QARetriever
    from qa.workspace import Workspace

# Imported on first use, so `import qa` (and every `qa` command) pays only for what
# it calls: the store, the models and LangChain take seconds to import.
_LAZY = {
    **dict.fromkeys(["ask", "ask_stream", "documents", "ingest", "ingest_loaded", "reindex",
                     "remove", "retrieve", "retriever"], "qa.api"),
    **dict.fromkeys(["DoctorReport", "doctor"], "qa.doctor"),
    "QARetriever": "qa.langchain",
    "Workspace": "qa.workspace",
}

__all__ = [
    "Answer",
    "Citation",
    "DoctorReport",
    "DocumentInfo",
    "FileResult",
    "IngestReport",
    "LoadedDocument",
    "Passage",
    "QAError",
    "QARetriever",
    "Settings",
    "Workspace",
    "ask",
    "ask_stream",
    "doctor",
    "documents",
    "ingest",
    "ingest_loaded",
    "reindex",
    "remove",
    "retrieve",
    "retriever",
]


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qa' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
