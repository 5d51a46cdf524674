"""End to end: the served app in a real headless Chromium (Debian's ``chromium``).

The test starts ``streamlit run app.py`` on a free port with an empty data
directory and the extractive backend, then asks, reads citations, uploads,
asks again and removes, as a user would. It measures the cold start (from
``streamlit run`` to the first answer on screen) and saves screenshots to
``test-output/e2e/``; with ``QA_README_SCREENSHOTS=1`` it also refreshes the
README's, in ``docs/screenshots/``.

Needs ``/usr/bin/chromium`` (``apt-get install chromium``); Playwright only
drives it (``playwright install`` is never used).
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Dialog, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import stop_process

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = ROOT / "test-output" / "e2e"
README_SHOTS = ROOT / "docs" / "screenshots"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SEED_QUESTION = "Which countries took part in the conference Moscow hosted in January?"
REFUSED_QUESTION = "What is the population of Kabul?"
UPLOAD_NAME = "orchard notes.txt"
# The text loader decodes entities, so the passage holds live-looking markup the page must
# show as text and never run.
UPLOAD_TEXT = (
    "Zorblax Orchard Notes\n\n"
    "The zorblax orchard near Lake Quillon was planted by Mirela Vantosz in 1987. "
    "&lt;img src=x onerror=alert('img')&gt; &lt;script&gt;alert('script')&lt;/script&gt;\n\n"
    "Each zorblax tree gives about forty purple fruits a season.\n"
)
UPLOAD_QUESTION = "Who planted the zorblax orchard near Lake Quillon?"
TIMEOUT_MS = 240_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@dataclass
class Server:
    url: str
    started: float  # time.monotonic() when `streamlit run` was launched
    log: Path
    timings: dict[str, float] = field(default_factory=dict)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{url} not healthy after {timeout}s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`streamlit run app.py` on a free port, an empty data directory, the extractive backend."""
    folder = tmp_path_factory.mktemp("e2e")
    port = _free_port()
    env = {
        **os.environ,
        "QA_DATA_DIR": str(folder / "qa_data"),
        "QA_LLM": "extractive",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "ANONYMIZED_TELEMETRY": "False",
    }
    for var in ("QA_COLLECTION", "QA_CHROMA_HOST", "QA_EMBED_MODEL", "QA_EMBED_BACKEND"):
        env.pop(var, None)
    log = folder / "streamlit.log"
    with open(log, "wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc, 120)
            yield Server(url, started, log, {"healthy": time.monotonic() - started})
        finally:
            stop_process(proc)


@pytest.fixture(scope="module")
def browser_page(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Page]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} not found; install it with `apt-get install -y chromium`")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")  # a new, empty user-data dir
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile), executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            yield page
        finally:
            context.close()


def _shot(page: Page, name: str, readme: bool = False) -> None:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUTPUT / f"{name}.png"))
    if readme and os.environ.get("QA_README_SCREENSHOTS") == "1":
        README_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(README_SHOTS / f"{name}.png"))


def _ask(page: Page, question: str) -> None:
    box = page.get_by_test_id("stChatInputTextArea")
    box.fill(question)
    box.press("Enter")


_SCROLL_TOP = """e => {
    let box = e.parentElement;
    while (box && box.scrollHeight <= box.clientHeight) box = box.parentElement;
    (box || document.scrollingElement).scrollTo(0, 0);
}"""


def _scroll_to_top(page: Page) -> None:
    """Scroll the main area to the top (the page title, then the conversation).

    The chat keeps itself scrolled to the bottom while content settles, so scroll,
    let it settle, and scroll again.
    """
    for _ in range(2):
        page.get_by_test_id("stChatMessage").first.evaluate(_SCROLL_TOP)
        page.wait_for_timeout(600)


def _wait_idle(page: Page) -> None:
    """Until the script run is over (Streamlit shows a status widget while running)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidget]')", timeout=TIMEOUT_MS
    )


def ready_id(server: Server, title: str) -> str:
    """The id of the ready document titled ``title``, as the app's registry records it."""
    db = sqlite3.connect(f"file:{server.log.parent / 'qa_data' / 'registry.sqlite3'}?mode=ro",
                         uri=True)
    try:
        (row,) = db.execute("SELECT id FROM documents WHERE title = ? AND status = 'ready'",
                            (title,)).fetchall()
    finally:
        db.close()
    return str(row[0])


@pytest.fixture
def page(browser_page: Page, request: pytest.FixtureRequest) -> Iterator[Page]:
    """The browser page; a screenshot of it is saved when the test fails."""
    yield browser_page
    report = getattr(request.node, "rep_call", None)
    if report is None or report.failed:
        _shot(browser_page, f"failed-{request.node.name}")


