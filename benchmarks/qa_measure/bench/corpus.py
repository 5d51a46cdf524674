"""Benchmark corpora: SciFact abstracts, and text files generated from real sentences.

Generated files are made of SciFact and SQuAD sentences drawn at random (with a
fixed seed), grouped into paragraphs under a title line, so the loaders,
chunker and keyword index see real vocabulary at any size. A generated folder
is written once and reused; a hidden ``.complete`` marker says it is whole.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from functools import lru_cache
from pathlib import Path

from qa.errors import QAError
from qa.types import LoadedDocument

_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_MARKER = ".complete"


def _jsonl(path: Path) -> list[dict]:
    if not path.exists():
        raise QAError(f"{path} not found; pass --data pointing at the benchmark folder "
                      "(the one holding scifact/ and squad-v1.1-dev/)")
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def scifact_documents(data: Path, limit: int) -> list[LoadedDocument]:
    """The first ``limit`` SciFact abstracts as loaded documents, as ``qa eval`` reads them."""
    from qa_measure.evaluation.retrieval import scifact_abstracts

    if not (data / "scifact" / "corpus.jsonl").exists():
        _jsonl(data / "scifact" / "corpus.jsonl")  # raises the friendly error
    return list(itertools.islice(scifact_abstracts(data / "scifact"), limit))


def scifact_claims(data: Path, limit: int) -> list[str]:
    """SciFact test claims, used as realistic queries."""
    return [q["question"] for q in _jsonl(data / "scifact" / "questions.jsonl")][:limit]


@lru_cache(maxsize=2)
def sentence_pool(data: Path) -> tuple[str, ...]:
    """Every sentence of the SciFact abstracts and the SQuAD v1.1 dev paragraphs."""
    sentences: list[str] = []
    for doc in _jsonl(data / "scifact" / "corpus.jsonl"):
        sentences += [s.strip() for s in doc.get("sentences") or [] if len(s.strip()) > 20]
    squad = data / "squad-v1.1-dev" / "corpus.jsonl"
    if squad.exists():
        for para in _jsonl(squad):
            sentences += [s.strip() for s in _SENTENCE.split(para["text"]) if len(s.strip()) > 20]
    return tuple(sentences)


def random_text(rng: random.Random, pool: tuple[str, ...], sentences: int) -> str:
    return " ".join(rng.choice(pool) for _ in range(sentences))


def generated_corpus(
    data: Path, folder: Path, total_mb: float, file_kb: int, seed: int = 0
) -> list[Path]:
    """A folder of ``.txt`` files totalling ``total_mb`` MB, each about ``file_kb`` KB.

    Returns:
        The files, in order. Written only if the folder is not complete already.
    """
    total = int(total_mb * 2**20)
    per_file = max(1024, min(int(file_kb * 1024), total))
    count = max(1, round(total / per_file))
    files = [folder / f"doc-{i:05d}.txt" for i in range(count)]
    if (folder / _MARKER).exists():
        return files
    pool = sentence_pool(data)
    folder.mkdir(parents=True, exist_ok=True)
    for i, file in enumerate(files):
        rng = random.Random(f"{seed}-{i}")
        size = per_file if i < count - 1 else total - per_file * (count - 1)
        file.write_text(_document(rng, pool, max(size, 512)), encoding="utf-8")
    (folder / _MARKER).write_text(json.dumps({"mb": total_mb, "files": count}))
    return files


def _document(rng: random.Random, pool: tuple[str, ...], size: int) -> str:
    """A title line, then paragraphs of 3 to 8 sentences, about ``size`` bytes long."""
    title = " ".join(rng.choice(pool).split()[:8]).rstrip(".,;:")
    parts = [title]
    length = len(title)
    while length < size:
        paragraph = random_text(rng, pool, rng.randint(3, 8))
        parts.append(paragraph)
        length += len(paragraph.encode()) + 2
    return "\n\n".join(parts) + "\n"


def corpus_bytes(files: list[Path]) -> int:
    return sum(f.stat().st_size for f in files)
