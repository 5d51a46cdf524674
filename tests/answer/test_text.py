"""The answer chain's word measures: coverage and yes/no questions."""

from __future__ import annotations

import pytest

from qa.answer.text import asks_yes_or_no, coverage


def test_coverage() -> None:
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
