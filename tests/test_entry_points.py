"""The README's Python example, run for real from every kind of Python program.

Each test runs the example (the first code block of the README's ``## Python``
section, as written there) in a fresh process: a plain script without a main
guard, ``python -``, ``python -c``, a Jupyter kernel, a thread of a web server,
and two processes at once on one data directory. An epilogue appended to the
example prints what it got as one JSON line, which the test checks. Answers use
the extractive backend, but for one run with the local model (``llm``).

A parse worker that re-ran the caller's program would hang the script without a
guard (every test has a time limit) and fail every file under ``python -``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, SEEDS, stop_process

pytestmark = pytest.mark.slow

TIMEOUT = 600  # seconds for one program; a hang fails the test instead of the run
MARK = "RESULT "

# Prints what the example produced, from the names it defines.
EPILOGUE = f"""
import json as _json
print()
print({MARK!r} + _json.dumps({{
    "files": [(f.status, f.message) for f in report.files],
    "passages": len(retrieve("Who hosted the January conference?", k=3)),
    "answer": answer.text,
    "refused": answer.refused,
    "quote": answer.citations[0].quote,
    "langchain": [d.metadata["source"] for d in retriever.invoke("Moscow", k=2)],
}}), flush=True)
"""


def readme_example() -> str:
    """The first ``python`` code block under the README's ``## Python`` heading."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match, "no python code block in the README's Python section"
    return match.group(1)


def program() -> str:
    return readme_example() + EPILOGUE


def environment(data_dir: Path, llm: str = "extractive") -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QA_")}
    env.update(
        QA_DATA_DIR=str(data_dir), QA_MODEL_DIR=os.environ["QA_MODEL_DIR"], QA_LLM=llm,
        HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
    )
    env.pop("PYTHONPATH", None)  # qa is found as an installed package, as a user has it
    return env


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A folder like a user's: the seeds/ the example ingests, nothing else."""
    folder = tmp_path / "work"
    shutil.copytree(SEEDS, folder / "seeds")
    return folder


def result_of(output: str) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.startswith(MARK)]
    assert lines, f"the example printed no result:\n{output[-3000:]}"
    result: dict[str, Any] = json.loads(lines[-1][len(MARK):])
    return result


def check(result: dict[str, Any], statuses: tuple[str, ...] = ("added",)) -> None:
    """What the README example promises, from a fresh or an already filled index."""
    assert [status for status, _ in result["files"]] == list(statuses), result["files"]
    assert result["passages"] == 3
    assert not result["refused"] and "Pakistan" in result["answer"], result["answer"]
    from qa.loaders import load

    seed_text = " ".join(load(next(SEEDS.glob("*.txt"))).text.split())
    assert result["quote"] and " ".join(result["quote"].split()) in seed_text, result["quote"]
    assert result["langchain"] and all(s.endswith(".txt") for s in result["langchain"])


def run(command: list[str], cwd: Path, env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run(
        command, cwd=cwd, env=env, input=stdin, capture_output=True, text=True,
        timeout=TIMEOUT,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-3000:]
    return output


def test_readme_example_as_a_script_without_main_guard(workdir: Path) -> None:
    script = workdir / "example.py"
    script.write_text(program())
    assert "__main__" not in script.read_text()
    output = run([sys.executable, str(script)], workdir, environment(workdir / "qa_data"))
    check(result_of(output))


def test_readme_example_piped_to_python_stdin(workdir: Path) -> None:
    output = run([sys.executable, "-"], workdir, environment(workdir / "qa_data"), program())
    check(result_of(output))


def test_readme_example_with_python_c(workdir: Path) -> None:
    output = run([sys.executable, "-c", program()], workdir, environment(workdir / "qa_data"))
    check(result_of(output))


def test_two_processes_on_one_data_directory(workdir: Path) -> None:
    """Both ingest the same folder and answer at once; one adds, the other finds it done."""
    env = environment(workdir / "qa_data")
    procs = [
        subprocess.Popen([sys.executable, "-c", program()], cwd=workdir, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=TIMEOUT)
        assert proc.returncode == 0, out[-3000:]
        outputs.append(result_of(out))
    statuses = sorted(r["files"][0][0] for r in outputs)
    assert statuses == ["added", "unchanged"], statuses
    for result in outputs:
        check(result, (result["files"][0][0],))


def test_readme_example_in_a_jupyter_kernel(workdir: Path) -> None:
    """The example as one notebook cell, in a real IPython kernel."""
    from jupyter_client.manager import start_new_kernel

    manager, client = start_new_kernel(
        kernel_name="python3", cwd=str(workdir), env=environment(workdir / "qa_data"),
        startup_timeout=120,
    )
    try:
        outputs: list[str] = []
        errors: list[str] = []

        def collect(message: dict[str, Any]) -> None:
            content = message["content"]
            if message["msg_type"] == "stream":
                outputs.append(content["text"])
            elif message["msg_type"] == "error":
                errors.append("\n".join(content["traceback"]))

        reply = client.execute_interactive(
            program(), timeout=TIMEOUT, output_hook=collect, allow_stdin=False
        )
        assert reply["content"]["status"] == "ok", "\n".join(errors)
        # The kernel runs no script: its __main__ has no file a worker could re-run.
        client.execute_interactive(
            "import __main__; print('MAIN', getattr(__main__, '__file__', None))",
            timeout=60, output_hook=collect,
        )
        text = "".join(outputs)
        assert "MAIN None" in text
        check(result_of(text))
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


SERVER = textwrap.dedent(
    """
    # A web app's shape: requests handled in threads, each calling qa.
    import json
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import parse_qs, urlparse

    import qa

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            q = parse_qs(url.query).get("q", [""])[0]
            if url.path == "/ingest":
                body = [(f.status, f.message) for f in qa.ingest(["seeds/"]).files]
            elif url.path == "/search":
                body = [p.text for p in qa.retrieve(q, k=3)]
            else:
                answer = qa.ask(q)
                body = {"text": answer.text, "refused": answer.refused}
            data = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print("PORT", server.server_address[1], flush=True)
    server.serve_forever()
    """
)


def test_calls_from_the_threads_of_a_web_server(workdir: Path) -> None:
    script = workdir / "server.py"
    script.write_text(SERVER)
    proc = subprocess.Popen(
        [sys.executable, str(script)], cwd=workdir, env=environment(workdir / "qa_data"),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("PORT "), line + proc.stdout.read()
        base = f"http://127.0.0.1:{int(line.split()[1])}"

        def get(path: str, q: str = "") -> Any:
            url = f"{base}{path}?{urllib.parse.urlencode({'q': q})}"
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310
                return json.loads(response.read())

        assert get("/ingest") == [["added", ""]]
        assert get("/ingest") == [["unchanged", ""]]  # a second request, another thread
        passages = get("/search", "Who hosted the January conference?")
        assert len(passages) == 3 and any("Moscow" in p for p in passages)
        answer = get("/ask", "Which countries took part in the January conference?")
        assert not answer["refused"] and "Pakistan" in answer["text"], answer
    finally:
        stop_process(proc)


@pytest.mark.llm
def test_readme_example_with_the_local_model(workdir: Path) -> None:
    script = workdir / "example.py"
    script.write_text(program())
    output = run([sys.executable, str(script)], workdir,
                 environment(workdir / "qa_data", llm="local"))
    check(result_of(output))
