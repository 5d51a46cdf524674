"""The extractive backend's choice of sentences, on literal candidates."""

from __future__ import annotations

from qa.answer.extractive import MIN_SCORE, extractive_answer, relevant, word_deltas
from qa.answer.scoring import Candidate
from qa.answer.text import Sentence


def cand(passage: int, text: str, score: float) -> Candidate:
    return Candidate(passage, Sentence(text, 0, len(text)), score, score, score)


def test_best_sentence_is_quoted_with_its_passage() -> None:
    text, cited = extractive_answer([cand(2, "Moscow hosted China.", 0.9),
                                     cand(0, "Iran came later", 0.5)])
    assert (text, cited) == ("Moscow hosted China [3].", [2])


def test_a_close_second_sentence_of_the_same_passage_joins() -> None:
    text, cited = extractive_answer([cand(1, "Moscow hosted\nChina.", 0.9),
                                     cand(0, "Other passage.", 0.89),
                                     cand(1, "India and Iran came!", 0.85),
                                     cand(1, "Third one.", 0.84)])
    assert text == "Moscow hosted China [2]. India and Iran came [2]!"
    assert cited == [1]
    text, _ = extractive_answer([cand(0, "Best.", 0.9), cand(0, "Far behind.", 0.7)])
    assert text == "Best [1]."


def test_relevance_threshold() -> None:
    assert not relevant([])
    assert relevant([cand(0, "x", MIN_SCORE)]) and not relevant([cand(0, "x", MIN_SCORE - 0.01)])


def test_word_deltas_add_up() -> None:
    text = "In January, Moscow hosted a conference with Pakistan and China [1]."
    deltas = list(word_deltas(text))
    assert len(deltas) == 3 and "".join(deltas) == text
