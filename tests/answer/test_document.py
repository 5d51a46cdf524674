"""Whole-document questions: routing, the document chosen, and its central sentences."""

from __future__ import annotations

import pytest

from qa.answer.document import (
    central_excerpts,
    is_document_question,
    pick_document,
    requested_sentences,
)
from qa.types import Passage


def chunk(text: str, idx: int, doc: str = "d", title: str = "Report") -> Passage:
    return Passage(text, 0.0, f"/{doc}.txt", title, None, "", idx * 100, idx * 100 + len(text),
                   f"{doc}:{idx}", doc)


@pytest.mark.parametrize("question", [
    "Summarize the article in three sentences.", "What is the article mainly arguing?",
    "What is this document about?", "Give me the main points.", "tl;dr please",
    "What are the key findings of the paper?", "Can you sum up the report?",
])
def test_whole_document_questions(question: str) -> None:
    assert is_document_question(question)


@pytest.mark.parametrize("question", [
    "Why is Helmand important?", "What did Kabulov say?", "Which countries took part?",
    "How do I reset my password?", "Who wrote the article on taxes?",
])
def test_questions_about_facts_are_not(question: str) -> None:
    assert not is_document_question(question)


def test_requested_sentences() -> None:
    assert requested_sentences("Summarize it in three sentences") == 3
    assert requested_sentences("Give me 5 key points") == 5
    assert requested_sentences("Summarize the article") is None


def test_pick_document_by_title_only_document_or_best_passage() -> None:
    best = [chunk("x", 0, "b")]
    assert pick_document("Summarize it", best, {"a": "Moscow talks"}) == "a"
    titles = {"a": "Moscow peace talks", "b": "Helmand drugs"}
    assert pick_document("Summarize the Moscow peace talks article", best, titles) == "a"
    assert pick_document("Summarize the article", best, titles) == "b"
    assert pick_document("Summarize the article", [], titles) is None


def test_short_document_is_shown_whole_in_order() -> None:
    chunks = [chunk("One a. Two b.", 0), chunk("Three c.", 1)]
    shown, texts = central_excerpts(chunks, None, budget=1000)
    assert [p.chunk_id for p in shown] == ["d:0", "d:1"]
    assert texts == ["One a. Two b.", "Three c."]


@pytest.mark.slow
def test_long_document_keeps_its_opening_and_central_sentences(embedder) -> None:  # type: ignore[no-untyped-def]
    opening = "The city council approved a new budget for public transport on Monday."
    topic = [
        "The budget doubles spending on buses and trams over five years.",
        "Council members said public transport spending must grow as the city grows.",
        "Ticket prices for buses and trams will stay the same until 2027.",
        "Two new tram lines will connect the suburbs with the city centre.",
        "Bus drivers will get a pay rise paid for by the transport budget.",
        "The opposition voted against the transport budget, calling it too costly.",
    ]
    asides = ["The mayor's dog was seen at the meeting wearing a red scarf.",
              "Rain was forecast for the weekend in the northern hills.",
              "A local bakery won a prize for its rye bread."]
    chunks = [chunk(" ".join([opening, asides[0], topic[0]]), 0),
              chunk(" ".join([asides[1], topic[1], topic[2], topic[3]]), 1),
              chunk(" ".join([topic[4], asides[2], topic[5]]), 2)]
    shown, texts = central_excerpts(chunks, embedder, budget=300)
    joined = " ".join(texts)
    assert len(joined) <= 300 + 20  # "... " marks where text was left out
    assert sum(t in joined for t in [opening, *topic]) >= 3
    assert not any(a in joined for a in asides)
    assert [p.chunk_id for p in shown] == sorted(p.chunk_id for p in shown)
