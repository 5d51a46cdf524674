"""OCR: scanned PDF pages and images read with Tesseract; pages with a text layer are not."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from qa.errors import ConfigError, EmptyDocumentError, LoaderError
from qa.loaders import load, ocr

from .test_pdf import write_pages

PAGE_ONE = ["The harbour authority counted 4,210 ships in 2021.",
            "Most of them carried grain to Lisbon."]
PAGE_TWO = ["Page two explains the lighthouse keeper schedule.", "Keepers change shifts at dawn."]


def scan(lines: list[str]) -> Image.Image:
    """A page of text as a 200 dpi greyscale picture, as a scanner makes it."""
    image = Image.new("L", (1700, 2200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for n, line in enumerate(lines):
        draw.text((120, 150 + 60 * n), line, fill=0, font=font)
    return image


def write_scanned_pdf(path: Path, pages: list[list[str]]) -> Path:
    first, *rest = [scan(lines) for lines in pages]
    first.save(path, save_all=True, append_images=rest, resolution=200)  # image-only PDF
    return path


def test_scanned_pdf_is_read_page_by_page(tmp_path, load_checked, caplog):
    caplog.set_level(logging.INFO, logger="qa.loaders.pdf")
    doc = load_checked(write_scanned_pdf(tmp_path / "scan.pdf", [PAGE_ONE, PAGE_TWO]))
    assert doc.metadata == {"pages": 2, "ocr_pages": [1, 2]}
    assert [(b.page, doc.text[b.start : b.end]) for b in doc.blocks] == [
        (1, "\n".join(PAGE_ONE)), (2, "\n".join(PAGE_TWO))]
    progress = [r.getMessage() for r in caplog.records if "OCR of page" in r.getMessage()]
    assert [m.split(": ", 1)[1] for m in progress] == [
        "OCR of page 1 of 2 (no text layer)", "OCR of page 2 of 2 (no text layer)"]


def test_pages_with_a_text_layer_are_not_ocrd(tmp_path, load_checked, monkeypatch):
    """A PDF mixing a text page and a scan: only the scan goes to Tesseract."""
    from pypdf import PdfReader, PdfWriter

    text_pdf = write_pages(tmp_path / "text.pdf", [["A page with a real text layer."]])
    scanned = write_scanned_pdf(tmp_path / "scan.pdf", [PAGE_ONE])
    writer = PdfWriter()
    for source in (text_pdf, scanned):
        for page in PdfReader(source).pages:
            writer.add_page(page)
    mixed = tmp_path / "mixed.pdf"
    with mixed.open("wb") as out:
        writer.write(out)
    seen: list[str] = []
    real = ocr.recognize
    monkeypatch.setattr(ocr, "recognize", lambda *a: seen.append(a[3]) or real(*a))
    doc = load_checked(mixed)
    assert seen == ["page 2"]
    assert [b.page for b in doc.blocks] == [1, 2]
    assert doc.text.startswith("A page with a real text layer.")
    assert "4,210 ships" in doc.text


def test_png_and_multipage_tiff(tmp_path, load_checked):
    scan(PAGE_ONE).save(tmp_path / "note.png")
    doc = load_checked(tmp_path / "note.png")
    assert doc.text == "\n".join(PAGE_ONE) and doc.mime == "image/png"
    assert doc.blocks[0].page is None
    first, second = scan(PAGE_ONE), scan(PAGE_TWO)
    first.save(tmp_path / "fax.tiff", save_all=True, append_images=[second])
    doc = load_checked(tmp_path / "fax.tiff")
    assert [b.page for b in doc.blocks] == [1, 2] and "shifts at dawn" in doc.text


def test_ocr_off(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_OCR", "off")
    path = write_scanned_pdf(tmp_path / "scan.pdf", [PAGE_ONE])
    with pytest.raises(EmptyDocumentError, match=r"no text layer \(a scan\?\); OCR is off"):
        load(path)
    scan(PAGE_ONE).save(tmp_path / "note.jpg")
    with pytest.raises(LoaderError, match="OCR, which is off; set QA_OCR=on"):
        load(tmp_path / "note.jpg")


def test_a_language_that_is_not_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_OCR_LANG", "xyz")
    scan(PAGE_ONE).save(tmp_path / "note.png")
    with pytest.raises(LoaderError, match="OCR language 'xyz' is not installed"):
        load(tmp_path / "note.png")


def test_a_bad_language_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("QA_OCR_LANG", "eng; rm -rf /")
    scan(PAGE_ONE).save(tmp_path / "note.png")
    with pytest.raises(ConfigError, match="is not a Tesseract language"):
        load(tmp_path / "note.png")


def test_blank_scan(tmp_path):
    Image.new("L", (800, 600), 255).save(tmp_path / "blank.png")
    with pytest.raises(EmptyDocumentError, match="no text that OCR can read"):
        load(tmp_path / "blank.png")


@pytest.mark.parametrize(("name", "data", "words"), [
    ("cut.png", "truncated", "damaged image"),
    ("noise.jpg", "noise", "not a readable image"),
])
def test_broken_images(tmp_path, name, data, words):
    path = tmp_path / name
    if data == "truncated":
        scan(PAGE_ONE).save(path)
        path.write_bytes(path.read_bytes()[:2000])
    else:
        path.write_bytes(b"\x00\x01" * 5000)
    with pytest.raises(LoaderError, match=words):
        load(path)


def test_decompression_bomb(tmp_path, monkeypatch):
    monkeypatch.setattr(ocr, "MAX_IMAGE_PIXELS", 1000)
    scan(PAGE_ONE).save(tmp_path / "big.png")
    with pytest.raises(LoaderError, match="1700x2200 pixels, too large to read"):
        load(tmp_path / "big.png")


def test_settings_reach_the_parse_worker(tmp_path, monkeypatch):
    """``Settings(ocr=...)`` passed to ``qa.ingest`` decides, not the caller's environment."""
    from qa import Settings, ingest

    monkeypatch.delenv("QA_OCR", raising=False)
    write_scanned_pdf(tmp_path / "scan.pdf", [PAGE_ONE])
    off = ingest([tmp_path / "scan.pdf"], settings=Settings.from_env().with_(ocr="off"))
    assert [f.status for f in off.files] == ["failed"]
    assert "OCR is off" in off.files[0].message
    on = ingest([tmp_path / "scan.pdf"], settings=Settings.from_env())
    assert [f.status for f in on.files] == ["added"], on.files[0].message
