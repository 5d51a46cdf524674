# Over 400 lines: one page, drawn top to bottom on every rerun; its panels share the session state.
"""Chat with your documents: answers with the passages they came from.

Run with ``streamlit run app.py``. A thin web face over :mod:`qa`: retrieval,
prompting and citation checking all happen in the library, so this page, the
CLI and the Python API answer alike. The page keeps the chat and the sidebar
settings per browser session.

Everything a document says is shown as text (see :mod:`qa.ui`); no HTML is
ever rendered from documents, uploads or answers. The page holds one
:class:`qa.Workspace` per settings (:func:`workspace`); helpers that draw nothing
live in :mod:`qa.ui` and :mod:`qa.uploads`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.uploaded_file_manager import UploadedFile

from qa import QAError, Settings, Workspace
from qa.config import apply_process_defaults
from qa.ingestion.progress import IngestProgress, ProgressCallback
from qa.llm import parse_spec
from qa.llm.llama_chat import BackgroundLoad
from qa.loaders import SUPPORTED_SUFFIXES
from qa.render import render_page
from qa.sync import sync
from qa.types import Answer, Citation, FileResult, Passage, counted, display_name
from qa.ui import (
    Span,
    backend_choices,
    default_backend,
    describe_result,
    error_message,
    escape_markdown,
    highlight_markdown,
    location,
    preview,
    surrounding_text,
)
from qa.uploads import (
    discard_upload,
    is_stored_upload,
    replace_older_upload,
    upload_path,
    uploads_dir,
)

APP_DIR = Path(__file__).resolve().parent
SEEDS = APP_DIR / "seeds"
UPLOAD_TYPES = sorted(s.lstrip(".") for s in SUPPORTED_SUFFIXES)
MAX_K = 20
ERROR_ICON = ":material/error:"


@dataclass
class Turn:
    """One chat message; an assistant turn keeps its whole Answer for the source cards."""

    role: str  # "user" | "assistant"
    content: str
    answer: Answer | None = None
    error: str = ""


# --- errors ------------------------------------------------------------------


@dataclass
class Outcome:
    """Whether a :func:`shown_errors` block finished without an error."""

    ok: bool = True


@contextmanager
def shown_errors(action: str) -> Iterator[Outcome]:
    """Turn a failure inside the block into an error message on the page, never a traceback."""
    outcome = Outcome()
    try:
        yield outcome
    except Exception as exc:  # st.stop/st.rerun are BaseExceptions and pass through
        outcome.ok = False
        st.error(escape_markdown(error_message(action, exc)), icon=ERROR_ICON)


def notify(kind: str, message: str) -> None:
    """Queue a message for the next run (callbacks run before the page is drawn)."""
    st.session_state.notices.append((kind, message))


def show_notices() -> None:
    for kind, message in st.session_state.notices:
        (st.success if kind == "success" else st.error)(escape_markdown(message))
    st.session_state.notices = []


# --- settings ----------------------------------------------------------------


def init_state(base: Settings) -> None:
    defaults: dict[str, Any] = {
        "turns": [],
        "notices": [],
        "upload_results": [],
        "uploader_key": 0,
        "collection": base.collection,
        "backend": default_backend(base),
        "k": min(base.k, MAX_K),
    }
    for key, value in defaults.items():
        st.session_state.setdefault(key, value)


def settings_panel(base: Settings) -> Settings:
    """Collection, answer backend and k; returns the settings the page uses."""
    st.subheader("Settings")
    collection = st.text_input(
        "Collection", key="collection",
        help="Documents live in named collections; a new name starts an empty one.",
    )
    backends = backend_choices(base)
    if st.session_state.backend not in backends:
        st.session_state.backend = backends[0]
    st.selectbox(
        "Answer backend", backends, key="backend",
        help="extractive quotes the passages without a language model; local runs a small "
             "model on this machine; provider:model calls that provider.",
    )
    if base.llm not in backends:
        st.caption(escape_markdown(f"QA_LLM={base.llm} is not usable here; "
                                   f"choose one of: {', '.join(backends)}."))
    st.slider("Passages per question (k)", 1, MAX_K, key="k")
    try:
        return base.with_(collection=collection.strip() or base.collection,
                          llm=st.session_state.backend, k=st.session_state.k)
    except QAError as exc:
        st.error(escape_markdown(f"{exc}. Using '{base.collection}'."))
        return base.with_(llm=st.session_state.backend, k=st.session_state.k)


# --- models and first run ------------------------------------------------------


@st.cache_resource(show_spinner=False)
def workspace(settings: Settings) -> Workspace:
    """The workspace of ``settings``, one per process and settings; it loads its parts
    on first use, and workspaces of one collection share its store and models."""
    return Workspace(settings)


@st.cache_resource(show_spinner=False)
def answer_model_loading(spec: str, data_dir: str, _settings: Settings) -> BackgroundLoad | None:
    """Start loading the chosen chat model in a background thread, once per process.

    The page and the chat input do not wait for it: a question asked meanwhile waits
    only for what is left of the load (:meth:`~qa.workspace.Workspace.prepare_chat`:
    the local model also reads the answer prompt's fixed start; remote models are
    built, not called). None for extractive, which has no model.
    """
    if parse_spec(spec).kind == "extractive":
        return None

    return BackgroundLoad(lambda: workspace(_settings).prepare_chat(spec),
                          name=f"answer model {spec}")


def answer_model_status(spec: str, data_dir: str, settings: Settings) -> None:
    """Say whether the answer model is loading, ready or failed; redrawn each second
    while it loads."""
    job = answer_model_loading(spec, data_dir, settings)
    if job is None:
        return

    def draw() -> None:
        if job.state == "loading":
            st.caption(escape_markdown(f"Loading the answer model ({spec})…"),
                       help="Questions can be asked already; the first answer waits for the "
                            "rest of the load.")
        elif job.error is not None:
            st.error(escape_markdown(error_message(f"Loading the answer backend '{spec}'",
                                                   job.error)), icon=ERROR_ICON)
        else:
            st.caption(escape_markdown(f"Answer model ready ({spec}, loaded in "
                                       f"{job.seconds or 0:.1f} s)."))

    if job.state == "loading":
        st.fragment(draw, run_every=1.0)()
    else:
        draw()


def seed_first_run(settings: Settings) -> None:
    """Index ``seeds/`` when the starting collection is empty on the very first run.

    A marker in the data directory remembers that the seeds were added, so a
    collection the user emptied on purpose stays empty.
    """
    marker = settings.data_dir / "app" / f"seeded-{settings.collection}"
    if marker.exists() or not SEEDS.is_dir() or workspace(settings).documents():
        return
    with st.status("First run: indexing the sample documents in seeds/ …") as status:
        report = workspace(settings).ingest([SEEDS], progress=progress_bar(status))
        for result in report.failed:
            status.caption(describe_result(display_name(result.path), result))
        status.update(label=f"First run: seeds/ — {report.summary()}",
                      state="error" if report.failed else "complete")
    if report.count("added") or report.count("unchanged"):
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    message = (f"First run: the collection '{settings.collection}' was empty, so the sample "
               f"documents in seeds/ were indexed ({report.summary()}).")
    for result in report.failed:
        message += f" {display_name(result.path)} failed: {result.message}"
    st.session_state.seed_message = message


def progress_bar(where: DeltaGenerator) -> ProgressCallback:
    """An ingest progress callback drawing a progress bar inside ``where``."""
    bar = where.progress(0.0, text="Starting…")

    def update(p: IngestProgress) -> None:
        done = p.files_done / p.files_total if p.files_total else 1.0
        name = display_name(p.last.path) if p.last else ""
        bar.progress(min(done, 1.0), text=escape_markdown(f"{p.describe()} · {name}"))

    return update


# --- documents -----------------------------------------------------------------


def documents_panel(settings: Settings) -> None:
    """Upload files, see what each became, list and remove documents."""
    st.subheader("Documents")
    files = st.file_uploader(
        f"Add files (up to {upload_limit_mb(settings)} MB each)",
        type=UPLOAD_TYPES, accept_multiple_files=True,
        key=f"uploader-{st.session_state.uploader_key}",
        help=f"Supported: {', '.join('.' + t for t in UPLOAD_TYPES)}",
    )
    if files:
        with shown_errors("Adding the files"):
            st.session_state.upload_results = ingest_uploads(files, settings)
        # A fresh uploader, so the same files are not added again on the next run.
        st.session_state.uploader_key += 1
    for name, result in st.session_state.upload_results:
        st.caption(describe_result(name, result))
    show_notices()
    with st.expander("Sync a folder"):
        folder = st.text_input("Folder", key="sync-folder", placeholder="~/papers",
                               help="New and changed files are indexed, deleted ones removed")
        if st.button("Sync", key="sync-button", icon=":material/sync:") and folder.strip():
            with shown_errors("Syncing the folder"), st.status("Syncing…") as status:
                report = sync([folder.strip()], workspace=workspace(settings),
                              progress=progress_bar(status))
                status.update(label=escape_markdown(f"Synced: {report.summary()}"),
                              state="error" if report.failed else "complete")
    docs = workspace(settings).documents()
    if not docs:
        st.caption(escape_markdown(f"The collection '{settings.collection}' has no documents yet."))
    for doc in docs:
        text_col, button_col = st.columns([5, 1], vertical_alignment="center")
        text_col.markdown(f"**{escape_markdown(doc.title)}**")
        text_col.caption(escape_markdown(f"{display_name(doc.source)} · {counted(doc.chunks, 'chunk')}"))
        button_col.button(
            ":material/delete:", key=f"remove-{doc.id}", on_click=remove_document,
            args=(doc.id, settings), type="tertiary",
            help=escape_markdown(f"Remove {display_name(doc.source)} from the index"),
        )


def upload_limit_mb(settings: Settings) -> int:
    """QA_MAX_FILE_MB, or Streamlit's server.maxUploadSize when that is lower."""
    return min(settings.max_file_mb, int(st.get_option("server.maxUploadSize")))


