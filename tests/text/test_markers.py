"""Citation markers: reading, stripping, moving and disarming ``[n]``."""

from __future__ import annotations

import pytest

from qa.text.markers import (
    MARKER,
    disarm_markers,
    marker_numbers,
    markers,
    markers_before_stop,
    strip_citations,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("China [1][2] and Iran [3, 1].", [1, 2, 3, 1]),
        ("Both [ 2 ;4 ].", [2, 4]),
        ("No markers [a] or [] here, nor [1.5].", []),
        ("", []),
    ],
)
def test_markers(text: str, expected: list[int]) -> None:
    assert markers(text) == expected


def test_marker_group_holds_the_numbers() -> None:
    found = MARKER.search("see [2, 3]")
    assert found is not None and marker_numbers(found.group(1)) == [2, 3]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("China [1] and Iran [2, 3].", "China and Iran."),
        ("Pakistan and China [1][2].", "Pakistan and China."),
        ("Keeps [notes] and [1.5]. [4]", "Keeps [notes] and [1.5]."),
    ],
)
def test_strip_citations(text: str, expected: str) -> None:
    assert strip_citations(text) == expected


def test_markers_after_a_stop_move_before_it() -> None:
    assert markers_before_stop("China. [1] Iran too [2].") == "China [1]. Iran too [2]."
    assert markers_before_stop("Yes! [1][2] No.") == "Yes [1][2]! No."
    assert markers_before_stop("Plain [1].") == "Plain [1]."


def test_disarm_rewrites_only_plain_markers() -> None:
    assert disarm_markers("See [2] and [3, 4] and [x].") == "See (2) and [3, 4] and [x]."
