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

import collections
import hashlib
import json
import logging
import math
import os
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from qa.answer.chain import MODEL_MIN_SCORE
from qa.config import Settings
from qa.errors import MissingDependencyError, QAError
from qa.types import Answer
from qa_measure.evaluation.answers import TRADEOFF_BARS as ANSWER_BARS
from qa_measure.evaluation.answers import normalize_answer
from qa_measure.evaluation.mtrag import (
    DOMAINS,
    SEED,
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

QUERIES = ("last_turn", "qa_rewrite", "human_rewrite")
SYSTEMS = ("qa", "baseline")
#: Relevance bars before the model whose effect the report shows: a bar refuses every
#: passage-route task whose best sentence scored below it, so a run at the current bar
#: (``MODEL_MIN_SCORE``) tells what each higher bar would do, and nothing about lower ones.
TRADEOFF_BARS = tuple(b for b in ANSWER_BARS if b >= MODEL_MIN_SCORE)
RATIO_MEASURES = ("answer_rate", "refusal_unanswerable", "recall", "rougeL", "k_precision",
                  "words_median", "first_token_median", "total_median")


# -- measures -----------------------------------------------------------------------------

def tokens(text: str) -> list[str]:
    """MTRAG's ``normalize_text`` tokens (the SQuAD normalisation, split on spaces)."""
    return normalize_answer(text).split()


def token_recall(prediction: str, reference: str) -> float:
    """|pred ∩ ref| / |ref| over token multisets.

    >>> token_recall("The cat sat", "a cat sat down")
    0.6666666666666666
    """
    ref = tokens(reference)
    if not ref:
        return 0.0
    common = collections.Counter(tokens(prediction)) & collections.Counter(ref)
    return sum(common.values()) / len(ref)


def k_precision(prediction: str, passages: Iterable[str]) -> float:
    """|pred ∩ passages| / |pred| over token multisets (the passages taken together)."""
    pred = tokens(prediction)
    if not pred:
        return 0.0
    source = collections.Counter(t for p in passages for t in tokens(p))
    return sum((collections.Counter(pred) & source).values()) / len(pred)


_scorer: Any = None


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F of ``prediction`` against ``reference``, as MTRAG's ``RougeL_stemFalse``."""
    global _scorer
    if _scorer is None:
        try:
            from rouge_score.rouge_scorer import RougeScorer
        except ImportError as exc:
            raise MissingDependencyError("rouge-score", "bench", "qa eval chat") from exc
        _scorer = RougeScorer(["rougeL"])
    return float(_scorer.score(reference, prediction)["rougeL"].fmeasure)


def conditioned(raw: float, answerable: bool, idk: bool) -> float:
    """MTRAG's conditioning on answerability: see the module docstring.

    >>> conditioned(0.4, True, False), conditioned(0.4, True, True), conditioned(0.4, False, True)
    (0.4, 0.0, 1.0)
    """
    if answerable:
        return 0.0 if idk else raw
    return 1.0 if idk else 0.0


def gold_hits(ranked: list[tuple[str, int, int]], gold: dict[str, Span]) -> list[set[str]]:
    """For each ranked chunk ``(doc, start, end)``, the gold passage ids it overlaps."""
    return [{pid for pid, span in gold.items() if span.overlaps(*chunk)} for chunk in ranked]


def recall_at(hits: list[set[str]], gold: int, k: int) -> float:
    """Share of the ``gold`` passages hit by the first ``k`` chunks."""
    return len(set().union(*hits[:k])) / gold if gold else 0.0


def ndcg_at(hits: list[set[str]], gold: int, k: int) -> float:
    """nDCG@k where a chunk gains 1 when it hits a gold passage not hit before it.

    >>> ndcg_at([{"a"}, {"a"}, set(), {"b"}], 2, 10)  # doctest: +ELLIPSIS
    0.877...
    """
    seen: set[str] = set()
    dcg = 0.0
    for i, found in enumerate(hits[:k]):
        if found - seen:
            dcg += 1 / math.log2(i + 2)
        seen |= found
    ideal = sum(1 / math.log2(i + 2) for i in range(min(gold, k)))
    return dcg / ideal if ideal else 0.0


# -- the run ------------------------------------------------------------------------------

@dataclass
class _Domain:
    settings: Settings
    spans: dict[str, Span]
    retriever: Any
    naive: Any = None


@dataclass
class ChatReport:
    backend: str
    tasks: int
    seed: int = SEED
    sample: dict[str, Any] = field(default_factory=dict)
    retrieval: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    answers: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    ratios: dict[str, float | None] = field(default_factory=dict)
    tradeoff: list[dict[str, float | None]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    def table(self) -> str:
        return _table(self)


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

def groups(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The rows of each line of the table: all, per answerability, type, turn, domain."""
    out: dict[str, list[dict[str, Any]]] = {"all": rows}
    for a in ("ANSWERABLE", "PARTIAL", "UNANSWERABLE", "CONVERSATIONAL"):
        out[a] = [r for r in rows if r["answerability"] == a]
    for t in sorted({t for r in rows for t in r["question_types"]}):
        out[f"type {t}"] = [r for r in rows if t in r["question_types"]]
    out["first turn"] = [r for r in rows if r["turn"] == 1]
    out["later turns"] = [r for r in rows if r["turn"] > 1]
    for d in DOMAINS:
        out[f"domain {d}"] = [r for r in rows if r["domain"] == d]
    return {name: members for name, members in out.items() if members}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _p90(values: list[float]) -> float | None:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))] if ordered else None


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def answer_measures(rows: list[dict[str, Any]], system: str) -> dict[str, float | None]:
    """The answer measures of one system over ``rows`` (those it answered)."""
    done = [(r, r[system]) for r in rows if r.get(system)]
    if not done:
        return {}
    answerable = [(r, s) for r, s in done if r["answerability"] in ("ANSWERABLE", "PARTIAL")]
    answered = [s for _, s in answerable if not s["idk"]]

    def idk_share(label: str) -> float | None:
        return _mean([float(s["idk"]) for r, s in done if r["answerability"] == label])

    def cond(name: str) -> float | None:
        return _mean([conditioned(s[name], r["answerability"] in ("ANSWERABLE", "PARTIAL"),
                                  s["idk"]) for r, s in done])

    return {
        "n": float(len(done)),
        "errors": float(sum(bool(s.get("error")) for _, s in done)),
        "answer_rate": _mean([float(not s["idk"]) for _, s in answerable]),
        "refusal_unanswerable": idk_share("UNANSWERABLE"),
        "refusal_conversational": idk_share("CONVERSATIONAL"),
        "recall": cond("recall"),
        "rougeL": cond("rougeL"),
        "recall_answered": _mean([s["recall"] for s in answered]),
        "rougeL_answered": _mean([s["rougeL"] for s in answered]),
        "k_precision": _mean([s["k_precision"] for s in answered]),
        "words_median": _median([float(s["words"]) for s in answered]),
        "first_token_median": _median([s["first_token"] for _, s in done]),
        "first_token_p90": _p90([s["first_token"] for _, s in done]),
        "total_median": _median([s["total"] for _, s in done]),
        "total_p90": _p90([s["total"] for _, s in done]),
    }


def retrieval_measures(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    scored = [r["retrieval"] for r in rows if r.get("retrieval")]
    if not scored:
        return {}
    out = {q: {m: sum(s[q][m] for s in scored) / len(scored) for m in ("r@5", "ndcg@10")}
           for q in QUERIES}
    out["n"] = {"tasks": float(len(scored))}
    return out


def refusal_tradeoff(rows: list[dict[str, Any]],
                     bars: Iterable[float] = TRADEOFF_BARS) -> list[dict[str, float | None]]:
    """qa's answer rate and refusal rates had the relevance bar been each of ``bars``.

    >>> def row(a, idk, best):
    ...     return {"answerability": a, "qa": {"idk": idk, "route": "passages",
    ...                                        "signals": {"best_sentence": best}}}
    >>> rows = [row("ANSWERABLE", False, 0.8), row("ANSWERABLE", False, 0.45),
    ...         row("UNANSWERABLE", False, 0.5), row("UNANSWERABLE", True, 0.3)]
    >>> [(t["bar"], t["answer_rate"], t["refusal_unanswerable"])
    ...  for t in refusal_tradeoff(rows, (0.4, 0.5, 0.6))]
    [(0.4, 1.0, 0.5), (0.5, 0.5, 0.5), (0.6, 0.5, 1.0)]
    """
    done = [(r, r["qa"]) for r in rows if r.get("qa") and not r["qa"].get("error")]
    out: list[dict[str, float | None]] = []
    for bar in bars:
        def idk(s: dict[str, Any], bar: float = bar) -> bool:
            best = (s.get("signals") or {}).get("best_sentence")
            return bool(s["idk"]) or (s.get("route") == "passages" and best is not None
                                      and best < bar)
        answerable = [idk(s) for r, s in done if r["answerability"] in ("ANSWERABLE", "PARTIAL")]
        out.append({
            "bar": bar,
            "answer_rate": _mean([float(not x) for x in answerable]),
            "refusal_unanswerable": _mean([float(idk(s)) for r, s in done
                                           if r["answerability"] == "UNANSWERABLE"]),
            "refusal_conversational": _mean([float(idk(s)) for r, s in done
                                             if r["answerability"] == "CONVERSATIONAL"]),
        })
    return out


def report_from_rows(rows: list[dict[str, Any]], backend: str) -> ChatReport:
    """The report of per-task rows (from a run, or read back from a ``--details`` file)."""
    report = ChatReport(backend=backend, tasks=len(rows))
    report.sample = {
        "seed": SEED, "tasks": len(rows),
        "domain": dict(collections.Counter(r["domain"] for r in rows)),
        "answerability": dict(collections.Counter(r["answerability"] for r in rows)),
        "question_type": dict(sorted(collections.Counter(
            t for r in rows for t in r["question_types"]).items())),
        "turn": dict(collections.Counter("first" if r["turn"] == 1 else "later" for r in rows)),
    }
    for name, members in groups(rows).items():
        if name in ("all", "ANSWERABLE", "PARTIAL", "first turn", "later turns") \
                or name.startswith("domain "):
            measured = retrieval_measures(members)
            if measured:
                report.retrieval[name] = measured
        per_system = {s: answer_measures(members, s) for s in SYSTEMS}
        per_system = {s: m for s, m in per_system.items() if m}
        if per_system:
            report.answers[name] = per_system
    for system in SYSTEMS:
        failed = [r[system]["error"] for r in rows if r.get(system) and r[system].get("error")]
        if failed:
            report.notes.append(f"{system}: {len(failed)} asks failed and count as IDK "
                                f"(first: {failed[0][:160]})")
    paired = [r for r in rows if r.get("qa") and r.get("baseline")]
    if paired:
        mine_all, theirs_all = answer_measures(paired, "qa"), answer_measures(paired, "baseline")
        for m in RATIO_MEASURES:
            mine, theirs = mine_all.get(m), theirs_all.get(m)
            report.ratios[m] = mine / theirs if mine is not None and theirs else None
        report.sample["paired"] = len(paired)
    if any((r.get("qa") or {}).get("signals") for r in rows):
        report.tradeoff = refusal_tradeoff(rows)
    return report


def report_from_details(path: Path, backend: str = "") -> ChatReport:
    """The report of the rows in a ``--details`` file, also of a run still going or cut short.

    Example::

        print(report_from_details(Path("chat.jsonl"), "local").table())
    """
    if not path.exists():
        raise QAError(f"{path} not found; pass the FILE a `qa eval chat --details FILE` run wrote")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]
    report = report_from_rows(rows, backend)
    report.settings = {"details": str(path)}
    return report


def report_json(report: ChatReport) -> str:
    return json.dumps(asdict(report), indent=2, ensure_ascii=False)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


_ANSWER_COLUMNS = (("answer_rate", "answered", 3), ("refusal_unanswerable", "refuse U", 3),
                   ("refusal_conversational", "refuse C", 3), ("recall", "recall", 3),
                   ("rougeL", "ROUGE-L", 3), ("k_precision", "K-prec", 3),
                   ("words_median", "words", 0), ("first_token_median", "ttft", 1),
                   ("first_token_p90", "ttft90", 1), ("total_median", "total", 1),
                   ("total_p90", "total90", 1))


def _table(report: ChatReport) -> str:
    s = report.sample
    lines = [f"MTRAG chat, backend {report.backend}: {report.tasks} tasks (sample seed "
             f"{report.seed}; {s.get('answerability', {})}; turns {s.get('turn', {})})"]
    if report.retrieval:
        lines += ["", "Retrieval (ANSWERABLE + PARTIAL): R@5 / nDCG@10",
                  f"{'':<18}{'n':>5}" + "".join(f"{q:>20}" for q in QUERIES)]
        for name, scores in report.retrieval.items():
            cells = "".join(f"{scores[q]['r@5']:>11.3f} / {scores[q]['ndcg@10']:.3f}"
                            for q in QUERIES)
            lines.append(f"{name:<18}{int(scores['n']['tasks']):>5}{cells}")
    if report.answers:
        lines += ["", "Answers (recall and ROUGE-L conditioned on answerability; seconds)",
                  f"{'':<24}{'n':>5}" + "".join(f"{h:>10}" for _, h, _ in _ANSWER_COLUMNS)]
        for name, per_system in report.answers.items():
            for system, values in per_system.items():
                label = f"{name} [{'qa' if system == 'qa' else 'naive'}]"
                cells = "".join(f"{_fmt(values.get(m), d):>10}" for m, _, d in _ANSWER_COLUMNS)
                lines.append(f"{label:<24}{int(values['n'] or 0):>5}{cells}")
    if report.ratios:
        paired = report.sample.get("paired", report.tasks)
        lines += ["", f"qa / naive chain ({paired} tasks asked of both): " + ", ".join(
            f"{m} {_fmt(v, 2)}" for m, v in report.ratios.items())]
    if report.tradeoff:
        lines += ["", "qa had the relevance bar before the model been higher "
                      "(answer rate on ANSWERABLE + PARTIAL / refusal on UNANSWERABLE):",
                  "  " + "   ".join(f"{t['bar']:.2f}: {_fmt(t['answer_rate'])} / "
                                    f"{_fmt(t['refusal_unanswerable'])}"
                                    for t in report.tradeoff)]
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)