def ingest_uploads(
    files: list[UploadedFile], settings: Settings
) -> list[tuple[str, FileResult]]:
    """Store uploads under safe generated names, index them, and say what happened to each."""
    limit_mb = upload_limit_mb(settings)
    names: dict[str, str] = {}
    results: list[tuple[str, FileResult]] = []
    for file in files:
        if file.size > limit_mb * 2**20:
            results.append((file.name, FileResult(
                file.name, "failed",
                message=f"is {file.size / 2**20:.1f} MB; the limit is {limit_mb} MB")))
            continue
        data = file.getvalue()
        path = upload_path(uploads_dir(settings), file.name, data)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_bytes(data)
        names[str(path.resolve())] = file.name
    if names:
        with st.status(f"Indexing {len(names)} file(s)…") as status:
            report = workspace(settings).ingest(list(names), progress=progress_bar(status))
            status.update(label=f"Indexed: {report.summary()}",
                          state="error" if report.failed else "complete")
        for r in report.files:
            results.append((names.get(r.path, display_name(r.path)), r))
            if r.status in ("failed", "duplicate") and r.path in names:
                discard_upload(Path(r.path), settings)  # not indexed: keep no copy
            elif r.status == "added" and r.path in names:
                replace_older_upload(Path(r.path), workspace(settings))
    return results


