"""The web app's first answer as a new user has it: `scripts/run.sh` on an empty store.

Each round starts ``scripts/run.sh`` (setup already done, so it starts Streamlit
at once) with a fresh ``QA_DATA_DIR``, opens the page in a headless Chromium
as soon as the server answers, waits for the chat input to be enabled (the app
indexes ``seeds/`` first), asks the seed question, and waits for the answer's
first citation card. Times are seconds from spawning ``run.sh``.

The local model runs against the extractive backend in the same round (no
model: what the page, the index and the search cost alone); the two alternate,
the order flipping every round, and the ratio is the median of per-round ratios.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from qa_measure.bench.options import BenchOptions
from qa_measure.bench.processes import free_port, stop_process
from qa_measure.bench.report import BenchResult, Table, median, ratio

ROOT = Path(__file__).resolve().parents[3]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
QUESTION = "Which countries took part in the conference Moscow hosted in January?"
GOAL_SECONDS = 20.0
TIMEOUT_MS = 300_000


def _healthy(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"scripts/run.sh exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} not healthy; see {log}")


def first_answer(options: BenchOptions, llm: str, folder: Path) -> dict[str, float]:
    """One start of the app with ``llm``: seconds to healthy, input enabled, cited answer."""
    from playwright.sync_api import expect, sync_playwright

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    port = free_port()
    env = {**os.environ, "QA_DATA_DIR": str(folder / "qa_data"), "QA_LLM": llm,
           "QA_MODEL_DIR": str(options.settings.models_dir), "HF_HUB_OFFLINE": "1"}
    for var in ("QA_COLLECTION", "QA_CHROMA_HOST"):
        env.pop(var, None)
    log = folder / "run.log"
    times: dict[str, float] = {}
    with open(log, "wb") as out:
        started = time.monotonic()
        proc = subprocess.Popen(
            ["scripts/run.sh", "--server.port", str(port), "--server.address", "127.0.0.1",
             "--server.fileWatcherType", "none"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _healthy(url, proc, log)
        times["healthy"] = time.monotonic() - started
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                        args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            expect.set_options(timeout=TIMEOUT_MS)
            page.goto(url)
            box = page.get_by_test_id("stChatInputTextArea")
            expect(box).to_be_visible()
            times["input shown"] = time.monotonic() - started
            expect(box).to_be_enabled()
            times["input enabled"] = time.monotonic() - started
            box.fill(QUESTION)
            box.press("Enter")
            reply = page.get_by_test_id("stChatMessage").nth(1)
            expect(reply).to_contain_text("Pakistan")
            times["answer text"] = time.monotonic() - started
            expect(page.locator(".st-key-cite-t1-1")).to_be_visible()
            times["cited answer"] = time.monotonic() - started
            browser.close()
    finally:
        stop_process(proc)
    return times


def run_webapp(options: BenchOptions) -> BenchResult:
    """`scripts/run.sh` to the first cited answer: the local model against extractive."""
    result = BenchResult("webapp")
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} not found; install it with `apt-get install -y chromium`")
    subprocess.run(["scripts/setup.sh", "local,openai"], cwd=ROOT, check=True,
                   capture_output=True)  # as a user has it: set up before the first start
    backends = ["local", "extractive"]
    rounds: list[dict[str, dict[str, float]]] = []
    for r in range(options.rounds):
        order = backends if r % 2 == 0 else backends[::-1]
        rounds.append({llm: first_answer(options, llm, options.work_dir / "webapp" / llm)
                       for llm in order})
    phases = ["healthy", "input shown", "input enabled", "answer text", "cited answer"]
    table = Table(f"scripts/run.sh on an empty store to the first answer, seconds "
                  f"(median of {len(rounds)} round(s))", ["moment", *backends, "local / ext"])
    for phase in phases:
        values = [median([r[llm][phase] for r in rounds]) for llm in backends]
        table.add(phase, *values, median([ratio(r["local"][phase], r["extractive"][phase])
                                          for r in rounds]))
    result.tables.append(table)
    seconds = median([r["local"]["cited answer"] for r in rounds])
    result.goals[f"first cited answer of the local model = {seconds:.1f} s <= "
                 f"{GOAL_SECONDS:g} s"] = seconds <= GOAL_SECONDS
    result.notes.append(
        "From spawning scripts/run.sh (setup done) with a fresh QA_DATA_DIR: the app indexes "
        "seeds/ and loads the answer model in the background; the question is typed as soon "
        "as the chat input is enabled; 'cited answer' is the first citation card. Load "
        f"average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.")
    result.data["rounds"] = rounds
    return result
