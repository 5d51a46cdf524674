"""Stop words, question words, stems and content words."""

from __future__ import annotations

import pytest

from qa.text.words import QUESTION_WORDS, STOPWORDS, content_words, keyword_analyzer, stem


@pytest.mark.parametrize(
    "words",
    [("countries", "country"), ("hosted", "hosting", "hosts", "host"), ("talks", "talk"),
     ("invited", "inviting", "invites"), ("Russia's", "Russia", "russia"),
     ("ended", "ending", "ends", "end"),
     pytest.param(("invite", "invited"), marks=pytest.mark.xfail(
         strict=True, reason="the suffix stripper leaves the e of 'invite'"))],
)
def test_inflections_of_one_word_share_a_stem(words: tuple[str, ...]) -> None:
    assert len({stem(w) for w in words}) == 1, [stem(w) for w in words]


@pytest.mark.parametrize("pair", [("class", "clas"), ("was", "wa"), ("host", "hose"),
                                  ("talk", "tall")])
def test_different_words_keep_different_stems(pair: tuple[str, str]) -> None:
    assert stem(pair[0]) != stem(pair[1])


def test_content_words_drop_stop_and_question_words() -> None:
    assert content_words("Who hosted the talks in January?", question=True) == [
        "host", "talk", "january"]
    assert content_words("Who hosted the talks?") == ["host", "talk"]


def test_question_words_are_dropped_only_from_questions() -> None:
    assert content_words("Name the named ones", question=True) == ["one"]
    assert content_words("Name the named ones") == ["name", "nam", "one"]
    assert {"what", "which", "how", "did"} <= QUESTION_WORDS
    assert "the" in STOPWORDS and "conference" not in STOPWORDS


def test_keyword_analyzer_stems_like_the_index() -> None:
    assert keyword_analyzer().analyze("Countries INVITED Café") == ["countri", "invit", "cafe"]
