"""The web UI (app.py) driven by Streamlit's AppTest, plus the helpers of qa.ui and qa.uploads.

The app tests use the real embedding model, a real index and the extractive
backend. They share one data directory per module, so the model loads once.
Tests that change documents get a collection of their own; tests that only ask
share one seeded collection (whichever runs first seeds it), so no test depends
on another's order or leftovers.
"""

from __future__ import annotations

import hashlib
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

import qa
from qa import QAError
from qa.llm.factory import local_available
from qa.types import Answer
from qa.ui import (
    Span,
    escape_markdown,
    highlight_markdown,
    preview,
    surrounding_text,
)
from qa.uploads import safe_file_name
from qa.uploads import upload_path as make_upload_path
from qa.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
SEED_QUESTION = "Which countries took part in the conference Moscow hosted in January?"
REFUSED_QUESTION = "What is the population of Kabul?"
UNIQUE_FACT = (
    "# Zorblax Orchard Notes\n\n"
    "The zorblax orchard near Lake Quillon was planted by Mirela Vantosz in 1987.\n\n"
    "Each zorblax tree gives about forty purple fruits a season.\n"
)
UNIQUE_QUESTION = "Who planted the zorblax orchard near Lake Quillon?"
HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> "
    "[click](javascript:alert(3)) ![px](http://example.invalid/p.png) **bold** $x$ :smile:"
)
HIGHLIGHT = re.compile(r":yellow-background\[(.*?)(?<!\\)\]")

pytestmark = pytest.mark.slow


# --- fixtures ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("app_data")


def fresh_name(request: pytest.FixtureRequest) -> str:
    return "t-" + hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:12]


def use_collection(monkeypatch: pytest.MonkeyPatch, data: Path, name: str) -> str:
    monkeypatch.setenv("QA_DATA_DIR", str(data))
    monkeypatch.setenv("QA_COLLECTION", name)
    monkeypatch.setenv("QA_LLM", "extractive")
    return name


