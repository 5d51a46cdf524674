"""Sentence scores on literal passages (no embedder: the semantic signal is 0)."""

from __future__ import annotations

import pytest

from qa.answer.scoring import restates, score_sentences
from qa.types import Passage


def passage(text: str) -> Passage:
    return Passage(text, 1.0, "notes.txt", "Notes", None, "", 0, len(text), "d:0", "d")


@pytest.mark.parametrize(
    ("sentence", "asked", "expected"),
    [
        ("Chess olympiad", ["won", "1998", "chess", "olympiad"], True),
        ("The chess olympiad was won in 1998.", ["won", "1998", "chess", "olympiad"], True),
        ("Karpov won the chess olympiad.", ["won", "chess", "olympiad"], False),
        ("The ferry crosses in 25 minutes.", ["long", "ferry", "cross"], False),
        ("How long does the ferry take?", ["long", "ferry", "take"], True),
        ("It is.", ["ferry"], True),
    ],
)
def test_restates(sentence: str, asked: list[str], expected: bool) -> None:
    assert restates(sentence, asked) is expected


def test_a_restatement_is_scored_down_for_a_question_that_asks_for_something() -> None:
    text = "Pellam ferry crossing. The Pellam ferry crosses in 25 minutes."
    [echo, answer] = sorted(score_sentences("How long is the Pellam ferry crossing?",
                                            [passage(text)], None),
                            key=lambda c: c.sentence.start)
    assert echo.lexical >= answer.lexical  # as close a match by words...
    assert echo.score < answer.score  # ...but it says nothing new, so the answer ranks first


def test_a_restatement_can_answer_a_yes_no_question() -> None:
    text = "The Pellam ferry is faster than the bridge."
    [yes_no] = score_sentences("Is the Pellam ferry faster than the bridge?",
                               [passage(text)], None)
    # The same sentence restates a question that asks for something else: scored down there.
    [asked] = score_sentences("What is faster than the bridge, the Pellam ferry?",
                              [passage(text)], None)
    assert yes_no.score > asked.score > 0
