"""Making follow-up questions standalone, by rule and with a (fake) model."""

from __future__ import annotations

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel

from qa.answer.condense import (
    condense_rule_based,
    condense_with_model,
    needs_clarification,
    needs_history,
)

PREVIOUS = [{"role": "user", "content": "Which countries took part in the conference Moscow "
                                        "hosted in January?"},
            {"role": "assistant", "content": "Pakistan and China [1]."}]


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("And which countries were invited in February?",
         "And which countries were invited in February? (conference Moscow)"),
        ("Who attended it?", "Who attended it? (conference Moscow January)"),
        ("What is the population of Kabul?", "What is the population of Kabul?"),
    ],
)
def test_rule_based(question: str, expected: str) -> None:
    assert condense_rule_based(question, PREVIOUS) == expected


def test_no_history_no_change() -> None:
    assert condense_rule_based("And in February?", []) == "And in February?"
    assert needs_history("What about it?") and not needs_history("Who founded Rome in 753 BC?")


def test_with_model_uses_its_rewrite() -> None:
    chat = FakeListChatModel(responses=[
        "Rewritten question: Which countries did Moscow invite to its February conference?\n"])
    rewrite = condense_with_model("And which countries were invited in February?", PREVIOUS, chat)
    assert rewrite == "Which countries did Moscow invite to its February conference?"


def test_with_model_falls_back_to_rule_on_empty_rewrite() -> None:
    chat = FakeListChatModel(responses=["  "])
    assert condense_with_model("And in February?", PREVIOUS, chat) == (
        "And in February? (conference Moscow)")


def test_with_model_falls_back_to_rule_when_it_echoes_the_question() -> None:
    question = "And which countries were invited in February?"
    chat = FakeListChatModel(responses=[question])
    assert condense_with_model(question, PREVIOUS, chat) == (
        "And which countries were invited in February? (conference Moscow)")


@pytest.mark.parametrize("question", ["What about the other one?", "And that?", "Thank you!",
                                      "ok bye", "hi, can you help me"])
def test_vague_or_small_talk_without_history_is_asked_back(question: str) -> None:
    assert needs_clarification(question, [])


@pytest.mark.parametrize("question", ["Who founded the Normans?", "Why is Helmand important?",
                                      "What is the population of Kabul?"])
def test_real_questions_are_not_asked_back(question: str) -> None:
    assert not needs_clarification(question, [])


def test_a_follow_up_with_history_is_resolved_not_asked_back() -> None:
    history = [{"role": "user", "content": "Which countries were invited in January?"}]
    assert not needs_clarification("What about the other one?", history)
