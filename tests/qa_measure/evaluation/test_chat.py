"""`qa eval chat`: the MTRAG measures on literal cases, the sample, and a real run."""

from __future__ import annotations

import collections
import json
from pathlib import Path

import pytest

from qa.cli import main
from qa.llm.factory import local_available
from qa_measure.evaluation.chat import _append_baseline, read_baseline_cache
from qa_measure.evaluation.chat_report import (
    answer_measures,
    conditioned,
    gold_hits,
    k_precision,
    ndcg_at,
    recall_at,
    report_from_details,
    report_from_rows,
    rouge_l,
    token_recall,
)
from qa_measure.evaluation.mtrag import (
    ANSWERABLE_SAMPLE,
    Span,
    Task,
    load_documents,
    load_tasks,
    loaded_documents,
    passage_spans,
    primary_type,
    sample_tasks,
)
from qa_measure.evaluation.naive_chat import NaiveChat, is_idk, naive_embeddings
from tests.conftest import ROOT, SHARED_DATA

MTRAG = SHARED_DATA / "mtrag"
EVAL_DATA = ROOT / "test-output" / "eval-data"
needs_mtrag = pytest.mark.skipif(not (MTRAG / "conversations.jsonl").exists(),
                                 reason="MTRAG data not in ../shared/data")


# -- measures on literal cases ----------------------------------------------------------

def test_token_recall_normalises_like_mtrag() -> None:
    # Articles and punctuation go, case does not count, repeats count once each.
    assert token_recall("The Cat, sat!", "a cat sat on the mat") == pytest.approx(2 / 4)
    assert token_recall("cat cat cat", "cat cat dog") == pytest.approx(2 / 3)
    assert token_recall("anything", "") == 0.0
    assert token_recall("", "cat") == 0.0


def test_k_precision_against_the_passages_together() -> None:
    passages = ["Pakistan and China attended.", "India was invited."]
    assert k_precision("Pakistan and India.", passages) == pytest.approx(1.0)
    assert k_precision("Pakistan and Iran", passages) == pytest.approx(2 / 3)
    assert k_precision("Iran", []) == 0.0
    assert k_precision("", passages) == 0.0


def test_rouge_l_is_the_f_measure() -> None:
    assert rouge_l("the cat sat", "the cat sat") == pytest.approx(1.0)
    # LCS "cat sat" = 2 of 3 prediction and 2 of 4 reference tokens.
    assert rouge_l("cat sat down", "the cat sat up") == pytest.approx(2 * (2 / 3 * 2 / 4) /
                                                                     (2 / 3 + 2 / 4))


@pytest.mark.parametrize(("raw", "answerable", "idk", "expected"), [
    (0.7, True, False, 0.7), (0.7, True, True, 0.0), (0.7, False, True, 1.0),
    (0.7, False, False, 0.0),
])
def test_conditioning_on_answerability(raw: float, answerable: bool, idk: bool,
                                       expected: float) -> None:
    assert conditioned(raw, answerable, idk) == expected


def test_span_overlap_hits() -> None:
    gold = {"p1": Span("d1", 100, 200), "p2": Span("d1", 180, 300), "p3": Span("d2", 0, 50)}
    ranked = [("d1", 0, 100),    # touches p1's start only: no overlap
              ("d1", 190, 195),  # inside p1 and p2
              ("d2", 40, 60),    # p3
              ("d3", 0, 500)]    # another document
    assert gold_hits(ranked, gold) == [set(), {"p1", "p2"}, {"p3"}, set()]
    hits = gold_hits(ranked, gold)
    assert recall_at(hits, 3, 1) == 0.0
    assert recall_at(hits, 3, 2) == pytest.approx(2 / 3)
    assert recall_at(hits, 3, 5) == 1.0
    # Gains at ranks 2 and 3 against an ideal of ranks 1, 2, 3.
    assert ndcg_at(hits, 3, 10) == pytest.approx((1 / 1.585 + 1 / 2) / (1 + 1 / 1.585 + 1 / 2),
                                                 rel=1e-3)
    assert ndcg_at([{"p1"}, {"p2"}, {"p3"}], 3, 10) == pytest.approx(1.0)
    assert ndcg_at([{"p1"}, {"p1"}], 1, 10) == pytest.approx(1.0)  # one passage counts once
    assert ndcg_at([], 0, 10) == 0.0


