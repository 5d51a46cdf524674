"""Answer quality on SQuAD: open-domain answers, citations, refusals and latency.

Each question is asked with :func:`qa.api.ask_stream` against a collection
holding every article of the dataset (built as ``qa eval retrieval`` builds it,
under ``<data_dir>/eval``), so retrieval, generation and the citation check are
measured together.

* SQuAD v1.1: exact match and token F1 of the answer text (markers removed)
  against the best gold string, with the standard SQuAD normalisation; "answer
  contained" (a normalised gold string inside the normalised answer); citation
  precision (share of citations whose passage contains a gold answer).
* SQuAD v2.0: refusal accuracy on unanswerable questions (``is_impossible``) and
  answer rate on answerable ones, plus the v1.1 measures on the answerable ones.
* Latency per question: time to the first streamed text, and in total (median, p90).

Questions are stride-sampled over the whole file so every article is covered.
``slice="tune"`` takes the questions halfway between those of ``"report"``, so
thresholds are chosen on one set and reported on another.
"""

from __future__ import annotations

import collections
import json
import logging
import re
import statistics
import string
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.text.markers import strip_citations
from qa.types import Answer
from qa_measure.evaluation.retrieval import (
    eval_settings,
    index_documents,
    read_jsonl,
    sample,
    squad_documents,
)

log = logging.getLogger(__name__)

_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD's normalisation: lower case, no punctuation, no articles, single spaces.

    >>> normalize_answer("The  Normans, in France!")
    'normans in france'
    """
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def exact_match(prediction: str, golds: list[str]) -> float:
    return float(any(normalize_answer(prediction) == normalize_answer(g) for g in golds))


def token_f1(prediction: str, golds: list[str]) -> float:
    """Best token F1 of ``prediction`` over ``golds``, as the SQuAD script computes it."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for gold in golds:
        truth = normalize_answer(gold).split()
        common = sum((collections.Counter(pred) & collections.Counter(truth)).values())
        if common:
            precision, recall = common / len(pred), common / len(truth)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def contains_answer(text: str, golds: list[str]) -> bool:
    norm = f" {normalize_answer(text)} "
    return any(g and f" {g} " in norm for g in (normalize_answer(x) for x in golds))


@dataclass
class AnswerReport:
    dataset: str
    backend: str
    questions: int
    metrics: dict[str, float] = field(default_factory=dict)
    latency: dict[str, float] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    tradeoff: list[dict[str, float]] = field(default_factory=list)

    def table(self) -> str:
        lines = [f"{self.dataset}, backend {self.backend}: {self.questions} questions"]
        lines += [f"  {name:<28}{value:>8.3f}" for name, value in self.metrics.items()]
        lines += [f"  {name:<28}{value:>8.2f}s" for name, value in self.latency.items()]
        if self.tradeoff:
            lines += ["  relevance bar before the model: share of answerable questions passed / "
                      "of unanswerable ones stopped"]
            lines += [f"    {t['bar']:.2f}: {t['passed_answerable']:.3f} / "
                      f"{t['stopped_unanswerable']:.3f}" for t in self.tradeoff]
        return "\n".join(lines)


#: The bars :func:`bar_tradeoff` reports (``qa.answer.chain.MODEL_MIN_SCORE`` is one).
TRADEOFF_BARS = (0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7)


def bar_tradeoff(rows: list[dict[str, Any]],
                 bars: tuple[float, ...] = TRADEOFF_BARS) -> list[dict[str, float]]:
    """For each relevance bar, the questions whose best sentence reaches it.

    The best sentence's score does not depend on the backend, so one fast run
    (``--llm extractive``) shows what each bar before a model would let through.

    >>> rows = [{"impossible": False, "signals": {"best_sentence": 0.8}},
    ...         {"impossible": True, "signals": {"best_sentence": 0.42}},
    ...         {"impossible": True, "signals": {}}]
    >>> [(t["bar"], t["passed_answerable"], t["stopped_unanswerable"])
    ...  for t in bar_tradeoff(rows, (0.4, 0.5))]
    [(0.4, 1.0, 0.5), (0.5, 1.0, 1.0)]
    """
    def best(r: dict[str, Any]) -> float:
        return float((r.get("signals") or {}).get("best_sentence", 0.0))

    if not any(r.get("signals") for r in rows):  # rows written before signals were kept
        return []
    answerable = [best(r) for r in rows if not r["impossible"]]
    impossible = [best(r) for r in rows if r["impossible"]]
    if not answerable or not impossible:
        return []
    return [{"bar": b,
             "passed_answerable": sum(x >= b for x in answerable) / len(answerable),
             "stopped_unanswerable": sum(x < b for x in impossible) / len(impossible)}
            for b in bars]


