"""Chat quality on MTRAG: retrieval of follow-ups, answers, refusals and latency.

``qa eval chat`` asks the fixed sample of :mod:`qa_measure.evaluation.mtrag`, each task
with its history (the reference assistant turns, as MTRAG does), against one
collection per domain built with qa's own chunking (cached under
``<data_dir>/eval`` like ``qa eval retrieval``'s).

Retrieval (ANSWERABLE and PARTIAL tasks, which have gold passages), for the last
turn alone, qa's own standalone rewrite (:func:`qa.api.rewrite`) and the human
rewrite: a chunk hits a gold passage when their character spans overlap in the
same document. ``R@5`` is the share of gold passages that the top 5 chunks hit;
``nDCG@10`` gives a chunk gain 1 when it hits a gold passage no earlier chunk hit,
against an ideal of one new gold passage per rank (so it stays within 0..1).

Answers, scored as MTRAG scores them conditioned on answerability, with "I don't
know" (IDK) = qa refused or asked a clarifying question back: on ANSWERABLE and
PARTIAL tasks an IDK scores 0, otherwise the raw measure; on UNANSWERABLE and
CONVERSATIONAL tasks an IDK scores 1 and anything else 0.

* ``answer_rate``: share of ANSWERABLE + PARTIAL tasks not answered with IDK;
  ``refusal_unanswerable`` / ``refusal_conversational``: share of IDK there.
* ``recall``: token recall of the answer against the reference (MTRAG's
  ``normalize_text``: lower case, no ASCII punctuation, no a/an/the); ``rougeL``:
  ROUGE-L F of ``rouge_score.RougeScorer(["rougeL"])``; both conditioned.
* ``k_precision``: token precision of the answer against the passages it came
  from (qa: the cited ones; the baseline: the four it was given), on the
  answered ANSWERABLE + PARTIAL tasks: faithfulness.
* ``words``: median answer length in words (answered ANSWERABLE + PARTIAL);
  ``first_token`` / ``total``: seconds, median and p90 over all tasks.

The baseline is :class:`qa_measure.evaluation.naive_chat.NaiveChat`, asked in the same
run with the same chat model (there is none for ``extractive``: no baseline then).
Its answers do not depend on qa's code, so a ``baseline_cache`` file keeps them
across runs, keyed by task and by :func:`baseline_key` (model, embedding model,
chunking, prompts), a failed ask too (it fails alike the next time): a long paired
run can be built up over several sittings, and each row says the load average it
was asked under (``load``). Ratios are taken over the tasks both systems were asked.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from qa.config import Settings
from qa.errors import QAError
from qa.types import Answer
from qa_measure.evaluation.chat_report import (
    ChatReport,
    gold_hits,
    k_precision,
    ndcg_at,
    recall_at,
    report_from_rows,
    rouge_l,
    token_recall,
)
from qa_measure.evaluation.mtrag import (
    DOMAINS,
    Span,
    Task,
    data_digest,
    folder_of,
    load_documents,
    load_tasks,
    loaded_documents,
    passage_spans,
    sample_tasks,
)
from qa_measure.evaluation.retrieval import eval_settings, index_documents

log = logging.getLogger(__name__)

# -- the run ------------------------------------------------------------------------------

@dataclass
class _Domain:
    settings: Settings
    spans: dict[str, Span]
    retriever: Any
    naive: Any = None


def eval_chat(
    base: Settings, data: Path, domain: str | None = None, limit: int | None = None,
    llm: str | None = None, baseline: bool = True, retrieval_only: bool = False,
    details: Path | None = None, k: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    baseline_cache: Path | None = None, baseline_only: bool = False,
) -> ChatReport:
    """Run the MTRAG chat evaluation; see the module docstring for what is measured.

    Example::

        report = eval_chat(Settings.from_env(), Path("../shared/data"), domain="govt",
                           limit=10, llm="extractive", retrieval_only=True)
        print(report.table())
    """
    from qa.api import workspace

    if domain is not None and domain not in DOMAINS:
        raise QAError(f"--domain {domain!r} is not one of {', '.join(DOMAINS)}")
    if limit is not None and limit < 1:
        raise QAError(f"--limit {limit} must be at least 1")
    folder = folder_of(data)
    whole = sample_tasks(load_tasks(folder))
    tasks = [t for t in whole if domain is None or t.domain == domain][:limit]
    backend = (llm or base.llm).strip()
    chat = workspace(base).chat_model(backend)
    notes: list[str] = []
    want_naive = baseline and not retrieval_only
    if want_naive and chat is None:
        notes.append(f"no baseline: the {backend} backend has no chat model to run it with")
        want_naive = False
    if baseline_only and not want_naive:
        raise QAError("--baseline-only needs a backend with a chat model and the baseline on")
    rouge_l("warm", "warm")  # fails early when rouge-score is missing
    domains = _domains(base, folder, sorted({t.domain for t in tasks}), chat if want_naive else None)
    ask_qa = not retrieval_only and not baseline_only
    if ask_qa and tasks:
        first = tasks[0]
        _ask_qa(first, domains[first.domain].settings, backend, k)  # loads what answers need
    key = baseline_key(chat, base.embed_model) if want_naive else ""
    cached = read_baseline_cache(baseline_cache, key) if baseline_cache and want_naive else {}
    if cached:
        notes.append(f"baseline: answers of {sum(t.task_id in cached for t in tasks)} tasks "
                     f"taken from {baseline_cache}")
    rows: list[dict[str, Any]] = []
    out = details.open("w", encoding="utf-8") if details else None
    try:
        for n, task in enumerate(tasks, 1):
            d = domains[task.domain]
            row = task_row(task)
            if task.answerable and task.gold_passages:
                row["retrieval"] = _retrieval(task, d, backend)
            if ask_qa:
                row["qa"] = _ask_qa(task, d.settings, backend, k)
            if d.naive is not None:
                row["baseline"] = cached.get(task.task_id) or _ask_naive(task, d.naive)
                if baseline_cache and task.task_id not in cached:
                    _append_baseline(baseline_cache, key, task.task_id, row["baseline"])
            rows.append(row)
            if out:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
                out.flush()
            if progress:
                progress(n, len(tasks))
            if n % 10 == 0:
                log.info("%d/%d tasks", n, len(tasks))
    finally:
        if out:
            out.close()
    report = report_from_rows(rows, backend)
    report.notes = notes + report.notes
    report.sample["whole_sample"] = len(whole)
    report.settings = {
        "domain": domain or "all", "limit": limit, "k": k or base.k,
        "retrieval_only": retrieval_only, "search_mode": base.search_mode,
        "chunk_tokens": base.chunk_tokens, "chunk_overlap": base.chunk_overlap,
        "collections": {name: dd.settings.collection for name, dd in domains.items()},
    }
    return report


def baseline_key(chat: Any, embed_model: str) -> str:
    """What the baseline's answers depend on: the chat model, the embedding model, its setup.

    >>> key = baseline_key(None, "all-MiniLM-L6-v2")
    >>> key.startswith("NoneType|all-MiniLM-L6-v2|") and len(key.split("|")) == 4
    True
    """
    from qa_measure.evaluation import naive_chat as n

    model = next((str(getattr(chat, a)) for a in ("model_path", "model_name", "model")
                  if getattr(chat, a, None)), type(chat).__name__)
    setup = (n.CHUNK_SIZE, n.CHUNK_OVERLAP, n.TOP_K, getattr(chat, "max_tokens", None),
             n.CONTEXTUALIZE_PROMPT, n.QA_PROMPT)
    digest = hashlib.sha256(repr(setup).encode()).hexdigest()[:12]
    return f"{Path(model).name}|{embed_model}|{digest}|{n.NAME}"


def read_baseline_cache(path: Path | None, key: str) -> dict[str, dict[str, Any]]:
    """The cached baseline answers in ``path`` made under ``key``, by task id."""
    if path is None or not path.exists():
        return {}
    out: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by an interrupted run
            continue
        if entry.get("key") == key:  # a failed ask is kept too: it fails the same way again
            out[entry["task_id"]] = entry["baseline"]
    return out


def _append_baseline(path: Path, key: str, task_id: str, answer: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"task_id": task_id, "key": key, "baseline": answer},
                           ensure_ascii=False) + "\n")


def _domains(base: Settings, folder: Path, names: list[str], chat: Any) -> dict[str, _Domain]:
    from qa_measure.evaluation.naive_chat import NaiveChat, index_folder, naive_embeddings

    embeddings = naive_embeddings(base.embed_model) if chat is not None else None
    out: dict[str, _Domain] = {}
    for name in names:
        docs = load_documents(folder, name)
        digest = data_digest(docs)
        settings = eval_settings(base, f"mtrag-{name}-{digest}")
        retriever, seconds = index_documents(settings, partial(loaded_documents, docs))
        log.info("mtrag %s: %d documents indexed in %.0fs", name, len(docs), seconds)
        naive = None
        if chat is not None:
            where = index_folder(settings.data_dir, f"mtrag-{name}", digest, base.embed_model)
            naive = NaiveChat(docs, where, chat, embeddings)
        out[name] = _Domain(settings, passage_spans(docs), retriever, naive)
    return out


def task_row(task: Task) -> dict[str, Any]:
    return {
        "task_id": task.task_id, "domain": task.domain, "turn": task.turn,
        "answerability": task.answerability, "question_types": list(task.question_types),
        "multi_turn": list(task.multi_turn), "question": task.question,
        "history_messages": len(task.history), "reference": task.reference,
    }


def _retrieval(task: Task, d: _Domain, backend: str) -> dict[str, Any]:
    from qa.api import rewrite

    gold = {pid: d.spans[pid] for pid in task.gold_passages if pid in d.spans}
    queries = {
        "last_turn": task.question,
        "qa_rewrite": rewrite(task.question, task.messages(), llm=backend, settings=d.settings),
        "human_rewrite": task.rewrite or task.question,
    }
    out: dict[str, Any] = {"gold": len(gold)}
    for name, query in queries.items():
        ranked = d.retriever.passages(query, k=10, mode=d.settings.search_mode) \
            if query.strip() else []
        hits = gold_hits([(p.source, p.start, p.end) for p in ranked], gold)
        out[name] = {"query": query, "r@5": recall_at(hits, len(gold), 5),
                     "ndcg@10": ndcg_at(hits, len(gold), 10)}
    return out


def _ask_qa(task: Task, settings: Settings, backend: str, k: int | None) -> dict[str, Any]:
    from qa.api import ask
    from qa.text.markers import strip_citations

    load = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        answer: Answer = ask(task.question, history=task.messages(), settings=settings,
                             llm=backend, k=k)
    except QAError as exc:  # e.g. a prompt longer than the model's context: counts as IDK
        log.warning("qa failed on %s: %s", task.task_id, exc)
        return _failed(str(exc), time.perf_counter() - started)
    wall = time.perf_counter() - started
    text = strip_citations(answer.text)
    idk = answer.refused or answer.clarifying
    return {
        "answer": answer.text, "standalone_question": answer.standalone_question,
        "refused": answer.refused, "clarifying": answer.clarifying, "route": answer.route,
        "idk": idk, "citations": len(answer.citations),
        "recall": token_recall(text, task.reference), "rougeL": rouge_l(text, task.reference),
        "k_precision": k_precision(text, [c.text for c in answer.citations]),
        "words": len(text.split()),
        "first_token": answer.timings.get("first_token", wall),
        "total": answer.timings.get("total", wall),
        "signals": answer.signals, "flagged": answer.flagged, "load": round(load, 2),
    }


def _ask_naive(task: Task, naive: Any) -> dict[str, Any]:
    from qa_measure.evaluation.naive_chat import is_idk

    load = os.getloadavg()[0]
    started = time.perf_counter()
    try:
        reply = naive.ask(task.question, task.messages())
    except Exception as exc:  # the naive chain has no guard against, e.g., a too long prompt
        log.warning("baseline failed on %s: %s", task.task_id, exc)
        return _failed(f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
    return {
        "answer": reply.text, "idk": is_idk(reply.text), "contexts": len(reply.contexts),
        "recall": token_recall(reply.text, task.reference),
        "rougeL": rouge_l(reply.text, task.reference),
        "k_precision": k_precision(reply.text, reply.contexts),
        "words": len(reply.text.split()),
        "first_token": reply.first_token, "total": reply.total, "load": round(load, 2),
    }


def _failed(error: str, seconds: float) -> dict[str, Any]:
    """The row of an ask that raised: no answer, so an IDK."""
    return {"answer": "", "error": error, "idk": True, "refused": False, "clarifying": False,
            "citations": 0, "contexts": 0, "recall": 0.0, "rougeL": 0.0, "k_precision": 0.0,
            "words": 0, "first_token": seconds, "total": seconds}


# -- the report ---------------------------------------------------------------------------
