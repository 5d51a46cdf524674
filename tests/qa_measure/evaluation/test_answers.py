"""`qa eval answers` end to end on a tiny SQuAD-format data folder made from the seed."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from qa.cli import main
from qa.config import Settings
from qa_measure.evaluation.answers import (
    contains_answer,
    eval_answers,
    exact_match,
    normalize_answer,
    report_from_details,
    token_f1,
)
from tests.answer.conftest import JANUARY, KABUL

pytestmark = pytest.mark.slow


def write_squad(folder: Path, text: str, questions: list[dict]) -> None:
    folder.mkdir(parents=True)
    paragraphs, start = [], 0
    for i, para in enumerate(text.split("\n\n")):
        at = text.index(para, start)
        paragraphs.append({"id": f"seed__p{i:03d}", "start": at, "end": at + len(para)})
        start = at + len(para)
    article = {"id": "Seed", "title": "Seed_article", "text": text, "paragraphs": paragraphs}
    (folder / "articles.jsonl").write_text(json.dumps(article) + "\n", encoding="utf-8")
    lines = [json.dumps({"id": f"q{i}", "article_id": "Seed", "gold_doc_ids": [], **q})
             for i, q in enumerate(questions)]
    (folder / "questions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory, seed_text: str) -> Path:
    data = tmp_path_factory.mktemp("bench")
    v1 = [{"question": JANUARY, "answers": ["Pakistan and China"]},
          {"question": "Who is Vladimir Putin's special envoy for South Asia?",
           "answers": ["Zamir Kabulov"]}]
    v2 = [{**v1[0], "is_impossible": False}, {"question": KABUL, "answers": [],
                                               "is_impossible": True}]
    write_squad(data / "squad-v1.1-dev", seed_text, v1)
    write_squad(data / "squad-v2.0-dev", seed_text, v2)
    return data


def test_squad_v11_scores(tiny_data: Path, tmp_path: Path) -> None:
    details = tmp_path / "details.jsonl"
    report = eval_answers(Settings.from_env(data_dir=tmp_path / "d"), tiny_data, "squad",
                          llm="extractive", details=details)
    assert report.questions == 2
    m = report.metrics
    assert m["answer_contained"] == 1.0 and m["citation_precision"] == 1.0
    assert 0 < m["f1"] < 1 and m["answer_rate_answerable"] == 1.0
    rows = [json.loads(line) for line in details.read_text().splitlines()]
    # The medians are those of the per-question times the details file records.
    assert report.latency["first_token_median"] == statistics.median(
        r["first_token"] for r in rows)
    assert report.latency["total_median"] == statistics.median(r["total"] for r in rows)
    assert [r["contained"] for r in rows] == [True, True]
    again = report_from_details(details, "squad-v1.1", "extractive")
    assert again.metrics == report.metrics and again.questions == 2


def test_squad_v2_cli_json(tiny_data: Path, tmp_path: Path,
                           capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["eval", "answers", "--dataset", "squad2", "--data", str(tiny_data),
                 "--data-dir", str(tmp_path / "d"), "--json", "--limit", "2"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["dataset"] == "squad-v2.0" and report["backend"] == "extractive"
    assert report["metrics"]["refusal_accuracy_unanswerable"] == 1.0
    assert report["metrics"]["answer_rate_answerable"] == 1.0


def test_squad_normalisation() -> None:
    assert normalize_answer("The Broncos!") == "broncos"
    assert exact_match("the  Denver Broncos.", ["Denver Broncos"]) == 1.0
    assert token_f1("Denver Broncos won", ["Denver Broncos"]) == pytest.approx(0.8)
    assert contains_answer("They were led by Peyton Manning [1].", ["Peyton Manning"])
    assert not contains_answer("Mannings", ["Manning"])