def remove_document(doc_id: str, settings: Settings) -> None:
    """Button callback: drop a document from the index, and its uploaded copy if any."""
    try:
        info = workspace(settings).remove(doc_id)
    except Exception as exc:
        notify("error", error_message("Removing the document", exc))
        return
    discard_upload(Path(info.source), settings)
    notify("success", f"Removed {display_name(info.source)}.")


# --- chat ----------------------------------------------------------------------


def new_chat() -> None:
    st.session_state.turns = []


def chat_panel(settings: Settings) -> None:
    """The conversation so far, then the question box; answers stream in."""
    turns: list[Turn] = st.session_state.turns
    if not turns and "seed_message" in st.session_state:
        st.info(escape_markdown(st.session_state.seed_message))
    for i, turn in enumerate(turns):
        with st.chat_message(turn.role):
            if turn.error:
                st.error(escape_markdown(turn.error), icon=ERROR_ICON)
            elif turn.answer is not None:
                show_answer(turn.answer, settings, key=f"t{i}")
            else:
                st.markdown(escape_markdown(turn.content))
    question = st.chat_input("Ask a question about your documents")
    if not question:
        return
    history = [{"role": t.role, "content": t.content} for t in turns if not t.error]
    st.session_state.pop("seed_message", None)  # said once; the chat takes over
    turns.append(Turn("user", question))
    with st.chat_message("user"):
        st.markdown(escape_markdown(question))
    with st.chat_message("assistant"):
        turns.append(stream_answer(question, history, settings, key=f"t{len(turns)}"))


