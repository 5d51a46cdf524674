"""Speed and fidelity of the embedding backends on SciFact, in one run.

Compares fp32 sentence-transformers (the reference) with the ONNX fp32 and
int8 builds of the same model: chunks per second on ~1000 SciFact abstracts cut
to at most 200 word pieces (the ingest chunk size), and, on 500 abstracts plus
300 claims, the cosine of each vector to its fp32 twin and how many of the
fp32 top-10 neighbours each backend keeps.

Variants are timed in interleaved rounds and the best round is reported, so a
busy machine slows every variant alike instead of whichever ran during a spike.

Usage::

    .venv/bin/python -m qa_measure.embed_speed                    # default variants
    .venv/bin/python -m qa_measure.embed_speed --all              # + recipe sweep
    .venv/bin/python -m qa_measure.embed_speed --batch-sizes 8 32

SciFact is read from ``--data`` (default ``../shared/data``, as ``qa bench``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402

from qa.config import DEFAULT_MODEL  # noqa: E402
from qa.embedding import SentenceTransformerEmbedder, TokenCounter, resolve_model_path  # noqa: E402
from qa.embedding.onnx_build import QuantRecipe  # noqa: E402
from qa.embedding.onnx_int8 import OnnxEmbedder  # noqa: E402
from qa_measure.evaluation.retrieval import DEFAULT_DATA  # noqa: E402

NO_CAP = 1 << 30  # max_batch_tokens that leaves batches at batch_size texts

# name -> (precision, recipe, max_batch_tokens); "onnx-int8" is the shipped default
# (one text per call); the others batch by length under a padded-token cap.
DEFAULT_VARIANTS: dict[str, tuple[str, QuantRecipe, int | None]] = {
    "onnx-fp32": ("fp32", QuantRecipe(), None),
    "onnx-int8": ("int8", QuantRecipe(), None),
    "onnx-int8 512 tok/batch": ("int8", QuantRecipe(), 512),
    "onnx-int8 32/batch": ("int8", QuantRecipe(), NO_CAP),
}
SWEEP_VARIANTS: dict[str, tuple[str, QuantRecipe, int | None]] = {
    "onnx-fp32 32/batch": ("fp32", QuantRecipe(), NO_CAP),
    "int8 QInt8 per-tensor": ("int8", QuantRecipe(per_channel=False), None),
    "int8 QUInt8 per-channel": ("int8", QuantRecipe(weight_type="QUInt8"), None),
    "int8 fused (ORT optimizer)": ("int8", QuantRecipe(optimize=True), None),
    "int8 FFN-out fp32": ("int8", QuantRecipe(keep_fp32=r"layer\.\d+/output/dense"), None),
}


@dataclass
class Result:
    name: str
    batch_size: int
    build_s: float = 0.0
    rates: list[float] = field(default_factory=list)
    cpu_rates: list[float] = field(default_factory=list)
    cos_mean: float = 1.0
    cos_min: float = 1.0
    knn10: float = 1.0
    claim10: float = 1.0


def read_jsonl(file: Path, limit: int) -> list[dict[str, str]]:
    rows = []
    with open(file, encoding="utf-8") as handle:
        for line in handle:
            rows.append(json.loads(line))
            if len(rows) >= limit:
                break
    return rows


def cut_to_tokens(texts: list[str], model: str, n: int) -> list[str]:
    """Each text cut after its ``n``-th word piece of ``model``, like an ingest chunk."""
    tokenizer = TokenCounter(resolve_model_path(model)).tokenizer
    out = []
    for text, enc in zip(texts, tokenizer.encode_batch(texts, add_special_tokens=False),
                         strict=True):
        out.append(text if len(enc.ids) <= n else text[: enc.offsets[n - 1][1]])
    return out


def top_k(queries: np.ndarray, docs: np.ndarray, k: int, exclude_self: bool) -> np.ndarray:
    scores = queries @ docs.T
    if exclude_self:
        np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1)[:, :k]


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b, strict=True)]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--texts", type=int, default=1000, help="chunks to time")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per variant")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[32])
    parser.add_argument("--all", action="store_true", help="also sweep quantization recipes")
    parser.add_argument("--cache-dir", type=Path, help="reuse ONNX builds from here")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="benchmark data folder holding scifact/ (default ../shared/data)")
    args = parser.parse_args()
    scifact = args.data / "scifact"

    abstracts = [f"{r['title']} {r['text']}".strip()
                 for r in read_jsonl(scifact / "corpus.jsonl", max(args.texts, 500))]
    claims = [r["question"] for r in read_jsonl(scifact / "questions.jsonl", 300)]
    quality_texts = abstracts[:500] + claims

    reference = SentenceTransformerEmbedder(DEFAULT_MODEL, batch_size=32)
    chunks = cut_to_tokens(abstracts[: args.texts], DEFAULT_MODEL, 200)
    lengths = reference.count_tokens(chunks)
    print(f"{len(chunks)} chunks, {statistics.mean(lengths):.0f} word pieces on average; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    ref_q = reference.embed_documents(quality_texts)
    ref_knn = top_k(ref_q[:500], ref_q[:500], 10, exclude_self=True)
    ref_claims = top_k(ref_q[500:], ref_q[:500], 10, exclude_self=False)

    variants = dict(DEFAULT_VARIANTS) | (SWEEP_VARIANTS if args.all else {})
    cache = args.cache_dir or Path(tempfile.mkdtemp(prefix="embed-speed-"))
    runners: list[tuple[Result, Callable[[list[str]], np.ndarray]]] = [
        (Result("sentence-transformers fp32", 32), reference.embed_documents)
    ]
    for name, (precision, recipe, budget) in variants.items():
        for bs in args.batch_sizes:
            started = time.perf_counter()
            # One build per recipe: variants that differ only in batching share it.
            folder = f"{precision}-{recipe.weight_type}-{recipe.per_channel}-{recipe.optimize}-"
            folder += f"{zlib.crc32(recipe.keep_fp32.encode()):08x}"
            emb = OnnxEmbedder(DEFAULT_MODEL, cache / folder, batch_size=bs,
                               max_batch_tokens=budget, precision=precision,  # type: ignore[arg-type]
                               recipe=recipe)
            result = Result(name, bs, build_s=time.perf_counter() - started)
            vectors = emb.embed_documents(quality_texts)
            cos = (vectors * ref_q).sum(axis=1)
            result.cos_mean, result.cos_min = float(cos.mean()), float(cos.min())
            result.knn10 = overlap(top_k(vectors[:500], vectors[:500], 10, True), ref_knn)
            result.claim10 = overlap(top_k(vectors[500:], vectors[:500], 10, False), ref_claims)
            runners.append((result, emb.embed_documents))

    for _, run in runners:  # warm up
        run(chunks[:64])
    for round_no in range(args.rounds):
        for result, run in runners:
            started, cpu = time.perf_counter(), time.process_time()
            run(chunks)
            result.rates.append(len(chunks) / (time.perf_counter() - started))
            result.cpu_rates.append(len(chunks) / (time.process_time() - cpu))
        print(f"round {round_no + 1}/{args.rounds} done, load average {os.getloadavg()[0]:.1f}",
              flush=True)

    base = max(runners[0][0].rates)
    cpu_base = max(runners[0][0].cpu_rates)
    print()
    print(f"| {'variant':26s} | batch | build s | chunks/s best | median | x fp32 ST "
          "| chunks/CPU-s | x fp32 ST | cos mean | cos min | kNN@10 | claim top10 |")
    print("|" + "---|" * 12)
    for result, _ in runners:
        best, cpu_best = max(result.rates), max(result.cpu_rates)
        print(f"| {result.name:26s} | {result.batch_size:5d} | {result.build_s:7.1f} "
              f"| {best:13.1f} | {statistics.median(result.rates):6.1f} | {best / base:9.2f} "
              f"| {cpu_best:12.1f} | {cpu_best / cpu_base:9.2f} "
              f"| {result.cos_mean:8.4f} | {result.cos_min:7.4f} | {result.knn10:6.3f} "
              f"| {result.claim10:11.3f} |")
    print("\nbuild s = construction time (export + optimize + quantize when not cached); "
          "chunks/CPU-s = chunks per second of process CPU time, which a busy machine "
          "distorts less than wall time; kNN@10 = share of each abstract's fp32 top-10 "
          "abstract neighbours kept; claim top10 = the same for claims searching the 500 "
          "abstracts.")


if __name__ == "__main__":
    main()
