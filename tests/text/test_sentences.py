"""Sentences with their offsets: one splitter for the chunker and the answer chain."""

from __future__ import annotations

import pytest

from qa.text.sentences import sentence_spans, split_sentences


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("One. Two!  Three", ["One.", "Two!", "Three"]),
        ("Really? Yes.", ["Really?", "Yes."]),
        ("The U.S. troops left. Then Dr. Smith came.", ["The U.S. troops left.",
                                                         "Then Dr. Smith came."]),
        ("Mr. Li and Ms. Wu met J. Smith. No. 5 won vs. No. 6.",
         ["Mr. Li and Ms. Wu met J. Smith.", "No. 5 won vs. No. 6."]),
        ("St. Petersburg lies north. It is cold.", ["St. Petersburg lies north.", "It is cold."]),
        ('He said "stop." Then he left.', ['He said "stop."', "Then he left."]),
        ("It ended (finally.) Good.", ["It ended (finally.)", "Good."]),
        ("He said ‘no.’ She agreed.", ["He said ‘no.’", "She agreed."]),
        ("Heading\n\nBody text", ["Heading", "Body text"]),
        ("Line one\nline two.", ["Line one\nline two."]),
        ("Version 2.5 is out.", ["Version 2.5 is out."]),
        ("File by 11:30 a.m. to get a reply at 4:00 p.m. the same day. Then wait.",
         ["File by 11:30 a.m. to get a reply at 4:00 p.m. the same day.", "Then wait."]),
        ("Use a format, e.g. a table, i.e. rows. Done.",
         ["Use a format, e.g. a table, i.e. rows.", "Done."]),
        ("  \n ... \n", []),
        ("", []),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    sentences = split_sentences(text)
    assert [s.text for s in sentences] == expected
    assert all(text[s.start:s.end] == s.text for s in sentences)


def test_spans_keep_pieces_without_words() -> None:
    text = "First one. ... Second one.  "
    assert [text[s:e] for s, e in sentence_spans(text)] == ["First one.", "...", "Second one."]
    assert [s.text for s in split_sentences(text)] == ["First one.", "Second one."]


def test_spans_stay_inside_the_range() -> None:
    text = "Before. Inside one. Inside two. After."
    start, end = text.index("Inside one"), text.index(" After")
    assert [text[s:e] for s, e in sentence_spans(text, start, end)] == [
        "Inside one.", "Inside two."]
