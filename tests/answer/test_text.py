"""Sentences with offsets and content words."""

from __future__ import annotations

import pytest

from qa.answer.text import (
    asks_yes_or_no,
    content_words,
    coverage,
    split_sentences,
    stem,
    strip_citations,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two!  Three", ["One.", "Two!", "Three"]),
        ("The U.S. troops left. Then Dr. Smith came.", ["The U.S. troops left.",
                                                         "Then Dr. Smith came."]),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("Heading\n\nBody text", ["Heading", "Body text"]),
        ("  \n ... \n", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == expected
    assert all(text[s.start:s.end] == s.text for s in sentences)


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


def test_strip_citations_and_coverage() -> None:
    assert strip_citations("China [1] and Iran [2, 3].") == "China and Iran."
    assert coverage(["a", "b", "b"], {"b"}) == 0.5
    assert coverage([], {"b"}) == 0.0
    assert coverage(["rare", "common"], {"rare"}, {"rare": 3.0, "common": 1.0}) == 0.75


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Is the ferry faster than the bridge?", True),
        ("Did Tesla work for Edison?", True),
        ("can it fly", True),
        ("How long is the bridge?", False),
        ("Who won in 1998?", False),
        ("Isaac Newton was born when?", False),
        ("Name the countries that attended.", False),
    ],
)
def test_asks_yes_or_no(question: str, expected: bool) -> None:
    assert asks_yes_or_no(question) is expected
