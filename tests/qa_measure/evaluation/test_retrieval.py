"""qa_measure.evaluation.retrieval: nDCG by hand, the sampling, and SQuAD-open on a tiny set."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import QAError
from qa_measure.evaluation.retrieval import eval_squad, ndcg, read_jsonl, sample


@pytest.mark.parametrize(
    ("ranked", "gold", "expected"),
    [
        (["a", "b", "c"], {"a"}, 1.0),
        (["x", "a"], {"a"}, 1 / math.log2(3)),  # found second: 1/log2(3) of the ideal
        (["x", "y"], {"a"}, 0.0),
        (["a", "x", "b"], {"a", "b"}, (1 + 1 / 2) / (1 + 1 / math.log2(3))),
        ([], set(), 0.0),
    ],
)
def test_ndcg_by_hand(ranked: list[str], gold: set[str], expected: float) -> None:
    assert ndcg(ranked, gold) == pytest.approx(expected)


def test_sample_spreads_over_the_whole_list() -> None:
    items = [{"i": i} for i in range(10)]
    assert [x["i"] for x in sample(items, 5)] == [0, 2, 4, 6, 8]
    assert sample(items, None) == items and sample(items, 50) == items


def test_missing_benchmark_names_the_option(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="--data"):
        list(read_jsonl(tmp_path / "nope.jsonl"))


@pytest.mark.slow
def test_squad_open_on_two_articles(tmp_path: Path) -> None:
    """Two articles, three questions whose answers are in them: every hit@5 is 1."""
    folder = tmp_path / "data" / "squad-v1.1-dev"
    folder.mkdir(parents=True)
    texts = {
        "a1": "The Lumen Bridge in Karsk is 412 metres long. It opened to traffic in 1931.",
        "a2": "The Orvik lighthouse keeper counted 977 gulls on Tuesday morning.",
    }
    with open(folder / "articles.jsonl", "w") as out:
        for aid, text in texts.items():
            out.write(json.dumps({"id": aid, "title": f"Article_{aid}", "text": text,
                                  "paragraphs": [{"start": 0, "end": len(text)}]}) + "\n")
    questions = [("a1", "How long is the Lumen Bridge?", ["412 metres"]),
                 ("a1", "When did the Lumen Bridge open?", ["1931"]),
                 ("a2", "How many gulls did the Orvik keeper count?", ["977"])]
    with open(folder / "questions.jsonl", "w") as out:
        for aid, q, answers in questions:
            out.write(json.dumps({"article_id": aid, "question": q, "answers": answers}) + "\n")
    report = eval_squad(Settings.from_env(), tmp_path / "data")
    assert report.questions == 3 and report.chunks == 2
    for mode in ("hybrid", "dense", "keyword"):
        assert report.metrics[mode]["hit@1"] == 1.0, (mode, report.metrics[mode])