def test_answer_measures_condition_and_split() -> None:
    def row(answerability: str, idk: bool, recall: float) -> dict:
        return {"answerability": answerability, "qa": {
            "idk": idk, "recall": recall, "rougeL": recall, "k_precision": 0.5,
            "words": 10, "first_token": 1.0, "total": 2.0}}

    rows = [row("ANSWERABLE", False, 0.6), row("PARTIAL", True, 0.9),
            row("UNANSWERABLE", True, 0.0), row("UNANSWERABLE", False, 0.3),
            row("CONVERSATIONAL", False, 0.2)]
    m = answer_measures(rows, "qa")
    assert m["answer_rate"] == pytest.approx(0.5)
    assert m["refusal_unanswerable"] == pytest.approx(0.5)
    assert m["refusal_conversational"] == 0.0
    assert m["recall"] == pytest.approx((0.6 + 0 + 1 + 0 + 0) / 5)
    assert m["recall_answered"] == pytest.approx(0.6)
    assert m["k_precision"] == pytest.approx(0.5)
    assert answer_measures(rows, "baseline") == {}


def test_report_ratios_and_failed_asks() -> None:
    def system(idk: bool, recall: float, error: str = "") -> dict:
        return {"idk": idk, "recall": recall, "rougeL": recall, "k_precision": 0.5,
                "words": 10, "first_token": 1.0, "total": 2.0, "error": error}

    base = {"domain": "govt", "turn": 2, "question_types": ["Factoid"]}
    rows = [base | {"answerability": "ANSWERABLE", "qa": system(False, 0.6),
                    "baseline": system(False, 0.3)},
            base | {"answerability": "ANSWERABLE", "qa": system(False, 0.6),
                    "baseline": system(True, 0.0, "prompt too long")}]
    report = report_from_rows(rows, "local")
    assert report.ratios["recall"] == pytest.approx(0.6 / 0.15)
    assert report.ratios["answer_rate"] == pytest.approx(2.0)
    assert report.answers["all"]["baseline"]["errors"] == 1.0
    assert any("baseline: 1 asks failed" in n for n in report.notes)
    assert "type Factoid" in report.answers and "later turns" in report.answers


def test_ratios_only_over_tasks_both_systems_answered() -> None:
    def system(recall: float) -> dict:
        return {"idk": False, "recall": recall, "rougeL": recall, "k_precision": 0.5,
                "words": 10, "first_token": 1.0, "total": 2.0}

    base = {"domain": "govt", "turn": 1, "question_types": ["Factoid"],
            "answerability": "ANSWERABLE"}
    rows = [base | {"qa": system(0.6), "baseline": system(0.3)}, base | {"qa": system(0.0)}]
    report = report_from_rows(rows, "local")
    assert report.ratios["recall"] == pytest.approx(2.0)
    assert report.sample["paired"] == 1
    assert "(1 tasks asked of both)" in report.table()


def test_baseline_cache_keeps_answers_per_key(tmp_path: Path) -> None:
    cache = tmp_path / "baseline.jsonl"
    answer = {"answer": "Form 1040.", "idk": False, "recall": 0.5}
    _append_baseline(cache, "model-a", "t1", answer)
    _append_baseline(cache, "model-b", "t2", answer)
    failed = answer | {"error": "prompt too long", "idk": True}
    _append_baseline(cache, "model-a", "t3", failed)  # the naive chain fails alike next time
    with cache.open("a", encoding="utf-8") as f:
        f.write('{"task_id": "t4", "key": "mod')  # a line an interrupted run cut short
    assert read_baseline_cache(cache, "model-a") == {"t1": answer, "t3": failed}
    assert read_baseline_cache(cache, "model-b") == {"t2": answer}
    assert read_baseline_cache(tmp_path / "none.jsonl", "model-a") == {}