def eval_answers(
    base: Settings, data: Path, dataset: str = "squad", limit: int | None = None,
    llm: str | None = None, k: int | None = None, slice_: str = "report",
    details: Path | None = None,
) -> AnswerReport:
    """Ask ``limit`` stride-sampled SQuAD questions; see the module docstring for the measures."""
    from qa.api import ask_stream, workspace

    version = "v1.1" if dataset == "squad" else "v2.0"
    folder = data / f"squad-{version}-dev"
    settings = eval_settings(base, f"squad{version.replace('.', '')}")
    index_documents(settings, lambda: squad_documents(folder))
    questions = list(read_jsonl(folder / "questions.jsonl"))
    if version == "v1.1":
        questions = [q for q in questions if q["answers"]]
    picked = _slice(questions, limit, slice_)
    backend = (llm or base.llm).strip()
    workspace(base).chat_model(backend)  # fails early when the backend cannot be used
    for _ in ask_stream(picked[0]["question"], settings=settings, llm=backend, k=k):
        pass  # loads the models, so latencies are per question
    rows: list[dict[str, Any]] = []
    out = details.open("w", encoding="utf-8") if details else None
    for n, q in enumerate(picked, 1):
        started = time.perf_counter()
        first: float | None = None
        answer: Answer | None = None
        for item in ask_stream(q["question"], settings=settings, llm=backend, k=k):
            if isinstance(item, Answer):
                answer = item
            elif first is None:
                first = time.perf_counter() - started
        total = time.perf_counter() - started
        assert answer is not None
        row = _score(q, answer, first if first is not None else total, total)
        rows.append(row)
        if out:
            out.write(json.dumps(row | {"flagged": answer.flagged, "cited": [
                c.to_dict() | {"text": None} for c in answer.citations]}) + "\n")
            out.flush()
        if n % 25 == 0:
            log.info("%d/%d questions", n, len(picked))
    if out:
        out.close()
    report = AnswerReport(f"squad-{version}", backend, len(rows), _metrics(rows),
                          _latency(rows), {"k": k or base.k, "slice": slice_,
                                           "collection": settings.collection})
    report.tradeoff = bar_tradeoff(rows)
    return report


def _slice(questions: list[dict], limit: int | None, slice_: str) -> list[dict]:
    if slice_ == "report" or not limit or limit >= len(questions):
        return sample(questions, limit)
    step = len(questions) / limit
    return [questions[int((i + 0.5) * step)] for i in range(limit)]


def _score(q: dict, answer: Answer, first: float, total: float) -> dict[str, Any]:
    golds = q["answers"]
    text = strip_citations(answer.text)
    answered = not answer.refused
    row: dict[str, Any] = {
        "id": q["id"], "question": q["question"], "answer": answer.text,
        "refused": answer.refused, "impossible": bool(q.get("is_impossible")) or not golds,
        "first_token": first, "total": total, "gold": golds, "signals": answer.signals,
    }
    if golds:
        row["em"] = exact_match(text, golds) if answered else 0.0
        row["f1"] = token_f1(text, golds) if answered else 0.0
        row["contained"] = answered and contains_answer(text, golds)
        row["citations_ok"] = sum(contains_answer(c.text, golds) for c in answer.citations)
        row["citations"] = len(answer.citations) if answered else 0
    return row


def _metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
    answerable = [r for r in rows if not r["impossible"]]
    impossible = [r for r in rows if r["impossible"]]
    out: dict[str, float] = {}
    if answerable:
        n = len(answerable)
        cited = sum(r["citations"] for r in answerable)
        out |= {
            "exact_match": sum(r["em"] for r in answerable) / n,
            "f1": sum(r["f1"] for r in answerable) / n,
            "answer_contained": sum(r["contained"] for r in answerable) / n,
            "citation_precision": sum(r["citations_ok"] for r in answerable) / cited
            if cited else 0.0,
            "answer_rate_answerable": sum(not r["refused"] for r in answerable) / n,
        }
    if impossible:
        out["refusal_accuracy_unanswerable"] = (
            sum(r["refused"] for r in impossible) / len(impossible))
        out["unanswerable_questions"] = float(len(impossible))
    return out


def _latency(rows: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name in ("first_token", "total"):
        values = sorted(r[name] for r in rows)
        if values:
            out[f"{name}_median"] = statistics.median(values)
            out[f"{name}_p90"] = values[min(len(values) - 1, int(0.9 * len(values)))]
    return out


def report_from_details(path: Path, dataset: str = "", backend: str = "") -> AnswerReport:
    """The report of the rows in a ``--details`` file, also of a run still going or cut short.

    Example::

        print(report_from_details(Path("details.jsonl"), "squad-v2.0", "local").table())
    """
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    return AnswerReport(dataset, backend, len(rows), _metrics(rows), _latency(rows),
                        {"details": str(path)}, bar_tradeoff(rows))


def report_json(report: AnswerReport) -> str:
    return json.dumps(asdict(report), indent=2)