def stream_answer(
    question: str, history: list[dict[str, str]], settings: Settings, key: str
) -> Turn:
    """Stream the answer text, then redraw it as final, with its sources.

    The final text replaces the streamed one because the chain may drop
    sentences whose citation does not hold after it streamed them.
    """
    final: list[Answer] = []

    def deltas(items: Iterator[str | Answer]) -> Iterator[str]:
        for item in items:
            if isinstance(item, Answer):
                final.append(item)
            else:
                yield escape_markdown(item)

    slot = st.empty()
    note = st.empty()
    try:
        items = iter(workspace(settings).ask_stream(
            question, history, llm=settings.llm, k=settings.k,
            progress=lambda line: note.caption(escape_markdown(line) + " …")))
        with slot, st.spinner("Searching your documents…"):
            first = next(items, None)
        if first is not None:
            slot.write_stream(deltas(chain([first], items)))
        note.empty()
        if not final:
            raise RuntimeError("the answer stream ended without an Answer")
    except Exception as exc:
        message = error_message("Answering", exc)
        slot.error(escape_markdown(message), icon=ERROR_ICON)
        return Turn("assistant", "", error=message)
    answer = final[-1]
    with slot.container():
        show_answer(answer, settings, key)
    return Turn("assistant", answer.text, answer)


def show_answer(answer: Answer, settings: Settings, key: str) -> None:
    """The final answer with its source cards; a refusal with the closest passages."""
    if answer.clarifying:
        st.info(escape_markdown(answer.text), icon=":material/help:")
        return
    if answer.refused:
        st.warning(escape_markdown(answer.text), icon=":material/search_off:")
        for i, passage in enumerate(answer.passages, 1):
            passage_card(i, passage, answer, key=f"passage-{key}-{i}")
    else:
        st.markdown(escape_markdown(answer.text))
        for citation in answer.citations:
            citation_card(citation, answer, settings, key=f"cite-{key}-{citation.n}")
    details = [answer.backend] if answer.backend else []
    if "total" in answer.timings:
        details.append(f"{answer.timings['total']:.1f} s")
    if answer.flagged:
        details.append(f"{len(answer.flagged)} unsupported sentence(s) removed")
    if details:
        st.caption(escape_markdown(" · ".join(details)))


def _context_spans(answer: Answer) -> list[Span]:
    return [Span(p.doc_id, p.start, p.end, p.text) for p in answer.passages] + [
        Span(c.doc_id, c.start, c.end, c.text) for c in answer.citations
    ]


def _card_header(label: str, title: str, source: str, page: int | None, section: str) -> None:
    st.markdown(f"**{escape_markdown(label)}** {escape_markdown(title)}")
    where = " · ".join(p for p in (display_name(source), location(page, section, title)) if p)
    st.caption(escape_markdown(where))


# The cited PDF page with its quote highlighted; kept across reruns of the page.
_page_image = st.cache_data(max_entries=32, show_spinner=False)(render_page)