def test_baseline_idk_signal() -> None:
    for text in ("I don't know.", "I do not know the answer.", "The context does not provide "
                 "information about fees.", "I cannot answer that from the context.",
                 "That is not mentioned in the provided context.", ""):
        assert is_idk(text), text
    for text in ("You can renew a passport by mail.", "Use the ibmcloud CLI to create a key."):
        assert not is_idk(text), text


# -- the sample ---------------------------------------------------------------------------

def _task(i: int, answerability: str, domain: str, types: tuple[str, ...], turn: int) -> Task:
    return Task(f"c{i}<::>{turn}", f"c{i}", domain, turn, (), "q?", "r", answerability,
                types, (), (), None)


def test_sample_takes_all_hard_tasks_and_stratifies_answerable() -> None:
    tasks = [_task(i, "ANSWERABLE", d, (t,), 1 + i % 3) for i, (d, t) in enumerate(
        [(d, t) for d in ("a", "b") for t in ("Factoid", "Factoid", "Factoid", "How-To")] * 5)]
    tasks += [_task(100 + i, "UNANSWERABLE", "a", ("Factoid",), 2) for i in range(3)]
    picked = sample_tasks(tasks, seed=1, answerable=12)
    assert len({t.task_id for t in picked}) == len(picked) == 15
    assert sum(t.answerability == "UNANSWERABLE" for t in picked) == 3
    strata = collections.Counter((t.domain, t.question_types[0], t.first_turn) for t in picked
                                 if t.answerability == "ANSWERABLE")
    assert len(strata) == 8  # every domain x type x first/later stratum is there
    assert sample_tasks(tasks, seed=1, answerable=12) == picked  # fixed by the seed
    assert sample_tasks(tasks, seed=2, answerable=12) != picked


@needs_mtrag
def test_mtrag_sample_composition_and_prefixes() -> None:
    tasks = load_tasks(MTRAG)
    picked = sample_tasks(tasks)
    by = collections.Counter(t.answerability for t in picked)
    assert by["UNANSWERABLE"] == 55 and by["PARTIAL"] == 68 and by["CONVERSATIONAL"] == 10
    assert by["ANSWERABLE"] == ANSWERABLE_SAMPLE and len(picked) >= 240
    assert {t.domain for t in picked} == {"clapnq", "cloud", "fiqa", "govt"}
    counts = collections.Counter(q for t in tasks for q in t.question_types)
    answerable = [t for t in tasks if t.answerability == "ANSWERABLE"]
    strata = {(t.domain, primary_type(t, counts), t.first_turn) for t in answerable}
    assert strata == {(t.domain, primary_type(t, counts), t.first_turn) for t in picked
                      if t.answerability == "ANSWERABLE"}
    # A prefix keeps the sample's proportions: within a few tasks of its share.
    for n in (24, 60, 120):
        prefix = collections.Counter(t.answerability for t in picked[:n])
        for label, total in by.items():
            assert abs(prefix[label] - n * total / len(picked)) <= 3, (n, label)
        turns = sum(t.first_turn for t in picked[:n])
        assert abs(turns - n * sum(t.first_turn for t in picked) / len(picked)) <= 3
        domains = collections.Counter(t.domain for t in picked[:n])
        assert min(domains.values()) >= n // 4 - 4


