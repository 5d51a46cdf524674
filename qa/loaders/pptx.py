"""PowerPoint slides (.pptx): one section per slide, the slide number as the page, via python-pptx.

Each slide's title opens its section; its text boxes, tables (rows with their
headers, see :mod:`qa.loaders.tables`) and speaker notes follow, tagged with
the slide number in ``Block.page`` so that a chunk never spans two slides and
a citation names its slide.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa.errors import EmptyDocumentError, LoaderError
from qa.loaders.archive import open_zip
from qa.loaders.base import TextBuilder, one_line, squash, title_or_stem
from qa.loaders.tables import TABLE, table_text
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

MIME = "application/vnd.openxmlformats-officedocument.presentationml.presentation"


def load_pptx(path: Path, data: bytes) -> LoadedDocument:
    """A deck's slides in order: title as heading, then text boxes, tables and notes."""
    import pptx
    from pptx.exc import PackageNotFoundError

    open_zip(path, data, "a PowerPoint file",
             "open it in PowerPoint or LibreOffice and save it as .pptx").close()
    from io import BytesIO

    try:
        deck = pptx.Presentation(BytesIO(data))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise LoaderError(
            str(path),
            f"is not a PowerPoint file ({one_line(exc)}); "
            "open it in PowerPoint or LibreOffice and save it as .pptx",
        ) from None
    builder = TextBuilder()
    first_title = ""
    has_text = False
    for number, slide in enumerate(deck.slides, start=1):
        title_shape = slide.shapes.title
        title = squash(title_shape.text_frame.text) if title_shape is not None else ""
        first_title = first_title or title
        has_text = has_text or bool(title)
        section = f"Slide {number}: {title}" if title else f"Slide {number}"
        builder.add(section, kind="heading", section=section, page=number)
        for shape in _shapes(slide.shapes):
            if title_shape is not None and shape.shape_id == title_shape.shape_id:
                continue
            if getattr(shape, "has_table", False) and shape.has_table:
                rows = [[cell.text for cell in row.cells] for row in shape.table.rows]
                added = builder.add(table_text(rows), kind=TABLE, section=section, page=number)
            elif getattr(shape, "has_text_frame", False) and shape.has_text_frame:
                lines = [squash(p.text) for p in shape.text_frame.paragraphs]
                added = builder.add("\n".join(lines), section=section, page=number)
            else:
                added = None
            has_text = has_text or added is not None
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame
            if notes is not None and squash(notes.text):
                builder.add("Notes: " + notes.text, section=section, page=number)
                has_text = True
    if not has_text:
        raise EmptyDocumentError(str(path), "has no text to index; its slides hold no text")
    title = deck.core_properties.title or first_title
    return builder.document(
        path, data, title=title_or_stem(title, path), mime=MIME,
        metadata={"slides": len(deck.slides)},
    )


def _shapes(shapes: Any) -> Iterator[Any]:
    """Every shape, groups opened, in the slide's order."""
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    for shape in shapes:
        if shape.shape_type == MSO_SHAPE_TYPE.GROUP:
            yield from _shapes(shape.shapes)
        else:
            yield shape

