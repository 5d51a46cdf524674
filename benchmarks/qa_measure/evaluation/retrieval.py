"""Retrieval quality on real benchmarks: SQuAD-open hit@k and SciFact nDCG@10.

Both datasets are read from the shared data folder (``--data``) and ingested
with qa's own loaders' output format, chunking and embedding into a collection
of their own under ``<data_dir>/eval``, so re-running reuses the index. Every
question is ranked once densely and once by keywords; the hybrid ranking is
their fusion, so the three modes are measured on the same candidates.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from qa.config import Settings
from qa.errors import QAError
from qa.retrieval import CANDIDATES, Retriever, fuse
from qa.types import Block, Chunk, LoadedDocument

log = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "keyword")
DEFAULT_DATA = Path("../shared/data")


@dataclass
class RetrievalReport:
    dataset: str
    questions: int
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)  # mode -> name -> value
    chunks: int = 0
    ingest_seconds: float = 0.0
    query_ms: dict[str, float] = field(default_factory=dict)
    settings: dict[str, object] = field(default_factory=dict)

    def table(self) -> str:
        names = list(next(iter(self.metrics.values())).keys())
        lines = [f"{self.dataset}: {self.questions} questions, {self.chunks} chunks "
                 f"(ingest {self.ingest_seconds:.0f}s)",
                 f"{'mode':<10}" + "".join(f"{n:>12}" for n in names)]
        for mode, values in self.metrics.items():
            lines.append(f"{mode:<10}" + "".join(f"{values[n]:>12.4f}" for n in names))
        return "\n".join(lines)


def read_jsonl(path: Path) -> Iterator[dict]:
    if not path.exists():
        raise QAError(f"{path} not found; pass --data pointing at the benchmark folder "
                      "(the one holding squad-v1.1-dev/ and scifact/)")
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def sample(items: list[dict], limit: int | None) -> list[dict]:
    """``limit`` items spread evenly over the list (all articles, not just the first)."""
    if not limit or limit >= len(items):
        return items
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def eval_settings(base: Settings, dataset: str) -> Settings:
    """A collection per dataset and index-shaping settings, under ``<data_dir>/eval``."""
    shape = f"{dataset}|{base.embed_model}|{base.embed_backend}|{base.chunk_tokens}|" \
            f"{base.chunk_overlap}"
    digest = hashlib.sha1(shape.encode()).hexdigest()[:10]
    return base.with_(data_dir=base.data_dir / "eval", collection=f"eval-{dataset}-{digest}",
                      chroma_host="" if base.server_mode else None)


def index_documents(settings: Settings, docs: Callable[[], Iterator[LoadedDocument]]
                    ) -> tuple[Retriever, float]:
    """Ingest ``docs()`` into the collection of ``settings`` (unchanged ones are skipped);
    its retriever and the seconds the ingest took."""
    from qa.api import ingest_loaded, retriever

    started = time.perf_counter()
    report = ingest_loaded(docs(), settings=settings)
    seconds = time.perf_counter() - started
    log.info("eval index: %s", report.summary())
    return retriever(settings), seconds


def squad_documents(folder: Path) -> Iterator[LoadedDocument]:
    """The articles of a SQuAD-format folder, paragraphs as blocks."""
    for article in read_jsonl(folder / "articles.jsonl"):
        blocks = [Block(p["start"], p["end"]) for p in article["paragraphs"]]
        yield LoadedDocument(
            source=f"squad:{article['id']}", title=article["title"].replace("_", " "),
            text=article["text"], blocks=blocks,
            content_hash=hashlib.sha256(article["text"].encode()).hexdigest(),
        )


def eval_squad(
    base: Settings, data: Path, limit: int | None = None, version: str = "v1.1",
    ks: tuple[int, ...] = (1, 5, 10),
) -> RetrievalReport:
    """SQuAD-open: hit@k when a top-k chunk of the gold article contains a gold answer."""
    folder = data / f"squad-{version}-dev"
    settings = eval_settings(base, f"squad{version.replace('.', '')}")
    retriever, seconds = index_documents(settings, lambda: squad_documents(folder))
    id_of = {a["id"]: f"squad:{a['id']}" for a in read_jsonl(folder / "articles.jsonl")}
    source_of = {d.id: d.source for d in retriever.store.documents()}
    questions = sample([q for q in read_jsonl(folder / "questions.jsonl") if q["answers"]], limit)
    hits = {m: dict.fromkeys(ks, 0) for m in MODES}
    rr = dict.fromkeys(MODES, 0.0)
    timing = dict.fromkeys(MODES, 0.0)
    depth = max(max(ks) * 4, CANDIDATES)
    for q in questions:
        gold_source = id_of[q["article_id"]]
        answers = [a.lower() for a in q["answers"]]
        for mode, ranked in _rank_all(retriever, q["question"], depth, max(ks), timing).items():
            good = [
                source_of.get(row.doc_id) == gold_source and any(a in row.text.lower()
                                                                 for a in answers)
                for row in ranked
            ]
            for k in ks:
                hits[mode][k] += any(good[:k])
            rr[mode] += next((1 / (i + 1) for i, g in enumerate(good) if g), 0.0)
    n = max(len(questions), 1)
    report = _report(f"squad-{version}", len(questions), retriever, settings, seconds, timing)
    for mode in MODES:
        report.metrics[mode] = {f"hit@{k}": hits[mode][k] / n for k in ks}
        report.metrics[mode]["mrr@10"] = rr[mode] / n
    return report


def scifact_abstracts(folder: Path) -> Iterator[LoadedDocument]:
    """The abstracts of SciFact's ``corpus.jsonl``, as ``qa eval retrieval`` indexes them."""
    for doc in read_jsonl(folder / "corpus.jsonl"):
        text = doc["text"].strip()
        if not text:
            continue
        yield LoadedDocument(
            source=f"scifact:{doc['id']}", title=doc["title"].strip(), text=text,
            blocks=[Block(0, len(text))],
            content_hash=hashlib.sha256(f"{doc['id']}\n{text}".encode()).hexdigest(),
        )