@needs_mtrag
def test_documents_keep_the_passage_spans() -> None:
    rows = [json.loads(line) for line in (MTRAG / "documents.jsonl").open(encoding="utf-8")][:50]
    corpus = {}
    for line in (MTRAG / "corpus.jsonl").open(encoding="utf-8"):
        p = json.loads(line)
        corpus[p["id"]] = p["text"]
    docs = {d.source: d for d in loaded_documents(rows)}
    for pid, span in passage_spans(rows).items():
        assert docs[span.doc].text[span.start:span.end] == corpus[pid]
    for doc in docs.values():
        assert all(doc.text[b.start:b.end].strip() for b in doc.blocks)


# -- a real run ---------------------------------------------------------------------------

@pytest.mark.slow
@needs_mtrag
def test_eval_chat_cli_on_real_mtrag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    details = tmp_path / "chat.jsonl"
    # The govt collection is cached across runs like the models (keyed by data and settings).
    code = main(["eval", "chat", "--dataset", "mtrag", "--domain", "govt", "--limit", "3",
                 "--llm", "extractive", "--json", "--details", str(details),
                 "--data-dir", str(EVAL_DATA)])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["tasks"] == 3 and report["backend"] == "extractive"
    assert report["sample"]["domain"] == {"govt": 3} and report["sample"]["whole_sample"] >= 240
    assert report["notes"] and "no baseline" in report["notes"][0]
    retrieval = report["retrieval"]["all"]
    for query in ("last_turn", "qa_rewrite", "human_rewrite"):
        assert 0.0 <= retrieval[query]["r@5"] <= 1.0 and 0.0 <= retrieval[query]["ndcg@10"] <= 1.0
    assert max(retrieval[q]["r@5"] for q in ("last_turn", "human_rewrite")) > 0.0
    qa = report["answers"]["all"]["qa"]
    assert qa["n"] == 3.0 and "baseline" not in report["answers"]["all"]
    for name in ("recall", "rougeL"):
        assert 0.0 <= qa[name] <= 1.0
    assert qa["total_median"] > 0.0 and qa["first_token_median"] <= qa["total_p90"]
    rows = [json.loads(line) for line in details.read_text(encoding="utf-8").splitlines()]
    assert [r["domain"] for r in rows] == ["govt"] * 3
    assert all(r["qa"]["answer"] or r["qa"]["idk"] for r in rows)
    rebuilt = report_from_details(details, "extractive")
    assert rebuilt.answers["all"]["qa"] == qa and rebuilt.retrieval["all"] == retrieval
    # The same three tasks head the all-domain sample's govt tasks: a prefix, not a new draw.
    govt = [t.task_id for t in sample_tasks(load_tasks(MTRAG)) if t.domain == "govt"][:3]
    assert [r["task_id"] for r in rows] == govt


@pytest.mark.slow
@pytest.mark.llm
@needs_mtrag
@pytest.mark.skipif(not local_available(), reason="extra 'local' not installed")
def test_naive_chain_answers_a_follow_up_with_the_local_model(tmp_path: Path) -> None:
    from qa.api import workspace
    from qa.config import Settings

    task = next(t for t in sample_tasks(load_tasks(MTRAG))
                if t.domain == "govt" and t.answerability == "ANSWERABLE" and t.history)
    docs = load_documents(MTRAG, "govt")
    spans = passage_spans(docs)
    gold = {spans[p].doc for p in task.gold_passages}
    few = [d for d in docs if d["id"] in gold] + [d for d in docs if d["id"] not in gold][:2]
    settings = Settings.from_env()
    chat = workspace(settings).chat_model("local")
    embeddings = naive_embeddings(settings.embed_model)
    naive = NaiveChat(few, tmp_path / "naive", chat, embeddings)
    chunks = int((tmp_path / "naive" / "complete").read_text())
    reply = naive.ask(task.question, task.messages())
    assert reply.text.strip()
    assert len(reply.contexts) == min(4, chunks)
    assert 0 < reply.first_token <= reply.total
    assert all(c.strip() for c in reply.contexts)
    again = NaiveChat([], tmp_path / "naive", chat, embeddings)  # the finished index is kept
    assert again.store._collection.count() == chunks
