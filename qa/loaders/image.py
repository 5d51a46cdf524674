"""Pictures of text (.png, .jpg, .jpeg, .tif, .tiff): OCR with Tesseract, one page per TIFF frame."""

from __future__ import annotations

import logging
import warnings
from io import BytesIO
from pathlib import Path

from qa.errors import EmptyDocumentError, LoaderError
from qa.loaders import ocr
from qa.loaders.base import TextBuilder, one_line, title_or_stem
from qa.loaders.pdf import page_paragraphs
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

_MIMES = {"PNG": "image/png", "JPEG": "image/jpeg", "TIFF": "image/tiff"}


def load_image(path: Path, data: bytes) -> LoadedDocument:
    """The text Tesseract reads in an image; each frame of a multi-page TIFF is a page."""
    from PIL import Image, ImageSequence, UnidentifiedImageError

    options = ocr.OcrOptions.from_env()
    if not options.enabled:
        raise LoaderError(
            str(path), "is an image, and qa reads images with OCR, which is off; set QA_OCR=on"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(BytesIO(data))
            width, height = image.size
            if width * height > ocr.MAX_IMAGE_PIXELS:
                raise LoaderError(
                    str(path),
                    f"is an image of {width}x{height} pixels, too large to read; "
                    "scale it down and ingest it again",
                )
            frames = getattr(image, "n_frames", 1)
            builder = TextBuilder()
            for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
                where = f"page {number} of {frames}" if frames > 1 else "the image"
                logger.info("%s: OCR of %s", path, where)
                text = ocr.recognize(path, frame.copy(), options, where)
                for paragraph in page_paragraphs(text):
                    builder.add(paragraph, page=number if frames > 1 else None)
    except (UnidentifiedImageError, Image.DecompressionBombError,
            Image.DecompressionBombWarning) as exc:
        raise LoaderError(
            str(path), f"is not a readable image ({one_line(exc)}); re-save it as PNG or JPEG"
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:  # Pillow's errors for truncated data
        raise LoaderError(
            str(path), f"is a damaged image ({one_line(exc)}); re-save it as PNG or JPEG"
        ) from None
    if not builder.blocks:
        raise EmptyDocumentError(str(path), "has no text that OCR can read")
    mime = _MIMES.get(image.format or "", "image/" + path.suffix.lower().lstrip("."))
    return builder.document(path, data, title=title_or_stem(None, path), mime=mime,
                            metadata={"pages": frames, "ocr_pages": frames})