def eval_scifact(
    base: Settings, data: Path, limit: int | None = None, split: str = "test",
) -> RetrievalReport:
    """SciFact: rank abstracts by their best chunk; nDCG@10 and recall@100."""
    folder = data / "scifact"
    settings = eval_settings(base, "scifact")
    retriever, seconds = index_documents(settings, lambda: scifact_abstracts(folder))
    source_of = {d.id: d.source for d in retriever.store.documents()}
    file = "questions.jsonl" if split == "test" else "questions_train.jsonl"
    questions = sample([q for q in read_jsonl(folder / file) if q["gold_doc_ids"]], limit)
    totals = {m: {"ndcg@10": 0.0, "recall@100": 0.0} for m in MODES}
    timing = dict.fromkeys(MODES, 0.0)
    for q in questions:
        gold = {f"scifact:{d}" for d in q["gold_doc_ids"]}
        for mode, ranked in _rank_all(retriever, q["question"], 300, 300, timing).items():
            docs: list[str] = []
            for row in ranked:  # best chunk decides a document's place
                source = source_of.get(row.doc_id, "")
                if source not in docs:
                    docs.append(source)
            totals[mode]["ndcg@10"] += ndcg(docs[:10], gold)
            totals[mode]["recall@100"] += len(gold & set(docs[:100])) / len(gold)
    n = max(len(questions), 1)
    report = _report(f"scifact-{split}", len(questions), retriever, settings, seconds, timing)
    report.metrics = {m: {k: v / n for k, v in values.items()} for m, values in totals.items()}
    return report


def ndcg(ranked: list[str], gold: set[str], k: int = 10) -> float:
    """Binary-relevance nDCG@k, as BEIR computes it for SciFact."""
    dcg = sum(1 / math.log2(i + 2) for i, d in enumerate(ranked[:k]) if d in gold)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(gold), k)))
    return dcg / ideal if ideal else 0.0


def _rank_all(
    retriever: Retriever, query: str, depth: int, k: int, timing: dict[str, float]
) -> dict[str, list[Chunk]]:
    started = time.perf_counter()
    dense, keyword = retriever.rankings(query, depth, "dense")
    middle = time.perf_counter()
    _, keyword = retriever.rankings(query, depth, "keyword")
    end = time.perf_counter()
    hybrid = fuse(dense, keyword, k)
    timing["dense"] += middle - started
    timing["keyword"] += end - middle
    timing["hybrid"] += time.perf_counter() - started
    return {
        "hybrid": [h.row for h in hybrid],
        "dense": [r for r, _ in dense[:k]],
        "keyword": [r for r, _ in keyword[:k]],
    }


def _report(name: str, n: int, retriever: Retriever, settings: Settings, seconds: float,
            timing: dict[str, float]) -> RetrievalReport:
    info = retriever.store.info()
    chunks = retriever.store.chunk_count(info) if info else 0
    return RetrievalReport(
        dataset=name, questions=n, chunks=chunks, ingest_seconds=seconds,
        query_ms={m: 1000 * t / max(n, 1) for m, t in timing.items()},
        settings={"model": settings.embed_model, "backend": settings.embed_backend,
                  "chunk_tokens": settings.chunk_tokens, "chunk_overlap": settings.chunk_overlap},
    )
