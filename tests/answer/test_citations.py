"""The citation check on literal passages: wrong, out-of-range and missing citations."""

from __future__ import annotations

import pytest

from qa.answer.citations import check_citations, claims, support
from qa.text.markers import markers
from qa.types import Passage

JANUARY = ("In January, Moscow hosted a trilateral peace conference on Afghanistan with "
           "Pakistan and China. Afghan officials blasted the talks.")
FEBRUARY = ("To appease Afghanistan, Moscow called Afghanistan along with India and Iran to "
            "its February peace negotiation.")
HELMAND = "Helmand province is famous for drugs and rare earth elements."


def passage(text: str, start: int, n: int) -> Passage:
    return Passage(text=text, score=0.1, source="/docs/a.txt", title="A", page=None,
                   section="", start=start, end=start + len(text), chunk_id=f"d:{n}",
                   doc_id="d")


@pytest.fixture
def passages() -> list[Passage]:
    return [passage(JANUARY, 100, 1), passage(FEBRUARY, 400, 2), passage(HELMAND, 900, 3)]


def test_markers_and_claims() -> None:
    assert markers("a [1], b [2, 3] c [4;1]") == [1, 2, 3, 4, 1]
    assert [(c.text, c.cited) for c in claims("China took part. [1] Iran too [2][3].")] == [
        ("China took part.", [1]), ("Iran too.", [2, 3])]


def test_supported_answer_is_kept_and_quoted(passages: list[Passage]) -> None:
    checked = check_citations("Pakistan and China took part in the January conference [1].",
                              passages)
    assert checked.text == "Pakistan and China took part in the January conference [1]."
    assert checked.flagged == [] and checked.supported
    (c,) = checked.citations
    assert (c.n, c.chunk_id, c.start, c.end) == (1, "d:1", 100, 100 + len(JANUARY))
    assert c.quote == JANUARY.split(". ")[0] + "."
    assert c.text[c.quote_start - c.start:c.quote_end - c.start] == c.quote


def test_planted_wrong_citation_is_caught(passages: list[Passage]) -> None:
    checked = check_citations("Moscow invited India and Iran in February [3].", passages)
    assert any("removed [3]" in note for note in checked.flagged)
    # The sentence stays, now citing the passage that does support it.
    assert checked.text == "Moscow invited India and Iran in February [1]."
    assert [c.chunk_id for c in checked.citations] == ["d:2"]


def test_out_of_range_citation_is_removed(passages: list[Passage]) -> None:
    checked = check_citations("Helmand is famous for drugs [7][3].", passages)
    assert any("removed [7]" in note for note in checked.flagged)
    assert checked.text == "Helmand is famous for drugs [1]."
    assert [c.chunk_id for c in checked.citations] == ["d:3"]


def test_unsupported_sentence_is_dropped(passages: list[Passage]) -> None:
    checked = check_citations(
        "China took part in the January conference [1]. Kabul has 4,600,000 people [2].",
        passages)
    assert checked.text == "China took part in the January conference [1]."
    assert checked.dropped == 1 and not checked.supported
    assert any("dropped 'Kabul has 4,600,000 people.'" in note for note in checked.flagged)


def test_renumbering_follows_first_appearance(passages: list[Passage]) -> None:
    checked = check_citations(
        "Helmand is famous for drugs [3]. Moscow called India and Iran in February [2]. "
        "Pakistan and China were in January [1][3].", passages)
    assert checked.text == ("Helmand is famous for drugs [1]. Moscow called India and Iran in "
                            "February [2]. Pakistan and China were in January [3].")
    assert [c.chunk_id for c in checked.citations] == ["d:3", "d:2", "d:1"]
    assert any("removed [3]" in note for note in checked.flagged)


def test_invented_number_is_unsupported() -> None:
    assert support("Moscow hosted 12 countries.", "Moscow hosted countries.").score == 0.0
    assert support("Moscow hosted countries.", "Moscow hosted countries.").score == 1.0


@pytest.mark.parametrize("markers", ["[1][2]", "[1]"], ids=["both-cited", "weaker-cited"])
def test_only_the_best_supporting_passage_is_kept(markers: str) -> None:
    weak = passage("Moscow hosted Pakistan in January.", 0, 1)  # support 0.78: no China
    strong = passage("In January Moscow hosted Pakistan and China.", 100, 2)
    checked = check_citations(f"Moscow hosted Pakistan and China in January {markers}.",
                              [weak, strong])
    assert checked.text == "Moscow hosted Pakistan and China in January [1]."
    assert [c.chunk_id for c in checked.citations] == ["d:2"]
    assert any(note.startswith("removed [1]") and "passage 2 supports it better" in note
               for note in checked.flagged)


def test_list_layout_survives_the_check(passages: list[Passage]) -> None:
    answer = ("The talks had two stages:\n- In January Pakistan and China took part [1].\n"
              "- In February India and Iran were invited [2].")
    checked = check_citations(answer, passages, "Who took part in the talks?")
    # The lead-in line states nothing a passage supports, so it goes; the list stays a list.
    assert checked.text.splitlines() == [
        "- In January Pakistan and China took part [1].",
        "- In February India and Iran were invited [2]."]


@pytest.mark.slow
def test_a_paraphrase_is_supported_an_invention_is_not(embedder, passages: list[Passage]) -> None:  # type: ignore[no-untyped-def]
    paraphrase = "The province is well known for narcotics and rare earth minerals [3]."
    invented = "The province exports most of its wheat to Europe [3]."
    assert check_citations(paraphrase, passages).kept == 0  # words alone fall short
    checked = check_citations(paraphrase, passages, embedder=embedder)
    assert checked.kept == 1 and checked.citations[0].quote == HELMAND
    assert check_citations(invented, passages, embedder=embedder).kept == 0


def test_the_passage_about_what_was_asked_wins_a_tie_of_facts() -> None:
    quad = passage("Last year's U.S-led Quadrilateral talks had Russia's backing, where "
                   "Afghanistan, Pakistan and China were on board.", 0, 1)
    january = passage(JANUARY, 500, 2)
    question = "Which countries took part in the conference Moscow hosted in January?"
    checked = check_citations(
        "Russia, Pakistan and China took part in the conference Moscow hosted in January [2].",
        [quad, january], question)
    assert [c.chunk_id for c in checked.citations] == ["d:2"], checked.flagged


def test_a_bare_yes_asserts_the_question(passages: list[Passage]) -> None:
    question = "Is Helmand province famous for drugs?"
    checked = check_citations("Yes [3].", passages, question)
    assert checked.kept == 1 and checked.citations[0].quote == HELMAND
    assert check_citations("Yes [1].", passages, "Is Kabul famous for its gardens?").kept == 0


def test_the_quote_is_the_supporting_sentence_not_its_neighbour() -> None:
    # The seed article: the sentence before the conference one names "countries", a word of
    # the question; the quote is still the one sentence that supports the answer.
    from tests.conftest import SEEDS

    article = next(SEEDS.iterdir()).read_text(encoding="utf-8")
    answer = ("In January, Moscow hosted a trilateral peace conference on Afghanistan with "
              "Pakistan and China and brushed aside the Afghan government.")
    found = support(answer, article, "Which countries took part in the January conference?")
    assert found.score == 1.0 and found.quote is not None
    assert found.quote.text == answer
    assert article[found.quote.start:found.quote.end] == answer
