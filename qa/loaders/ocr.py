"""OCR of page images with Tesseract (through pytesseract), for scans and pictures of text.

Runs where the loaders run: inside the parse worker, under its time and memory
limits (the ``tesseract`` process it starts inherits the memory limit). Whether
OCR runs and in which language comes from ``Settings.ocr`` and ``ocr_lang``
(``QA_OCR``, ``QA_OCR_LANG``), which :mod:`qa.ingestion.parsing` puts in the worker's environment.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa.config import OCR_DEFAULTS, apply_before_load
from qa.errors import LoaderError

logger = logging.getLogger(__name__)

#: Pages are rendered at this resolution for OCR (Tesseract reads best near 300 dpi).
DPI = 300
#: A rendered page or an image is scaled down to at most this many pixels.
MAX_PIXELS = 40_000_000
#: An image larger than this is refused rather than decoded (a decompression bomb).
MAX_IMAGE_PIXELS = 200_000_000
#: Seconds Tesseract may take on one page.
PAGE_SECONDS = 120
_INSTALL = "install Debian's tesseract-ocr (scripts/setup.sh does), or set QA_OCR=off"


@dataclass(frozen=True)
class OcrOptions:
    enabled: bool = True
    lang: str = "eng"

    @classmethod
    def from_env(cls) -> OcrOptions:
        """The ``QA_OCR`` and ``QA_OCR_LANG`` settings, checked as :class:`Settings` checks them."""
        from qa.config import Settings

        settings = Settings.from_env()
        return cls(settings.ocr == "on", settings.ocr_lang)


def recognize(path: Path, image: Any, options: OcrOptions, where: str) -> str:
    """The text Tesseract reads in ``image`` (a PIL image); ``where`` names it in messages.

    Raises:
        LoaderError: Tesseract is missing, lacks the language's data, or fails.
    """
    import pytesseract

    apply_before_load(OCR_DEFAULTS)  # one Tesseract thread per page
    image = fit(image)
    try:
        text: str = pytesseract.image_to_string(image, lang=options.lang, timeout=PAGE_SECONDS)
    except pytesseract.TesseractNotFoundError:
        raise LoaderError(
            str(path), f"needs OCR ({where} is an image) but Tesseract is not installed; {_INSTALL}"
        ) from None
    except pytesseract.TesseractError as exc:
        message = " ".join(str(exc.message).split())
        if re.search(r"load(ing)? language|traineddata", message, re.I):
            raise LoaderError(
                str(path),
                f"OCR language '{options.lang}' is not installed; install its data "
                f"(Debian: tesseract-ocr-{options.lang.split('+')[0]}) or set QA_OCR_LANG",
            ) from None
        raise LoaderError(str(path), f"OCR of {where} failed: {message[:200]}") from None
    except RuntimeError:  # pytesseract's timeout (TesseractError is a RuntimeError too)
        raise LoaderError(
            str(path), f"OCR of {where} took longer than {PAGE_SECONDS}s; "
            "split the file or set QA_OCR=off"
        ) from None
    return text


def fit(image: Any) -> Any:
    """``image`` in greyscale, scaled down to at most ``MAX_PIXELS``."""
    width, height = image.size
    if width * height > MAX_PIXELS:
        factor = (MAX_PIXELS / (width * height)) ** 0.5
        image = image.resize((max(1, int(width * factor)), max(1, int(height * factor))))
    return image if image.mode == "L" else image.convert("L")


def render_page(pdf: Any, index: int) -> Any:
    """Page ``index`` (0-based) of a pypdfium2 document as a greyscale PIL image at ``DPI``."""
    page = pdf[index]
    try:
        width, height = page.get_size()
        scale = DPI / 72
        pixels = width * height * scale * scale
        if pixels > MAX_PIXELS:
            scale *= (MAX_PIXELS / pixels) ** 0.5
        bitmap = page.render(scale=scale, grayscale=True)
        return bitmap.to_pil()
    finally:
        page.close()
