"""MTRAG (human): its tasks, its documents and the fixed sample ``qa eval chat`` asks.

The data folder (``../shared/data/mtrag`` by default) holds ``conversations.jsonl``
(one task per line: a turn of a conversation with its history, reference answer,
answerability, question types, gold passage ids and the human rewrite) and
``documents.jsonl`` (the source documents with the character span of every
passage inside them). Documents are ingested with qa's own chunking, one
collection per domain; a retrieved chunk hits a gold passage when their spans
overlap in the same document.

The sample is fixed by :data:`SEED`: every UNANSWERABLE, PARTIAL and
CONVERSATIONAL task, plus :data:`ANSWERABLE_SAMPLE` ANSWERABLE ones stratified by
domain, question type (a task's rarest label) and first vs later turn. The
order interleaves the strata in proportion to their size in the sample, so the
first N tasks are a stratified prefix of the whole sample (``--limit N``).
"""

from __future__ import annotations

import collections
import hashlib
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.errors import QAError
from qa.types import Block, LoadedDocument
from qa_measure.evaluation.retrieval import read_jsonl

DOMAINS = ("clapnq", "cloud", "fiqa", "govt")
ANSWERABILITY = ("ANSWERABLE", "PARTIAL", "UNANSWERABLE", "CONVERSATIONAL")
SEED = 10
ANSWERABLE_SAMPLE = 127  # with the 133 other tasks: 260 in all


@dataclass(frozen=True)
class Task:
    """One MTRAG generation task: the last user turn of a conversation so far."""

    task_id: str
    conversation_id: str
    domain: str
    turn: int
    history: tuple[tuple[str, str], ...]  # (role, content), oldest first
    question: str
    reference: str
    answerability: str
    question_types: tuple[str, ...]
    multi_turn: tuple[str, ...]
    gold_passages: tuple[str, ...]
    rewrite: str | None

    @property
    def first_turn(self) -> bool:
        return self.turn == 1

    @property
    def answerable(self) -> bool:
        """ANSWERABLE or PARTIAL: an "I don't know" is wrong here."""
        return self.answerability in ("ANSWERABLE", "PARTIAL")

    def messages(self) -> list[dict[str, str]]:
        """The history as qa takes it: ``[{"role": ..., "content": ...}, ...]``."""
        return [{"role": role, "content": content} for role, content in self.history]

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Task:
        return cls(
            task_id=row["task_id"], conversation_id=row["conversation_id"],
            domain=row["domain"], turn=int(row["turn"]),
            history=tuple((m["role"], m["content"]) for m in row["history"]),
            question=row["question"], reference=row["reference"],
            answerability=row["answerability"],
            question_types=tuple(row["question_type"]), multi_turn=tuple(row["multi_turn"]),
            gold_passages=tuple(row["gold_passages"]), rewrite=row.get("rewrite"),
        )


@dataclass(frozen=True)
class Span:
    """Where a corpus passage lies: its document and character offsets."""

    doc: str
    start: int
    end: int

    def overlaps(self, doc: str, start: int, end: int) -> bool:
        return doc == self.doc and start < self.end and self.start < end


def folder_of(data: Path) -> Path:
    """The MTRAG folder for ``--data``: the folder itself or its ``mtrag/`` child."""
    for candidate in (data, data / "mtrag"):
        if (candidate / "conversations.jsonl").exists():
            return candidate
    raise QAError(f"no MTRAG data at {data} (expected conversations.jsonl and documents.jsonl "
                  "there or in its mtrag/ folder); pass --data pointing at it")


def load_tasks(folder: Path) -> list[Task]:
    return [Task.from_json(row) for row in read_jsonl(folder / "conversations.jsonl")]


def load_documents(folder: Path, domain: str) -> list[dict[str, Any]]:
    return [d for d in read_jsonl(folder / "documents.jsonl") if d["domain"] == domain]


def data_digest(docs: Iterable[dict[str, Any]]) -> str:
    """A short hash of a domain's documents, so a changed file gets a new collection."""
    h = hashlib.sha1()
    for d in docs:
        h.update(f"{d['id']}\0{d['title']}\0{d['text']}\0".encode())
    return h.hexdigest()[:8]


