"""ask / ask_stream on a real seed index, with the extractive and the local backend."""

from __future__ import annotations

import time

import pytest

from qa import Answer, Citation, ask, ask_stream
from qa.answer.prompts import REFUSAL_TEXT
from qa.config import Settings
from qa.errors import QAError

from .conftest import FEBRUARY, JANUARY, KABUL, needs_local

pytestmark = pytest.mark.slow

BACKENDS = [
    "extractive",
    pytest.param("local", marks=[pytest.mark.llm, needs_local]),
]


def history_after(answer: Answer) -> list[dict[str, str]]:
    return [{"role": "user", "content": answer.question},
            {"role": "assistant", "content": answer.text}]


def check_offsets(citation: Citation, seed_text: str) -> None:
    assert seed_text[citation.start:citation.end] == citation.text
    assert seed_text[citation.quote_start:citation.quote_end] == citation.quote
    assert citation.start <= citation.quote_start < citation.quote_end <= citation.end


@pytest.mark.parametrize("llm", BACKENDS)
def test_january_conference(llm: str, seed_settings: Settings, seed_text: str) -> None:
    answer = ask(JANUARY, llm=llm, settings=seed_settings)
    assert not answer.refused, answer.flagged
    assert "Pakistan" in answer.text and "China" in answer.text
    assert answer.citations and "[1]" in answer.text
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    assert any("Pakistan and China" in c.quote for c in answer.citations)
    for c in answer.citations:
        check_offsets(c, seed_text)
    data = answer.to_dict()
    assert {"answer", "refused", "citations"} <= set(data)
    assert set(data["citations"][0]) >= {"n", "source", "title", "page", "section", "start",
                                         "end", "text", "quote", "quote_start", "quote_end"}
    assert answer.backend == llm


@pytest.mark.parametrize("llm", BACKENDS)
def test_kabul_population_is_refused(llm: str, seed_settings: Settings) -> None:
    answer = ask(KABUL, llm=llm, settings=seed_settings)
    assert answer.refused and answer.text == REFUSAL_TEXT
    assert answer.citations == [] and answer.passages


@pytest.mark.parametrize("llm", BACKENDS)
def test_stream_gives_deltas_then_the_answer(llm: str, seed_settings: Settings) -> None:
    started = time.perf_counter()
    items, seen = [], []  # seconds after the call at which each item arrived
    for item in ask_stream(JANUARY, llm=llm, settings=seed_settings):
        items.append(item)
        seen.append(time.perf_counter() - started)
    *deltas, final = items
    assert isinstance(final, Answer) and not final.refused
    assert len(deltas) > 1 and all(isinstance(d, str) for d in deltas)
    assert "Pakistan" in "".join(deltas)
    # The reported times agree with a clock outside the chain: the first token was
    # timed before the first delta arrived here, the total before the Answer did.
    assert 0 < final.timings["first_token"] <= seen[0]
    assert seen[-2] - 0.05 <= final.timings["total"] <= seen[-1]


@pytest.mark.parametrize("llm", BACKENDS)
def test_february_follow_up_uses_history(llm: str, seed_settings: Settings,
                                         seed_text: str) -> None:
    first = ask(JANUARY, llm=llm, settings=seed_settings)
    answer = ask(FEBRUARY, history_after(first), llm=llm, settings=seed_settings)
    assert "Moscow" in answer.standalone_question or "conference" in answer.standalone_question
    assert not answer.refused, answer.flagged
    assert "India" in answer.text and "Iran" in answer.text
    assert any("February" in c.quote and "India" in c.quote for c in answer.citations)
    for c in answer.citations:
        check_offsets(c, seed_text)


def test_follow_up_retrieves_the_february_passage(seed_settings: Settings) -> None:
    first = ask(JANUARY, settings=seed_settings)
    alone = ask(FEBRUARY, settings=seed_settings)
    followed = ask(FEBRUARY, history_after(first), settings=seed_settings)
    february = "Moscow called Afghanistan along with India and Iran"
    assert any(february in p.text for p in followed.passages[:2])
    assert followed.standalone_question != alone.standalone_question == FEBRUARY


def test_bad_input_is_a_clear_error(seed_settings: Settings) -> None:
    with pytest.raises(QAError, match="empty"):
        ask("  ", settings=seed_settings)
    with pytest.raises(QAError, match=r"history\[0\]"):
        ask(JANUARY, [{"role": "system", "content": "x"}], settings=seed_settings)
