"""PowerPoint: one section per slide, the slide number as the page, tables and notes."""

from __future__ import annotations

import pytest

from qa.errors import EmptyDocumentError
from qa.loaders import load

from .helpers import texts
from .samples import write_pptx


def test_slides_are_pages_and_sections(tmp_path, load_checked):
    doc = load_checked(write_pptx(tmp_path / "update.pptx"))
    assert doc.mime.endswith("presentationml.presentation")
    assert doc.title == "Company Update"
    assert doc.metadata == {"slides": 3}
    got = [(doc.text[b.start : b.end], b.page, b.section, b.kind) for b in doc.blocks]
    assert got == [
        ("Slide 1: Company Update", 1, "Slide 1: Company Update", "heading"),
        ("Prepared for the board", 1, "Slide 1: Company Update", "text"),
        ("Slide 2: Hiring", 2, "Slide 2: Hiring", "heading"),
        ("Twelve engineers joined in spring\nThe Lisbon office opened", 2, "Slide 2: Hiring",
         "text"),
        ("Notes: Mention the relocation budget.", 2, "Slide 2: Hiring", "text"),
        ("Slide 3: Revenue", 3, "Slide 3: Revenue", "heading"),
        ("Year: 2020; Revenue: 3.9 M; Margin: 10%\nYear: 2021; Revenue: 4.2 M; Margin: 12%\n"
         "Year: 2022; Revenue: 5.1 M; Margin: 14%", 3, "Slide 3: Revenue", "table"),
    ]


def test_title_prefers_document_properties(tmp_path, load_checked):
    doc = load_checked(write_pptx(tmp_path / "update.pptx", title="Board deck Q3"))
    assert doc.title == "Board deck Q3"


def test_slides_without_text(tmp_path):
    from pptx import Presentation

    deck = Presentation()
    deck.slides.add_slide(deck.slide_layouts[6])  # blank layout
    deck.save(str(tmp_path / "blank.pptx"))
    with pytest.raises(EmptyDocumentError, match="its slides hold no text"):
        load(tmp_path / "blank.pptx")


def test_grouped_shapes_are_read(tmp_path, load_checked):
    from pptx import Presentation
    from pptx.util import Inches

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[6])
    group = slide.shapes.add_group_shape()
    box = group.shapes.add_textbox(Inches(1), Inches(1), Inches(3), Inches(1))
    box.text_frame.text = "Inside a group"
    deck.save(str(tmp_path / "group.pptx"))
    assert texts(load_checked(tmp_path / "group.pptx")) == ["Slide 1", "Inside a group"]
