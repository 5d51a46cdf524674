"""Cold start: wall time from process start to the first passage (and the first answer).

Each command runs in a fresh process on an existing index (the smallest scale
index of the query benchmark), as a user would type it; runs of the different
commands are interleaved. Then one process reports where its time went
(interpreter, imports, model load, store open, first query), and
``python -X importtime`` names the imports that dominate.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from qa_measure.bench.corpus import scifact_claims
from qa_measure.bench.options import BenchOptions
from qa_measure.bench.report import BenchResult, Table, median

GOAL_SECONDS = 5.0

# Runs in a fresh interpreter; times each step of a first search from process start.
_PHASES = r"""
import json, os, sys, time
t0 = float(os.environ["QA_BENCH_T0"]); marks = [("interpreter start", time.time())]
import qa.cli
qa.cli.build_parser("search"); marks.append(("import qa + CLI parser", time.time()))
from qa.api import open_store, retrieve
from qa.config import Settings
from qa.embedding import get_embedder
marks.append(("import qa.api", time.time()))
settings = Settings.from_env(); embedder = get_embedder(settings)
marks.append(("load embedding model", time.time()))
store = open_store(settings, embedder); store.vector_count(store.info())
marks.append(("open store", time.time()))
retrieve(sys.argv[1], k=5, settings=settings); marks.append(("first retrieve", time.time()))
retrieve(sys.argv[1] + " again", k=5, settings=settings)
marks.append(("second retrieve", time.time()))
out, last = [], t0
for name, t in marks:
    out.append([name, t - last]); last = t
print(json.dumps(out))
"""


def _env(options: BenchOptions, store_dir: Path, collection: str, backend: str) -> dict[str, str]:
    env = {**os.environ, "QA_DATA_DIR": str(store_dir), "QA_COLLECTION": collection,
           "QA_EMBED_BACKEND": backend, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("QA_CHROMA_HOST", None)
    return env


def _wall(cmd: list[str], env: dict[str, str], expect: str | None = None) -> float:
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    seconds = time.perf_counter() - started
    if done.returncode != 0 or (expect is not None and expect not in done.stdout):
        raise RuntimeError(f"{' '.join(cmd[:4])} ... failed ({done.returncode}): "
                           f"{done.stderr.strip()[-500:]}")
    return seconds


def existing_index(options: BenchOptions) -> tuple[Path, str]:
    """A scale index of the query benchmark, built at the smallest size if none exists."""
    from qa.embedding import get_embedder
    from qa_measure.bench.query import build_index, chunk_pool, scale_settings

    settings = scale_settings(options, options.sizes[0])
    embedder = get_embedder(options.settings)
    build_index(options, options.sizes[0], embedder, chunk_pool(options, embedder))
    return settings.data_dir, settings.collection


def import_profile(cmd: list[str], env: dict[str, str], top: int = 12) -> list[tuple[str, float]]:
    """The slowest top-level imports of ``cmd`` by cumulative seconds (``-X importtime``)."""
    done = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, capture_output=True,
                          text=True, timeout=600)
    line = re.compile(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)")
    found: list[tuple[str, float, int]] = []
    for text in done.stderr.splitlines():
        match = line.match(text)
        if match:
            found.append((match[4], int(match[2]) / 1e6, len(match[3])))
    # Every top-level package (its own row holds all it imports) and every qa module.
    tops: dict[str, float] = {}
    for name, seconds, _depth in found:
        if name.startswith("qa") or "." not in name:
            tops[name] = max(tops.get(name, 0.0), seconds)
    return sorted(tops.items(), key=lambda kv: -kv[1])[:top]


def run_coldstart(options: BenchOptions) -> BenchResult:
    """Fresh-process wall times of `qa search` (each backend) and `qa ask --llm extractive`."""
    result = BenchResult("coldstart")
    store_dir, collection = existing_index(options)
    query = scifact_claims(options.data, 1)[0]
    py = sys.executable
    reps = 1 if options.quick else 3
    commands: dict[str, tuple[list[str], str, str | None]] = {
        "python -c pass (interpreter)": ([py, "-c", "pass"], "torch", None),
        "qa --help": ([py, "-m", "qa", "--help"], "torch", "usage"),
        "qa search (torch)": ([py, "-m", "qa", "search", query, "-k", "5"], "torch", "[1]"),
        "qa search (onnx-int8)": ([py, "-m", "qa", "search", query, "-k", "5"], "onnx-int8",
                                  "[1]"),
    }
    for backend in ("torch", "onnx-int8"):
        commands[f"qa ask --llm extractive ({backend})"] = (
            [py, "-m", "qa", "ask", query, "--llm", "extractive"], backend, None)
    # The int8 model is built on first use; build it before timing anything.
    _wall(commands["qa search (onnx-int8)"][0], _env(options, store_dir, collection, "onnx-int8"))
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(reps):
        for name, (cmd, backend, expect) in commands.items():
            times[name].append(_wall(cmd, _env(options, store_dir, collection, backend), expect))

    table = Table(f"cold start, seconds of wall time in a fresh process ({reps} run(s) each, "
                  f"index: {collection})", ["command", "median", "min", "max"])
    for name, values in times.items():
        table.add(name, median(values), min(values), max(values))
    result.tables.append(table)

    phases_table = Table("where a fresh `qa search` spends its time, seconds",
                         ["phase", "torch", "onnx-int8"])
    phases: dict[str, list[list[Any]]] = {}
    for backend in ("torch", "onnx-int8"):
        env = _env(options, store_dir, collection, backend) | {"QA_BENCH_T0": repr(time.time())}
        done = subprocess.run([py, "-c", _PHASES, query], env=env, capture_output=True,
                              text=True, timeout=600)
        if done.returncode != 0:
            raise RuntimeError(f"phase probe failed: {done.stderr.strip()[-500:]}")
        phases[backend] = json.loads(done.stdout.strip().splitlines()[-1])
    for i, (name, seconds) in enumerate(phases["torch"]):
        phases_table.add(name, seconds, phases["onnx-int8"][i][1])
    result.tables.append(phases_table)

    profiled = {f"search {b}": (f"qa search ({b})", b) for b in ("torch", "onnx-int8")}
    profiled["ask onnx-int8"] = ("qa ask --llm extractive (onnx-int8)", "onnx-int8")
    profile = {column: dict(import_profile(commands[name][0],
                                           _env(options, store_dir, collection, backend)))
               for column, (name, backend) in profiled.items()}
    imports = Table("slowest imports (python -X importtime, cumulative s)",
                    ["module", *profiled])

    def slowest(name: str) -> float:
        return -max(p.get(name, 0.0) for p in profile.values())

    for name in sorted(set().union(*profile.values()), key=slowest):
        imports.add(name, *(p.get(name) for p in profile.values()))
    result.tables.append(imports)

    for backend in ("torch", "onnx-int8"):
        seconds = median(times[f"qa search ({backend})"])
        result.goals[f"first passage, qa search ({backend}) = {seconds:.2f} s <= "
                     f"{GOAL_SECONDS:g} s"] = seconds <= GOAL_SECONDS
    result.notes.append(
        "Wall time of a subprocess from spawn to exit, printing the passages; the index "
        f"({collection}) and the int8 model cache exist beforehand; OS file cache warm. Load "
        f"average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.")
    result.data.update({"times": times, "phases": phases, "imports": profile,
                        "index": str(store_dir), "collection": collection})
    return result