def loaded_documents(docs: Iterable[dict[str, Any]]) -> Iterator[LoadedDocument]:
    """The documents as qa ingests them; ``source`` is the MTRAG document id.

    The text is kept exactly, so chunk offsets are offsets into the MTRAG text and
    compare directly with the passage spans. Blocks follow the ``\\n\\n`` joins.
    """
    for d in docs:
        text = d["text"]
        yield LoadedDocument(
            source=d["id"], title=d["title"] or "", text=text, blocks=_blocks(text),
            content_hash=hashlib.sha256(f"mtrag\n{d['id']}\n{text}".encode()).hexdigest(),
            metadata={"url": d.get("url") or ""},
        )


def _blocks(text: str) -> list[Block]:
    blocks: list[Block] = []
    start = 0
    while start < len(text):
        end = text.find("\n\n", start)
        end = len(text) if end < 0 else end
        if text[start:end].strip():
            blocks.append(Block(start, end))
        start = end + 2
    return blocks or [Block(0, len(text))]


def passage_spans(docs: Iterable[dict[str, Any]]) -> dict[str, Span]:
    return {p["id"]: Span(d["id"], p["start"], p["end"]) for d in docs for p in d["passages"]}


def primary_type(task: Task, counts: collections.Counter[str]) -> str:
    """The task's rarest question-type label, so rare types get their own strata."""
    if not task.question_types:
        return "none"
    return min(task.question_types, key=lambda t: (counts[t], t))


def stratum(task: Task, counts: collections.Counter[str]) -> tuple[str, str, str, str]:
    """(answerability, domain, first/later turn, question type); the type only for ANSWERABLE."""
    turn = "first" if task.first_turn else "later"
    kind = primary_type(task, counts) if task.answerability == "ANSWERABLE" else ""
    return (task.answerability, task.domain, turn, kind)


def sample_tasks(
    tasks: list[Task], seed: int = SEED, answerable: int = ANSWERABLE_SAMPLE
) -> list[Task]:
    """The fixed evaluation sample, in its interleaved order (see the module docstring).

    Every ANSWERABLE stratum gets at least one task, the rest of ``answerable`` is
    shared in proportion to the strata's sizes (largest remainders). The order
    picks, level by level (answerability, domain, turn, type), the branch furthest
    behind its share of the sample, so every prefix keeps the sample's proportions
    at each level.
    """
    counts = collections.Counter(t for task in tasks for t in task.question_types)
    rng = random.Random(seed)
    strata: dict[tuple[str, ...], list[Task]] = collections.defaultdict(list)
    for task in sorted(tasks, key=lambda t: t.task_id):
        strata[stratum(task, counts)].append(task)
    for members in strata.values():
        rng.shuffle(members)
    keys = sorted(strata)
    target = {k: len(strata[k]) for k in keys if k[0] != "ANSWERABLE"}
    target |= _allocate({k: len(strata[k]) for k in keys if k[0] == "ANSWERABLE"}, answerable)
    branches = sorted({k[:level] for k in target for level in range(1, 5)})
    tie = {b: rng.random() for b in branches}
    want = {b: sum(n for k, n in target.items() if k[:len(b)] == b) for b in branches}
    taken = dict.fromkeys(branches, 0)
    order: list[Task] = []
    for _ in range(sum(target.values())):
        branch: tuple[str, ...] = ()
        for level in range(1, 5):
            open_ = [b for b in branches if len(b) == level and b[:-1] == branch
                     and taken[b] < want[b]]
            branch = min(open_, key=lambda b: ((taken[b] + 0.5) / want[b], tie[b]))
        for level in range(1, 5):
            taken[branch[:level]] += 1
        order.append(strata[branch][taken[branch] - 1])
    return order


def _allocate(sizes: dict[tuple[str, ...], int], total: int) -> dict[tuple[str, ...], int]:
    if total >= sum(sizes.values()):
        return dict(sizes)
    out = dict.fromkeys(sizes, 1)
    rest = total - len(sizes)
    if rest <= 0:
        return out
    spare = {k: n - 1 for k, n in sizes.items()}
    pool = sum(spare.values())
    shares = {k: rest * n / pool for k, n in spare.items()}
    for k, share in shares.items():
        out[k] += int(share)
    left = rest - sum(int(s) for s in shares.values())
    for k in sorted(shares, key=lambda k: (-(shares[k] - int(shares[k])), k))[:left]:
        out[k] += 1
    return out