@pytest.fixture
def collection(
    shared_data: Path, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> str:
    """A fresh starting collection for a test that changes documents."""
    return use_collection(monkeypatch, shared_data, fresh_name(request))


@pytest.fixture
def shared_collection(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The seeded collection the read-only tests share; they never change its documents."""
    return use_collection(monkeypatch, shared_data, "shared-seeds")


def started() -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    assert_no_failure(at)
    return at


@pytest.fixture
def app(collection: str) -> AppTest:
    """The app after its first run (seeds indexed into the test's own collection)."""
    return started()


@pytest.fixture
def reader(shared_collection: str) -> AppTest:
    """The app on the shared seeded collection, for tests that only ask."""
    return started()


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Records each question the app asks its workspace, and passes it on."""
    real = Workspace.ask_stream
    seen: list[dict[str, Any]] = []

    def recording(self: Workspace, question: str, history: Any = None, **kwargs: Any
                  ) -> Iterator[Any]:
        seen.append({"question": question, "history": list(history or []),
                     "collection": self.settings.collection, **kwargs})
        yield from real(self, question, history, **kwargs)

    monkeypatch.setattr(Workspace, "ask_stream", recording)
    return seen


# --- helpers -------------------------------------------------------------------


def assert_no_failure(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert_no_failure(at)
    return at


def answer_of(at: AppTest, turn: int = -1) -> Answer:
    return at.session_state["turns"][turn].answer


def shown(text: str) -> str:
    """``text`` as the app hands it to st.markdown (which dedents and strips it)."""
    return textwrap.dedent(escape_markdown(text)).strip()


def markdown_in(block: Any) -> list[str]:
    return [m.value for m in block.markdown]


def sidebar_documents(at: AppTest) -> list[str]:
    """The document titles listed in the sidebar (they are the bold lines)."""
    return [m.strip("*").replace("\\", "") for m in markdown_in(at.sidebar)
            if m.startswith("**")]


def upload(at: AppTest, name: str, data: bytes, mime: str = "text/plain") -> AppTest:
    at.sidebar.file_uploader[0].upload(name, data, mime).run()
    assert_no_failure(at)
    return at


def remove_button(at: AppTest, doc_id: str) -> Any:
    return at.sidebar.button(key=f"remove-{doc_id}")


def uploads(data_dir: Path, collection: str) -> list[Path]:
    return sorted(p for p in (data_dir / "uploads" / collection).rglob("*") if p.is_file())


# --- first run -----------------------------------------------------------------


def test_first_run_indexes_seeds_and_says_so(app: AppTest) -> None:
    assert any("First run" in i.value and "seeds" in i.value for i in app.info)
    assert sidebar_documents(app) == ["The ISIS Expansion in Afghanistan Is Pointed at Russia"]
    assert any(re.fullmatch(r"isis\S+\.txt · \d+ chunks", c.value.replace("\\", ""))
               for c in app.sidebar.caption)


def test_seeds_are_added_only_once(app: AppTest, collection: str) -> None:
    doc = qa.documents(collection)[0]
    remove_button(app, doc.id).click().run()
    again = AppTest.from_file(str(APP), default_timeout=180)
    again.run()
    assert_no_failure(again)
    assert sidebar_documents(again) == []
    assert not any("First run" in i.value for i in again.info)


def test_other_collections_start_empty(reader: AppTest, request: pytest.FixtureRequest) -> None:
    reader.sidebar.text_input(key="collection").set_value(fresh_name(request)).run()
    assert_no_failure(reader)
    assert sidebar_documents(reader) == []
    assert any("no documents yet" in c.value for c in reader.sidebar.caption)


# --- ask, cite, refuse ---------------------------------------------------------


def test_answer_cites_the_passage_with_the_supporting_span_highlighted(reader: AppTest) -> None:
    ask(reader, SEED_QUESTION)
    answer = answer_of(reader)
    assert not answer.refused and answer.citations
    reply = reader.chat_message[-1]
    on_page = markdown_in(reply)
    assert shown(answer.text) in on_page
    assert "[1]" in answer.text
    first = answer.citations[0]
    assert f"**\\[{first.n}\\]** {escape_markdown(first.title)}" in on_page
    highlighted = [h for m in on_page for h in HIGHLIGHT.findall(m)]
    assert any("Pakistan and China" in h.replace("\\", "") for h in highlighted)
    assert any(e.label == "Surrounding text" for e in reply.expander)


def test_follow_up_passes_the_history(reader: AppTest, calls: list[dict[str, Any]]) -> None:
    ask(reader, SEED_QUESTION)
    ask(reader, "Which government was left out of it?")
    first, second = calls
    assert first["history"] == []
    assert second["history"] == [
        {"role": "user", "content": SEED_QUESTION},
        {"role": "assistant", "content": answer_of(reader, 1).text},
    ]
    assert len(reader.chat_message) == 4


def test_sidebar_choices_reach_the_chain(
    reader: AppTest, calls: list[dict[str, Any]]
) -> None:
    reader.sidebar.slider(key="k").set_value(3).run()
    ask(reader, SEED_QUESTION)
    (call,) = calls
    assert call["k"] == 3 and call["llm"] == "extractive"
    assert call["collection"] == reader.session_state["collection"]
    assert reader.sidebar.slider(key="k").value == 3  # kept for the session


def test_refused_answer_says_so_and_lists_the_closest_passages(reader: AppTest) -> None:
    ask(reader, REFUSED_QUESTION)
    answer = answer_of(reader)
    assert answer.refused and answer.passages
    reply = reader.chat_message[-1]
    assert [w.value for w in reply.warning] == [shown(answer.text)]
    on_page = markdown_in(reply)
    for passage in answer.passages:  # a preview of each, the rest one click away
        assert shown(preview(passage.text)) in on_page
    assert len(reply.expander) == len(answer.passages)


def test_new_chat_clears_the_conversation(reader: AppTest) -> None:
    ask(reader, SEED_QUESTION)
    assert len(reader.chat_message) == 2
    reader.sidebar.button[0].click().run()
    assert len(reader.chat_message) == 0
    assert reader.session_state["turns"] == []


# --- upload and remove ---------------------------------------------------------


def test_upload_ask_and_remove(app: AppTest, shared_data: Path, collection: str) -> None:
    upload(app, "orchard notes.md", UNIQUE_FACT.encode(), "text/markdown")
    assert any("orchard notes.md: added" in c.value.replace("\\", "") for c in app.sidebar.caption)
    stored = uploads(shared_data, collection)
    assert [p.name for p in stored] == ["orchard notes.md"]
    assert any("Zorblax Orchard Notes" in d for d in sidebar_documents(app))
    app.run()  # the uploader starts empty again, so the file is not added twice
    assert app.sidebar.file_uploader[0].value == []

    ask(app, UNIQUE_QUESTION)
    answer = answer_of(app)
    assert not answer.refused
    assert any(c.title == "Zorblax Orchard Notes" for c in answer.citations)
    assert "Mirela Vantosz" in answer.text

    doc = next(d for d in qa.documents(collection) if d.title == "Zorblax Orchard Notes")
    remove_button(app, doc.id).click().run()
    assert_no_failure(app)
    assert not any("Zorblax" in d for d in sidebar_documents(app))
    assert any("Removed" in s.value for s in app.sidebar.success)
    assert uploads(shared_data, collection) == []


@pytest.mark.parametrize(
    "name",
    ["../../etc/passwd.txt", "/etc/cron.d/evil.txt", "C:\\Users\\me\\..\\evil.txt",
     "ev\x07il\x1b[31m.txt", "\u202etxt.evil.txt", ".hidden.txt", "x" * 300 + ".txt"],
)
def test_uploaded_names_never_choose_the_path(
    reader: AppTest, shared_data: Path, request: pytest.FixtureRequest, name: str
) -> None:
    collection = fresh_name(request)  # a collection chosen in the sidebar starts empty
    reader.sidebar.text_input(key="collection").set_value(collection).run()
    upload(reader, name, b"Unusual storage notes: the vault key is kept in a blue jar.\n")
    (stored,) = uploads(shared_data, collection)
    root = (shared_data / "uploads" / collection).resolve()
    assert stored.resolve().parent.parent == root
    assert not stored.name.startswith(".")
    assert len(stored.name) <= 100 and stored.suffix == ".txt"
    assert all(c.isprintable() for c in stored.name)


def test_too_big_and_broken_files_are_reported(
    app: AppTest, shared_data: Path, collection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_MAX_FILE_MB", "1")
    app.run()
    assert "up to 1 MB" in app.sidebar.file_uploader[0].label
    app.sidebar.file_uploader[0].upload("big.txt", b"a" * (2**20 + 10))
    app.sidebar.file_uploader[0].upload("broken.pdf", b"%PDF-1.4 not really a pdf")
    app.sidebar.file_uploader[0].upload("fine.txt", b"The heron Bartholomew nests by the mill.\n")
    app.run()
    assert_no_failure(app)
    results = [c.value.replace("\\", "") for c in app.sidebar.caption]
    assert any("big.txt: failed" in r and "limit is 1 MB" in r for r in results)
    assert any("broken.pdf: failed" in r for r in results)
    assert any("fine.txt: added" in r for r in results)
    assert [p.name for p in uploads(shared_data, collection)] == ["fine.txt"]


# --- document text stays text --------------------------------------------------


def test_markup_in_documents_is_shown_as_text(app: AppTest) -> None:
    upload(app, "<b>hostile</b>.html", (
        "<html><body><p>The quokka council meets on Tuesdays at the old lighthouse. "
        f"{HOSTILE.replace('<', '&lt;').replace('>', '&gt;')}</p></body></html>"
    ).encode(), "text/html")
    ask(app, "When does the quokka council meet?")
    answer = answer_of(app)
    cited = answer.citations[0].text if answer.citations else answer.passages[0].text
    assert "<script>" in cited  # the loader kept the text, so the app must escape it
    every = list(app.markdown) + list(app.caption) + list(app.sidebar.markdown)
    for element in every:
        assert not element.proto.allow_html
        # Left after removing escaped characters: only our own bold and highlight syntax.
        bare = re.sub(r"\\.|:material/[a-z_]+:", "", element.value)
        bare = bare.replace(":yellow-background[", "")
        bare = bare.replace("]", "").replace("**", "")
        assert not re.search(r"[<>\[()*_`$!&:]", bare), element.value
    assert not app.get("html")


# --- errors --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "message"),
    [
        (QAError("No index for 'x'; run `qa ingest seeds/` first"), "run `qa ingest seeds/`"),
        (RuntimeError("disk on fire"), "failed unexpectedly (RuntimeError: disk on fire)"),
    ],
)
def test_answer_errors_are_messages(
    reader: AppTest, monkeypatch: pytest.MonkeyPatch, exc: Exception, message: str
) -> None:
    def failing(*args: Any, **kwargs: Any) -> Iterator[str]:
        yield "partial "
        raise exc

    monkeypatch.setattr(Workspace, "ask_stream", failing)
    ask(reader, SEED_QUESTION)
    assert any(message in e.replace("\\", "") for e in errors(reader))
    ask(reader, SEED_QUESTION)  # the page still works, and the failed turn stays visible
    assert len(errors(reader)) == 2


def test_removing_a_document_that_is_gone_is_a_message(app: AppTest, collection: str) -> None:
    doc = qa.documents(collection)[0]
    qa.remove(doc.id, collection)  # e.g. from another browser tab
    remove_button(app, doc.id).click().run()
    assert_no_failure(app)
    assert any("matches no document" in e for e in errors(app))


def test_bad_collection_name_is_a_message(reader: AppTest) -> None:
    reader.sidebar.text_input(key="collection").set_value("no/such name").run()
    assert_no_failure(reader)
    assert any("not allowed" in e for e in errors(reader))
    assert sidebar_documents(reader)  # falls back to the configured collection


def test_bad_environment_is_a_message(
    shared_collection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_K", "lots")
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert_no_failure(at)
    assert any("QA_K='lots' is not a whole number" in e.replace("\\", "") for e in errors(at))


def test_remote_backend_from_the_environment_is_offered(
    shared_collection: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("QA_LLM", "openai:gpt-4o-mini")
    at = AppTest.from_file(str(APP), default_timeout=180)
    at.run()
    assert_no_failure(at)
    backend = at.sidebar.selectbox(key="backend")
    assert "extractive" in backend.options and "openai:gpt-4o-mini" in backend.options
    assert backend.value == "openai:gpt-4o-mini"


# --- qa.ui (pure helpers) ------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain words", "plain words"),
        ("<b>x</b>", "\\<b\\>x\\<\\/b\\>"),
        ("[a](javascript:x)", "\\[a\\]\\(javascript\\:x\\)"),
        ("**1.** $x$ :smile:", "\\*\\*1\\.\\*\\* \\$x\\$ \\:smile\\:"),
        ("line one\nline two", "line one  \nline two"),
    ],
)
def test_escape_markdown(text: str, expected: str) -> None:
    assert escape_markdown(text) == expected


def test_escape_markdown_works_piecewise() -> None:
    pieces = ["<scr", "ipt>**a", "\\", "b**</", "script>\n"]
    assert "".join(escape_markdown(p) for p in pieces) == escape_markdown("".join(pieces))


@pytest.mark.parametrize(
    ("text", "start", "end", "expected"),
    [
        ("Moscow hosted talks.", 7, 13, "Moscow :yellow-background[hosted] talks\\."),
        ("a [b] c", 2, 5, "a :yellow-background[\\[b\\]] c"),
        ("one\ntwo", 0, 7, ":yellow-background[one]  \n:yellow-background[two]"),
        ("keep <i>", 5, 5, "keep \\<i\\>"),
        ("edge", -3, 99, ":yellow-background[edge]"),
        ("x  y", 1, 3, "x  y"),
    ],
)
def test_highlight_markdown(text: str, start: int, end: int, expected: str) -> None:
    assert highlight_markdown(text, start, end) == expected


def test_surrounding_text_stitches_neighbouring_passages() -> None:
    doc = "First para.\n\nSecond para.\n\nThird para."
    first, second, third = (Span("d", doc.index(t), doc.index(t) + len(t), t)
                            for t in ("First para.", "Second para.", "Third para."))
    other_doc = Span("e", 0, 11, "Other text.")
    text, start, end = surrounding_text(second, [first, third, other_doc])
    assert text == doc and text[start:end] == "Second para."
    text, start, end = surrounding_text(second, [third])
    assert text == "Second para.\n\nThird para." and (start, end) == (0, 12)
    text, start, end = surrounding_text(second, [first, third], max_extra=4)
    assert text.startswith("… ") and text.endswith(" …") and text[start:end] == "Second para."


def test_preview_cuts_at_a_word() -> None:
    assert preview("short") == "short"
    assert preview("one two three four", limit=10) == "one two …"


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("notes.md", "notes.md"),
        ("../../etc/passwd.txt", "passwd.txt"),
        ("C:\\Users\\me\\..\\evil.txt", "evil.txt"),
        ("a\x00b\x1fc.txt", "abc.txt"),
        ("..", "upload"),
        (".bashrc", "bashrc"),
        ("<b>report</b>.pdf", "b_.pdf"),  # "/" ends a folder name, even inside a tag
        ("résumé 2024.docx", "résumé 2024.docx"),
    ],
)
def test_safe_file_name(name: str, expected: str) -> None:
    assert safe_file_name(name) == expected


def test_safe_file_name_is_short_and_keeps_the_suffix() -> None:
    name = safe_file_name("y" * 500 + ".docx")
    assert len(name) == 100 and name.endswith(".docx")


def test_upload_path_is_inside_the_folder_and_named_by_content(tmp_path: Path) -> None:
    a = make_upload_path(tmp_path, "../x.txt", b"one")
    b = make_upload_path(tmp_path, "../x.txt", b"two")
    assert a.parent.parent == b.parent.parent == tmp_path
    assert a.name == b.name == "x.txt" and a.parent != b.parent
    # The folder follows the content: the same bytes under another name share it.
    assert make_upload_path(tmp_path, "renamed.txt", b"one").parent == a.parent


# --- the local model, file types, a changed file ---------------------------------------

needs_local = pytest.mark.skipif(not local_available(), reason="extra 'local' not installed")
PDF_FACT = "The Vessen mill grinds 600 sacks of rye a week."
DOCX_FACT = "The Pellam ferry crosses the strait in 25 minutes."


@pytest.mark.llm
@needs_local
def test_local_backend_and_switching_backends(
    reader: AppTest, calls: list[dict[str, Any]]
) -> None:
    """extractive, then the local model (as scripts/run.sh ships), then extractive again:
    each answer comes from the backend chosen in the sidebar, and each holds the fact."""
    backend = reader.sidebar.selectbox(key="backend")
    assert "local" in backend.options
    for choice in ("extractive", "local", "extractive"):
        reader.sidebar.selectbox(key="backend").set_value(choice).run()
        ask(reader, SEED_QUESTION)
        answer = answer_of(reader)
        assert answer.backend == choice and not answer.refused, (choice, answer.text)
        assert "Pakistan" in answer.text and "China" in answer.text, (choice, answer.text)
        assert any("Pakistan and China" in c.quote for c in answer.citations), choice
        assert shown(answer.text) in markdown_in(reader.chat_message[-1])
    assert [c["llm"] for c in calls] == ["extractive", "local", "extractive"]


def test_pdf_and_docx_uploads_are_indexed_and_cited(
    app: AppTest, shared_data: Path, collection: str
) -> None:
    from tests.hostile.helpers import docx_bytes, pdf_bytes

    uploader = app.sidebar.file_uploader[0]
    uploader.upload("mill report.pdf", pdf_bytes(["Vessen mill", PDF_FACT]), "application/pdf")
    uploader.upload("ferry.docx", docx_bytes([DOCX_FACT], heading="Pellam ferry"),
                    "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    app.run()
    assert_no_failure(app)
    results = [c.value.replace("\\", "") for c in app.sidebar.caption]
    assert any("mill report.pdf: added" in r for r in results), results
    assert any("ferry.docx: added" in r for r in results), results
    assert sorted(p.name for p in uploads(shared_data, collection)) == [
        "ferry.docx", "mill report.pdf"]

    ask(app, "How many sacks of rye does the Vessen mill grind a week?")
    answer = answer_of(app)
    assert not answer.refused and "600" in answer.text, answer.text
    (cited,) = {c.source for c in answer.citations}
    assert cited.endswith("mill report.pdf")
    assert all(c.page == 2 for c in answer.citations)  # the fact is on the second page
    ask(app, "How long does the Pellam ferry take to cross the strait?")
    answer = answer_of(app)
    assert not answer.refused and "25 minutes" in answer.text, answer.text
    assert {c.source for c in answer.citations} == {
        str(p.resolve()) for p in uploads(shared_data, collection) if p.suffix == ".docx"}


def test_reuploading_a_changed_file_replaces_the_old_version(
    app: AppTest, collection: str
) -> None:
    upload(app, "gulls.txt", b"The Orvik lighthouse keeper counted 412 gulls on Tuesday.\n")
    app.run()
    upload(app, "gulls.txt", b"The Orvik lighthouse keeper counted 977 gulls on Tuesday.\n")
    gulls = [d for d in qa.documents(collection) if d.source.endswith("gulls.txt")]
    assert len(gulls) == 1, gulls  # one document for the one file name, not two versions
    ask(app, "How many gulls did the Orvik lighthouse keeper count?")
    answer = answer_of(app)
    assert "977" in answer.text and "412" not in answer.text, answer.text
    assert not any("412" in p.text for p in answer.passages)


def test_sync_a_folder_adds_new_files_and_removes_deleted_ones(
    app: AppTest, collection: str, tmp_path: Path
) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "tides.txt").write_text("The Varne tide gauge read 4.7 metres at noon.\n")
    app.sidebar.text_input(key="sync-folder").set_value(str(folder)).run()
    app.sidebar.button(key="sync-button").click().run()
    assert_no_failure(app)
    sources = [d.source for d in qa.documents(collection)]
    assert str((folder / "tides.txt").resolve()) in sources
    ask(app, "What did the Varne tide gauge read at noon?")
    assert "4.7" in answer_of(app).text
    (folder / "tides.txt").unlink()
    app.sidebar.button(key="sync-button").click().run()
    assert_no_failure(app)
    assert not any(s.endswith("tides.txt") for s in (d.source for d in qa.documents(collection)))


def test_a_cited_upload_can_be_downloaded(app: AppTest) -> None:
    data = b"The Orvik lighthouse keeper counted 412 gulls on Tuesday.\n"
    upload(app, "gulls.txt", data)
    ask(app, "How many gulls did the Orvik lighthouse keeper count?")
    assert "412" in answer_of(app).text
    (button,) = [b for b in app.get("download_button")]
    assert button.proto.label == "Download the source"
