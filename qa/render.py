"""The cited page of a PDF as an image, with the cited span highlighted (for citation cards).

The page is rendered with pypdfium2, and the quote is found in the page's own
text layer, so the boxes sit on the glyphs. The extracted text and the PDF's may
differ in line breaks and hyphenation, so the quote is searched whole, then by
its longest runs of words; a page without a text layer (a scan read by OCR) is
shown without highlight.
"""

from __future__ import annotations

import logging
from io import BytesIO
from pathlib import Path
from typing import Any

from qa.errors import LoaderError

log = logging.getLogger(__name__)

HIGHLIGHT = (255, 214, 0, 110)  # translucent yellow
_MAX_PIXELS = 8_000_000
_MIN_WORDS = 4


def render_page(source: str | Path, page: int, quote: str = "", *, scale: float = 1.5) -> bytes:
    """PNG bytes of page ``page`` (1-based) of the PDF ``source``, with ``quote`` highlighted.

    Raises:
        LoaderError: the file cannot be opened as a PDF or has no such page.

    Example::

        png = render_page(citation.source, citation.page, citation.quote)
    """
    import pypdfium2
    from PIL import Image, ImageDraw

    path = Path(source)
    try:
        pdf = pypdfium2.PdfDocument(str(path))
    except (pypdfium2.PdfiumError, OSError) as exc:
        raise LoaderError(str(path), f"cannot be rendered as a PDF ({exc})") from None
    try:
        if not 1 <= page <= len(pdf):
            raise LoaderError(str(path), f"has no page {page} (it has {len(pdf)})")
        handle = pdf[page - 1]
        width, height = handle.get_size()
        scale = min(scale, (_MAX_PIXELS / max(width * height, 1)) ** 0.5)
        image = handle.render(scale=scale).to_pil().convert("RGBA")
        boxes = quote_boxes(handle, quote) if quote.strip() else []
        handle.close()
    finally:
        pdf.close()
    if boxes:
        overlay = Image.new("RGBA", image.size, (0, 0, 0, 0))
        draw = ImageDraw.Draw(overlay)
        for left, bottom, right, top in boxes:
            draw.rectangle(
                (left * scale, (height - top) * scale, right * scale, (height - bottom) * scale),
                fill=HIGHLIGHT,
            )
        image = Image.alpha_composite(image, overlay)
    out = BytesIO()
    image.convert("RGB").save(out, format="PNG")
    return out.getvalue()


def quote_boxes(page: Any, quote: str) -> list[tuple[float, float, float, float]]:
    """Rectangles (PDF points: left, bottom, right, top) of ``quote`` on a pypdfium2 page."""
    textpage = page.get_textpage()
    try:
        words = quote.split()
        # Whole quote first, then shorter runs of words from its start and end.
        runs = [" ".join(words)]
        for size in range(len(words) - 1, _MIN_WORDS - 1, -1):
            runs += [" ".join(words[:size]), " ".join(words[-size:])]
        boxes: list[tuple[float, float, float, float]] = []
        for run in runs:
            found = _find(textpage, run)
            if found is not None:
                start, count = found
                boxes = [textpage.get_rect(i) for i in range(textpage.count_rects(start, count))]
                break
        return boxes
    finally:
        textpage.close()


def _find(textpage: Any, text: str) -> tuple[int, int] | None:
    searcher = textpage.search(text, match_case=False)
    try:
        found = searcher.get_next()
        return (int(found[0]), int(found[1])) if found else None
    finally:
        searcher.close()
