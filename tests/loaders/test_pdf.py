"""PDF: pages and paragraphs, titles, and the PDFs that cannot be read."""

from __future__ import annotations

from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.pdfgen import canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate

from qa.errors import EmptyDocumentError, LoaderError
from qa.loaders import load
from qa.loaders.pdf import page_paragraphs

from .helpers import texts

PROSE = "This sentence is prose that wraps across several lines of the page. " * 4


def write_report(path: Path, title: str | None = "Annual Report") -> Path:
    """A three-page PDF with headings and wrapped paragraphs."""
    styles = getSampleStyleSheet()
    story = []
    for page in range(1, 4):
        story.append(Paragraph(f"Chapter {page}", styles["Heading1"]))
        for n in range(1, 3):
            story.append(
                Paragraph(f"Page {page} paragraph {n}. {PROSE}The end.", styles["BodyText"])
            )
        story.append(PageBreak())
    kwargs = {"title": title} if title is not None else {}
    SimpleDocTemplate(str(path), pagesize=A4, **kwargs).build(story)
    return path


def write_pages(path: Path, pages: list[list[str]]) -> Path:
    """A PDF with the given lines drawn on each page (an empty list draws a rectangle)."""
    pdf = canvas.Canvas(str(path), pagesize=A4)
    for lines in pages:
        if not lines:
            pdf.rect(100, 100, 300, 300, fill=1)
        for n, line in enumerate(lines):
            pdf.drawString(72, 780 - 14 * n, line)
        pdf.showPage()
    pdf.save()
    return path


def encrypt(source: Path, target: Path, user_password: str) -> Path:
    writer = PdfWriter(clone_from=PdfReader(source))
    writer.encrypt(user_password, owner_password="owner", algorithm="RC4-128")
    with target.open("wb") as out:
        writer.write(out)
    return target


def test_pages_and_paragraphs(tmp_path, load_checked):
    doc = load_checked(write_report(tmp_path / "report.pdf"))
    assert doc.mime == "application/pdf"
    assert doc.title == "Annual Report"
    assert doc.metadata["pages"] == 3
    assert [b.page for b in doc.blocks] == [1] * 3 + [2] * 3 + [3] * 3
    blocks = texts(doc)
    assert blocks[0] == "Chapter 1"
    assert blocks[1].startswith("Page 1 paragraph 1.") and blocks[1].endswith("The end.")
    assert blocks[2].startswith("Page 1 paragraph 2.")
    assert "Page 3 paragraph 2." in blocks[8]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Annual Report", "Annual Report"),
        ("untitled", "report"),
        ("Microsoft Word - report.docx", "report"),
        ("   ", "report"),
        (None, "report"),
    ],
)
def test_title_from_metadata_when_sensible(tmp_path, load_checked, title, expected):
    assert load_checked(write_report(tmp_path / "report.pdf", title)).title == expected


def test_thousands_of_pages(tmp_path, load_checked):
    path = write_pages(tmp_path / "long.pdf", [[f"Page {n} says hello."] for n in range(1, 2001)])
    doc = load_checked(path)
    assert len(doc.blocks) == 2000
    assert doc.blocks[-1].page == 2000
    assert doc.text[doc.blocks[-1].start :] == "Page 2000 says hello."


def test_blank_and_image_pages_are_skipped(tmp_path, load_checked):
    doc = load_checked(write_pages(tmp_path / "mixed.pdf", [["Text here."], [], ["More."]]))
    assert [(b.page, doc.text[b.start : b.end]) for b in doc.blocks] == [
        (1, "Text here."),
        (3, "More."),
    ]


@pytest.mark.parametrize("pages", [[[]], [[], []]], ids=["one-drawn-page", "two-drawn-pages"])
def test_pdf_of_drawings_only(tmp_path, pages):
    with pytest.raises(EmptyDocumentError, match=r"no text layer and no images; there is nothing"):
        load(write_pages(tmp_path / "shapes.pdf", pages))


def test_encrypted_pdf_is_refused(tmp_path):
    locked = encrypt(write_report(tmp_path / "plain.pdf"), tmp_path / "locked.pdf", "secret")
    with pytest.raises(LoaderError, match="is encrypted; remove the password .* ingest it again"):
        load(locked)


def test_pdf_encrypted_with_an_empty_password_opens(tmp_path, load_checked):
    opened = encrypt(write_report(tmp_path / "plain.pdf"), tmp_path / "perms.pdf", "")
    assert "Chapter 2" in load_checked(opened).text


@pytest.mark.parametrize(
    "cut", [lambda data: data[: len(data) // 2], lambda data: data[:400], lambda data: b"%PDF"]
)
def test_truncated_pdf(tmp_path, cut):
    data = write_report(tmp_path / "whole.pdf").read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(cut(data))
    with pytest.raises(LoaderError, match="not a readable PDF .*re-download or re-export it"):
        load(path)


def test_not_a_pdf_at_all(tmp_path):
    path = tmp_path / "fake.pdf"
    path.write_text("just some text, not a PDF", encoding="utf-8")
    with pytest.raises(LoaderError, match="not a readable PDF"):
        load(path)


@pytest.mark.parametrize(
    ("text", "paragraphs"),
    [
        (
            "a full line of text here\nend.\nNext one",
            ["a full line of text here\nend.", "Next one"],
        ),
        ("para one\n\n  para two  \n", ["para one", "para two"]),
        ("equal lines\nequal lines", ["equal lines\nequal lines"]),
        ("", []),
    ],
)
def test_page_paragraphs(text, paragraphs):
    assert page_paragraphs(text) == paragraphs
