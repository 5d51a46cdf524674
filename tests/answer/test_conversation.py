"""The seed conversation with the real local model: follow-ups, why, who said what, a summary.

Each turn's history is the conversation so far with qa's own answers, as a user
of ``qa chat`` or the web app has it.
"""

from __future__ import annotations

import logging

import pytest

from qa import Answer, ask
from qa.answer.citations import claims
from qa.answer.condense import condense_with_model
from qa.api import workspace
from qa.config import Settings

from .conftest import needs_local

pytestmark = [pytest.mark.slow, pytest.mark.llm, needs_local]

TURNS = [
    "Which countries took part in the conference Moscow hosted in January?",
    "And who was invited in February?",
    "Why is Helmand important?",
    "What did Kabulov say?",
    "Summarize the article in three sentences.",
]


@pytest.fixture(scope="module")
def conversation(seed_settings: Settings) -> list[Answer]:
    history: list[dict[str, str]] = []
    answers = []
    for question in TURNS:
        answer = ask(question, history=history, llm="local", settings=seed_settings)
        answers.append(answer)
        history += [{"role": "user", "content": question},
                    {"role": "assistant", "content": answer.text}]
    return answers


def cited(answer: Answer) -> str:
    return " ".join(c.quote for c in answer.citations)


def test_january(conversation: list[Answer]) -> None:
    answer = conversation[0]
    assert not answer.refused, answer.flagged
    assert "Pakistan" in answer.text and "China" in answer.text
    assert "Pakistan and China" in cited(answer)


def test_february_follow_up(conversation: list[Answer]) -> None:
    answer = conversation[1]
    assert not answer.refused, answer.flagged
    assert "India" in answer.text and "Iran" in answer.text, answer.text
    assert "India and Iran" in cited(answer)


def test_why_helmand(conversation: list[Answer]) -> None:
    answer = conversation[2]
    assert not answer.refused, answer.flagged
    text = answer.text.lower()
    assert "drug" in text and "rare earth" in text, answer.text
    assert "rare earth" in cited(answer).lower()


def test_what_kabulov_said(conversation: list[Answer]) -> None:
    answer = conversation[3]
    assert not answer.refused, answer.flagged
    text = answer.text.lower()
    assert "base" in text and "mexico" in text, answer.text  # both of his points
    assert "military bases" in cited(answer) and "Mexico" in cited(answer)


def test_summary_reads_the_document(conversation: list[Answer]) -> None:
    answer = conversation[4]
    assert not answer.refused, answer.flagged
    assert answer.route == "document"
    sentences = claims(answer.text)
    assert len(sentences) == 3, answer.text
    assert all(c.cited for c in sentences), answer.text
    assert len({c.chunk_id for c in answer.citations}) >= 2


def test_model_rewrite_of_a_follow_up(seed_settings: Settings,
                                      caplog: pytest.LogCaptureFixture) -> None:
    """The rewrite a large model gets, made here by the real local model."""
    history = [{"role": "user", "content": TURNS[0]},
               {"role": "assistant", "content": "Pakistan and China took part [1]."}]
    chat = workspace(seed_settings).chat_model("local")
    assert chat is not None
    with caplog.at_level(logging.INFO, logger="qa.answer.condense"):
        query = condense_with_model(TURNS[1], history, chat)
    assert not any("unusable rewrite" in r.getMessage() for r in caplog.records), query
    assert "February" in query and "invited" in query  # the user's own words stay
    assert "Moscow" in query or "conference" in query.lower(), query