def test_ask_cite_upload_remove(page: Page, server: Server) -> None:
    expect.set_options(timeout=TIMEOUT_MS)
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:  # an alert() would mean document markup ran
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    page.goto(server.url)

    # First run: the models load behind a spinner, then seeds/ is indexed and said so.
    # The spinner is transient: with the built model cached it can be gone before the
    # first look, so it is timed when seen and the first-run message is what must show.
    spinner = page.get_by_test_id("stSpinner").filter(has_text="Loading the embedding model")
    try:
        spinner.wait_for(state="visible", timeout=15_000)
        server.timings["spinner"] = time.monotonic() - server.started
        _shot(page, "loading")
    except PlaywrightTimeoutError:
        pass
    expect(page.get_by_text("First run", exact=False).first).to_be_visible()
    expect(page.get_by_test_id("stSidebar").get_by_text(
        "The ISIS Expansion in Afghanistan Is Pointed at Russia")).to_be_visible()
    server.timings["ready"] = time.monotonic() - server.started

    # The seeds question: a streamed answer with a citation card; the highlight holds the fact.
    _ask(page, SEED_QUESTION)
    card = page.locator(".st-key-cite-t1-1")
    highlight = card.locator(".stMarkdownColoredBackground").filter(has_text="Pakistan and China")
    expect(highlight.first).to_be_visible()
    server.timings["first_answer"] = time.monotonic() - server.started
    reply = page.get_by_test_id("stChatMessage").nth(1)
    expect(reply).to_contain_text("[1]")
    expect(card).to_contain_text("The ISIS Expansion in Afghanistan Is Pointed at Russia")
    card.get_by_text("Surrounding text").click()
    expect(card.get_by_test_id("stExpanderDetails")).to_contain_text("Pakistan and China")
    _wait_idle(page)
    card.get_by_text("Surrounding text").click()  # closed again for the screenshot
    expect(card.get_by_test_id("stExpanderDetails")).to_be_hidden()
    _scroll_to_top(page)
    _shot(page, "answer", readme=True)

    # A question the documents cannot answer: said plainly, closest passages listed.
    page.get_by_test_id("stSidebar").get_by_role("button", name="New chat").click()
    expect(page.get_by_test_id("stChatMessage")).to_have_count(0)
    _ask(page, REFUSED_QUESTION)
    expect(page.get_by_test_id("stChatMessage").nth(1).get_by_test_id("stAlertContentWarning")
           ).to_be_visible()
    expect(page.locator(".st-key-passage-t1-1")).to_be_visible()
    _wait_idle(page)
    _scroll_to_top(page)
    _shot(page, "refused", readme=True)

    # Upload a file with a fact no seed has, ask about it, see it cited.
    page.get_by_test_id("stSidebar").get_by_role("button", name="New chat").click()
    upload = ROOT / "test-output" / "e2e-upload" / UPLOAD_NAME
    upload.parent.mkdir(parents=True, exist_ok=True)
    upload.write_text(UPLOAD_TEXT, encoding="utf-8")
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload))
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text(f"{UPLOAD_NAME}: added", exact=False)).to_be_visible()
    expect(sidebar.get_by_text("Zorblax Orchard Notes")).to_be_visible()
    _wait_idle(page)
    _shot(page, "uploaded")
    _ask(page, UPLOAD_QUESTION)
    cited = page.locator(".st-key-cite-t1-1")
    expect(cited).to_contain_text("Zorblax Orchard Notes")
    expect(cited.locator(".stMarkdownColoredBackground").filter(has_text="Mirela Vantosz")
           .first).to_be_visible()
    # The markup in the document is shown as text and never runs.
    expect(cited).to_contain_text("<img src=x onerror=")
    expect(cited.locator("img, script")).to_have_count(0)
    _wait_idle(page)
    _shot(page, "upload-answer")

    # Remove it: gone from the document list.
    doc_id = ready_id(server, "Zorblax Orchard Notes")
    page.locator(f".st-key-remove-{doc_id}").get_by_role("button").first.click()
    expect(sidebar.get_by_text(f"Removed {UPLOAD_NAME}", exact=False)).to_be_visible()
    expect(sidebar.get_by_text("Zorblax Orchard Notes")).to_have_count(0)
    expect(sidebar.get_by_text("The ISIS Expansion in Afghanistan Is Pointed at Russia")
           ).to_be_visible()
    _wait_idle(page)
    _shot(page, "removed")

    assert dialogs == [], f"document markup ran: {dialogs}"
    server.timings["total"] = time.monotonic() - server.started
    OUTPUT.mkdir(parents=True, exist_ok=True)
    (OUTPUT / "timings.json").write_text(json.dumps(server.timings, indent=2))

