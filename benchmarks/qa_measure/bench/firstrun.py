"""First run as a user has it: whole processes, each into a fresh data directory.

``qa ingest FOLDER`` runs as a command in a new process with an empty
``QA_DATA_DIR``, against a script that runs the naive LangChain pipeline in a
new process (``RecursiveCharacterTextSplitter(1000, 200)`` +
``HuggingFaceEmbeddings`` + ``Chroma.from_documents`` into a fresh folder).
Both find their caches as a user has them after ``scripts/setup.sh``: qa's
model cache holds the built int8 model (made before timing, as setup does), the
naive pipeline loads the packaged model folder. Each process is timed from
spawn to exit; the two alternate, the order flipping every round, and the
reported ratio is the median of the per-round ratios.

Then a probe process repeats qa's ingest step by step to say where the time of
a whole process goes (interpreter, imports, model load, store, ingest), the
naive script likewise, and the two encoders alone are timed in this process
(qa's int8 model against sentence-transformers fp32 on qa's own chunk texts),
the ratio the whole-process one is bounded by.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from qa_measure.bench.corpus import scifact_documents
from qa_measure.bench.options import BenchOptions
from qa_measure.bench.report import BenchResult, Table, chunks_embedded, median, ratio

log = logging.getLogger(__name__)

GOAL_SPEEDUP = 3.0

# The naive pipeline, as a newcomer would write it from the LangChain quick start.
# Marks are printed as JSON on the last line: (phase, seconds since the previous mark).
NAIVE_SCRIPT = r"""
import json, os, sys, time
t0 = float(os.environ.get("QA_BENCH_T0") or time.time()); marks = [("interpreter", time.time())]
from pathlib import Path
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_huggingface import HuggingFaceEmbeddings
from langchain_text_splitters import RecursiveCharacterTextSplitter
marks.append(("imports", time.time()))
folder, persist, model = sys.argv[1:4]
embeddings = HuggingFaceEmbeddings(model_name=model)
marks.append(("load model", time.time()))
docs = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": str(p)})
        for p in sorted(Path(folder).glob("*.txt"))]
splits = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(docs)
marks.append(("read and split", time.time()))
Chroma.from_documents(splits, embeddings, persist_directory=persist, collection_name="naive")
marks.append(("embed and store", time.time()))
out, last = [], t0
for name, t in marks:
    out.append([name, t - last]); last = t
print(json.dumps({"chunks": len(splits), "phases": out}))
"""

# What `qa ingest FOLDER` does, step by step, with a mark after each.
QA_PROBE = r"""
import json, os, sys, time
t0 = float(os.environ["QA_BENCH_T0"]); marks = [("interpreter", time.time())]
import qa.cli
qa.cli.build_parser("ingest"); marks.append(("import qa + CLI", time.time()))
from qa.api import ingest, open_store
from qa.config import Settings
from qa.embedding import get_embedder
marks.append(("import qa.api", time.time()))
settings = Settings.from_env(); embedder = get_embedder(settings)
marks.append(("load model", time.time()))
open_store(settings, embedder); marks.append(("open store", time.time()))
report = ingest([sys.argv[1]], settings=settings); marks.append(("ingest", time.time()))
out, last = [], t0
for name, t in marks:
    out.append([name, t - last]); last = t
