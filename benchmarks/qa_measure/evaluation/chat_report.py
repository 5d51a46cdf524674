"""The numbers of ``qa eval chat``: MTRAG's measures, and the report over a run's rows.

What each measure means is in :mod:`qa_measure.evaluation.chat`, which asks the tasks;
this module only scores and tabulates the rows it writes (also those of an earlier
``--details`` file: :func:`report_from_details`).
"""

from __future__ import annotations

import collections
import json
import math
import statistics
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from qa.answer.chain import MODEL_MIN_SCORE
from qa.errors import MissingDependencyError, QAError
from qa_measure.evaluation.answers import TRADEOFF_BARS as ANSWER_BARS
from qa_measure.evaluation.answers import normalize_answer
from qa_measure.evaluation.mtrag import DOMAINS, SEED, Span

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


# -- the report ---------------------------------------------------------------------------

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