def citation_card(citation: Citation, answer: Answer, settings: Settings, key: str) -> None:
    """Source [n]: title, page/section, the passage with its supporting span highlighted."""
    quote = (citation.quote_start - citation.start, citation.quote_end - citation.start)
    with st.container(border=True, key=key):
        _card_header(f"[{citation.n}]", citation.title, citation.source, citation.page,
                     citation.section)
        st.markdown(highlight_markdown(citation.text, *quote))
        if citation.page and citation.source.lower().endswith(".pdf"):
            with st.expander(f"Page {citation.page}"):
                try:
                    st.image(_page_image(citation.source, citation.page, citation.quote))
                except QAError as exc:
                    st.caption(escape_markdown(str(exc)))
        with st.expander("Surrounding text"):
            span = Span(citation.doc_id, citation.start, citation.end, citation.text)
            text, start, _ = surrounding_text(span, _context_spans(answer))
            st.markdown(highlight_markdown(text, start + quote[0], start + quote[1]))
        source = Path(citation.source)
        if is_stored_upload(source, settings):
            st.download_button("Download the source", data=source.read_bytes(),
                               file_name=source.name, key=f"{key}-download",
                               icon=":material/download:", type="tertiary")


def passage_card(i: int, passage: Passage, answer: Answer, key: str) -> None:
    """A passage shown for a refused answer: close to the question, but not an answer."""
    with st.container(border=True, key=key):
        _card_header(f"{i}.", passage.title, passage.source, passage.page, passage.section)
        st.markdown(escape_markdown(preview(passage.text)))
        with st.expander("Surrounding text"):
            span = Span(passage.doc_id, passage.start, passage.end, passage.text)
            text, _, _ = surrounding_text(span, _context_spans(answer))
            st.markdown(escape_markdown(text))


# --- page ----------------------------------------------------------------------


def main() -> None:
    apply_process_defaults()  # before the answer model starts loading in its thread
    st.set_page_config(page_title="Ask your documents", page_icon="📄")
    # No tracebacks in the browser even without .streamlit/config.toml ("false" would
    # still show the trace in this Streamlit version; "none" hides everything).
    st.set_option("client.showErrorDetails", "none")
    st.title("Ask your documents")
    try:
        base = Settings.from_env()
    except QAError as exc:
        st.error(escape_markdown(str(exc)))
        return
    init_state(base)
    with st.sidebar:
        st.button("New chat", on_click=new_chat, icon=":material/add_comment:", width="stretch")
        model_area = st.container()
        documents_area = st.container()
        st.divider()
        settings = settings_panel(base)
    data_dir = str(settings.data_dir.resolve())
    with shown_errors(f"Loading the answer backend '{settings.llm}'"):
        answer_model_loading(settings.llm, data_dir, settings)  # starts in the background
    with model_area:
        answer_model_status(settings.llm, data_dir, settings)
    ready_key = f"index-ready:{data_dir}:{settings.collection}"
    if not st.session_state.get(ready_key):
        # The chat input is on the page from the first paint, disabled while the index
        # opens (and, on the very first run, the seeds are indexed), so nothing typed at
        # once lands in another field; the rerun below enables it.
        st.chat_input("Preparing the documents… you can ask in a moment", disabled=True,
                      key="question-wait")
        with shown_errors("Loading the embedding model") as loaded:
            with st.spinner("Loading the embedding model (the first start takes a little "
                            "while)…"):
                workspace(settings).load(chat=False)
            if settings.collection == base.collection:
                seed_first_run(settings)
        if not loaded.ok:
            return
        st.session_state[ready_key] = True
        st.rerun()
    with documents_area, shown_errors("Listing the documents"):
        documents_panel(settings)
    chat_panel(settings)


# Streamlit runs this file as __main__. The guard matters: qa parses files in a "spawn"
# worker process, which imports the main module again (as __mp_main__); without it the
# worker would run the whole page, and ingest would wait on itself.
if __name__ == "__main__":
    main()