print(json.dumps({"chunks": report.chunks_embedded, "phases": out}))
"""


def corpus_folder(options: BenchOptions, count: int) -> Path:
    """The first ``count`` SciFact abstracts as ``.txt`` files (title line, then the text)."""
    folder = options.work_dir / "corpora" / f"scifact-{count}-txt"
    marker = folder / ".complete"
    if marker.exists():
        return folder
    docs = scifact_documents(options.data, count)
    folder.mkdir(parents=True, exist_ok=True)
    for i, doc in enumerate(docs):
        (folder / f"{i:05d}.txt").write_text(f"{doc.title}\n\n{doc.text}\n", encoding="utf-8")
    marker.write_text(json.dumps({"documents": len(docs)}))
    return folder


def qa_command() -> list[str]:
    """The `qa` command a user types: the console script beside this interpreter."""
    script = Path(sys.executable).with_name("qa")
    return [str(script)] if script.exists() else [sys.executable, "-m", "qa"]


def _env(options: BenchOptions, data_dir: Path) -> dict[str, str]:
    env = {**os.environ, "QA_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
           "QA_MODEL_DIR": str(options.settings.models_dir.resolve()),
           "QA_EMBED_BACKEND": "onnx-int8", "QA_BENCH_T0": repr(time.time())}
    for var in ("QA_CHROMA_HOST", "QA_COLLECTION"):
        env.pop(var, None)
    return env


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, str]:
    env = env | {"QA_BENCH_T0": repr(time.time())}
    started = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} ... failed ({done.returncode}): "
                           f"{done.stderr.strip()[-800:]}")
    return seconds, done.stdout


def run_firstrun(options: BenchOptions) -> BenchResult:
    """Whole-process `qa ingest` into a fresh data directory against the naive pipeline."""
    from qa.embedding import resolve_model_path
    from qa.model_cache import prepare

    result = BenchResult("firstrun")
    count = options.scifact_docs
    folder = corpus_folder(options, count)
    warm_folder = corpus_folder(options, 3)
    model_path = resolve_model_path(options.settings.embed_model)
    prepare([options.settings.models_dir], local=False)  # as scripts/setup.sh leaves it
    scratch = options.work_dir / "scratch" / f"firstrun-{time.strftime('%H%M%S')}"
    py = sys.executable
    contenders: dict[str, Any] = {
        "qa ingest": lambda data, src: qa_command() + ["ingest", str(src), "--no-progress"],
        "naive LangChain": lambda data, src: [py, "-c", NAIVE_SCRIPT, str(src),
                                              str(data / "chroma"), model_path],
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    chunks: dict[str, int] = {}
    try:
        # Untimed: one small run each, so both find the OS file cache as after setup.
        for name, make in contenders.items():
            data = scratch / f"warm-{name.split()[0]}"
            _run(make(data, warm_folder), _env(options, data))
        names = list(contenders)
        for round_no in range(options.rounds):
            order = names if round_no % 2 == 0 else names[::-1]
            for name in order:
                data = scratch / f"{name.split()[0]}-{round_no}"
                seconds, out = _run(contenders[name](data, folder), _env(options, data))
                times[name].append(seconds)
                chunks[name] = chunks_embedded(out)
                log.info("round %d %s: %.1f s", round_no, name, seconds)
                shutil.rmtree(data, ignore_errors=True)
        phases = {
            "qa ingest": _phases([py, "-c", QA_PROBE, str(folder)], options, scratch / "probe-qa"),
            "naive LangChain": _phases(contenders["naive LangChain"](scratch / "probe-naive",
                                                                     folder),
                                       options, scratch / "probe-naive"),
        }
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    ratios = [ratio(n, q) for q, n in zip(times["qa ingest"], times["naive LangChain"],
                                          strict=True)]
    table = Table(f"first run: whole processes into a fresh data directory, {count} SciFact "
                  f"abstracts as .txt files ({options.rounds} round(s), alternated)",
                  ["contender", "chunks", "median s", "min s", "max s", "chunks/s", "x naive"])
    for name, values in times.items():
        table.add(name, chunks.get(name), median(values), min(values), max(values),
                  ratio(chunks.get(name, 0), median(values)),
                  median(ratios) if name == "qa ingest" else None)
    result.tables.append(table)

    steps = Table("where each whole process spends its time (one probe run each), seconds",
                  ["phase", "qa ingest", "naive LangChain"])
    for name, seconds in phases["qa ingest"]:
        steps.add(name, seconds, None)
    for name, seconds in phases["naive LangChain"]:
        steps.add(name, None, seconds)
    result.tables.append(steps)

    encoders = _encoder_ratio(options, folder)
    result.tables.append(encoders)

    speedup = median(ratios)
    result.goals[f"whole-process qa ingest = {speedup:.2f}x the naive pipeline >= "
                 f"{GOAL_SPEEDUP:g}x"] = speedup >= GOAL_SPEEDUP
    load = os.getloadavg()
    result.notes += [
        f"Wall time from spawn to exit; per-round ratio naive/qa, median over "
        f"{options.rounds} round(s). qa's model cache ({options.settings.models_dir}) holds "
        "the built int8 model, as after scripts/setup.sh; the naive script loads the "
        "packaged model folder. One untimed small run of each first.",
        f"Load average at the end: {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on "
        f"{os.cpu_count()} CPUs (above the CPU count, other work shared the machine).",
    ]
    result.data.update({"times": times, "ratios": ratios, "chunks": chunks,
                        "phases": phases, "load_average": list(load),
                        "encoders": encoders.rows})
    return result


def _phases(cmd: list[str], options: BenchOptions, data: Path) -> list[list[Any]]:
    _, out = _run(cmd, _env(options, data))
    phases: list[list[Any]] = json.loads(out.strip().splitlines()[-1])["phases"]
    return phases


def _encoder_ratio(options: BenchOptions, folder: Path) -> Table:
    """Only ``embed_documents`` on qa's chunk texts: int8 ONNX against fp32 torch, alternated."""
    from qa.embedding import Embedder, SentenceTransformerEmbedder
    from qa.embedding.onnx_int8 import OnnxEmbedder
    from qa.loaders import load
    from qa_measure.bench.ingest import qa_bodies

    settings = options.settings
    int8 = OnnxEmbedder(settings.embed_model, cache_dir=settings.models_dir,
                        batch_size=settings.embed_batch_size)
    fp32 = SentenceTransformerEmbedder(settings.embed_model, batch_size=settings.embed_batch_size)
    texts = [b for f in sorted(folder.glob("*.txt")) for b in qa_bodies(load(f), int8, options)]
    int8.embed_documents(texts[:8])
    fp32.embed_documents(texts[:8])
    seconds: dict[str, list[float]] = {"encoder int8 (qa)": [], "encoder fp32 (ST)": []}
    rounds = max(1, min(options.rounds, 3))
    for round_no in range(rounds):
        pair: list[tuple[str, Embedder]] = [("encoder int8 (qa)", int8),
                                            ("encoder fp32 (ST)", fp32)]
        for name, embedder in pair if round_no % 2 == 0 else pair[::-1]:
            t0 = time.perf_counter()
            embedder.embed_documents(texts)
            seconds[name].append(time.perf_counter() - t0)
    per_round = [ratio(f, i) for i, f in zip(seconds["encoder int8 (qa)"],
                                             seconds["encoder fp32 (ST)"], strict=True)]
    table = Table(f"in process, encoders alone on qa's {len(texts)} chunk texts ({rounds} "
                  "round(s))", ["encoder", "median s", "texts/s", "x fp32"])
    for name, values in seconds.items():
        table.add(name, median(values), ratio(len(texts), median(values)),
                  median(per_round) if name == "encoder int8 (qa)" else None)
    return table
