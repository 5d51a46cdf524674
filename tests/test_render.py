"""The cited page of a PDF as an image with the quote highlighted."""

from __future__ import annotations

from io import BytesIO

import pytest
from PIL import Image

from qa.errors import LoaderError
from qa.render import render_page
from tests.loaders.test_pdf import write_pages


def yellow_pixels(png: bytes) -> int:
    """Pixels of the highlight's colour (yellow over white paper)."""
    import numpy as np

    rgb = np.asarray(Image.open(BytesIO(png)).convert("RGB")).astype(int)
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return int(((r > 245) & (g > 225) & (g < 245) & (b > 130) & (b < 160)).sum())


def test_the_quote_is_highlighted_on_its_page(tmp_path):
    path = write_pages(tmp_path / "doc.pdf", [["Nothing to see on this first page."],
                                              ["The harbour counted 4,210 ships in 2021.",
                                               "Another line that is not cited."]])
    plain = render_page(path, 2)
    marked = render_page(path, 2, "The harbour counted 4,210 ships in 2021.")
    assert Image.open(BytesIO(marked)).size == Image.open(BytesIO(plain)).size
    assert yellow_pixels(plain) == 0 and yellow_pixels(marked) > 2000
    # A quote whose line breaks differ from the PDF's is still found by its words.
    wrapped = render_page(path, 2, "The harbour counted\n4,210 ships in 2021. Not on the page")
    assert yellow_pixels(wrapped) > 1000
    # Text that is not on the page: the page, unmarked.
    assert yellow_pixels(render_page(path, 1, "The harbour counted 4,210 ships")) == 0


def test_bad_page_and_bad_file(tmp_path):
    path = write_pages(tmp_path / "doc.pdf", [["One page."]])
    with pytest.raises(LoaderError, match="has no page 3"):
        render_page(path, 3)
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"not a pdf")
    with pytest.raises(LoaderError, match="cannot be rendered"):
        render_page(broken, 1)
