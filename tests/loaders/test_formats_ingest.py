"""Every new format through the real ``qa.ingest`` (parse worker, limits, index), with a question each.

Good files of each format and hostile ones go through one ingest: the hostile
ones fail alone with one line, the good ones are indexed whole, and a question
per format finds, and the extractive answer cites, the right slide, sheet rows,
chapter, section or page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa import ask, ingest, retrieve
from tests.hostile import helpers as h
from tests.hostile.test_formats import epub_drm, office_encrypted

from . import samples
from .test_ocr import PAGE_ONE, PAGE_TWO, scan, write_scanned_pdf

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("shared_model")]

# question -> (file, page, section, words of the cited text)
QUESTIONS = {
    "When did twelve engineers join?": ("update.pptx", 2, "Slide 2: Hiring", "Twelve engineers"),
    "Which office does Bo Chen work in?": ("book.xlsx", None, "Staff > rows 2-3", "Office: Oslo"),
    "What is the population of Bergen?": ("cities.csv", None, "rows 2-4",
                                          "City: Bergen; Population: 291000"),
    "What drew Ishmael?": ("moby.epub", None, "Loomings", "The sea drew him"),
    "How did the year go for the Lisbon office?": ("report.odt", None, "Annual Report",
                                                   "The year went well"),
    "How many ships did the harbour authority count?": ("harbour.png", None, "", "4,210 ships"),
    "When do lighthouse keepers change shifts?": ("scan.pdf", 2, "", "change shifts at dawn"),
}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("formats")
    samples.write_pptx(folder / "update.pptx")
    samples.write_xlsx(folder / "book.xlsx")
    (folder / "cities.csv").write_text("City,Population\nOslo,709000\nBergen,291000\n"
                                       "Trondheim,212000\n")
    samples.write_epub(folder / "moby.epub")
    samples.write_odt(folder / "report.odt")
    scan(PAGE_ONE).save(folder / "harbour.png")
    write_scanned_pdf(folder / "scan.pdf", [PAGE_ONE, PAGE_TWO])
    bad = folder / "bad"
    bad.mkdir()
    good_pptx = (folder / "update.pptx").read_bytes()
    (bad / "locked.pptx").write_bytes(office_encrypted(good_pptx))
    (bad / "bomb.xlsx").write_bytes(h.zip_with_zeros((folder / "book.xlsx").read_bytes(),
                                                     "xl/media/zeros.bin", 120))
    odt = (folder / "report.odt").read_bytes()
    (bad / "cut.odt").write_bytes(odt[: len(odt) // 2])
    (bad / "drm.epub").write_bytes(epub_drm((folder / "moby.epub").read_bytes()))
    (bad / "broken.png").write_bytes((folder / "harbour.png").read_bytes()[:3000])
    return folder


EXPECTED_FAILURES = {
    "locked.pptx": "password-protected", "bomb.xlsx": "zip bomb", "cut.odt": "not a zip archive",
    "drm.epub": "DRM-protected", "broken.png": "damaged image",
}


def test_ingest_reads_the_good_and_refuses_the_bad(corpus: Path, data_dir: Path) -> None:
    report = ingest([corpus])
    statuses = {Path(r.path).name: (r.status, r.message) for r in report.files}
    for name, words in EXPECTED_FAILURES.items():
        status, message = statuses.pop(name)
        assert status == "failed" and words in message, (name, message)
        assert "\n" not in message and len(message) <= 500
    assert {name: s for name, (s, _) in statuses.items()} == dict.fromkeys(
        ["update.pptx", "book.xlsx", "cities.csv", "moby.epub", "report.odt", "harbour.png",
         "scan.pdf"], "added")
    h.check_index()
    for question, (name, page, section, words) in QUESTIONS.items():
        best = retrieve(question, k=1)[0]
        assert (Path(best.source).name, best.page) == (name, page), (question, best)
        assert best.section == section and words in best.text, (question, best)
        answer = ask(question, llm="extractive")
        assert not answer.refused, (question, answer.text)
        assert answer.citations[0].source == best.source, (question, answer.citations)
        assert answer.citations[0].page == page
