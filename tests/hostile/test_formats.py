"""Hostile files of the newer formats: corrupt, encrypted, zip bombs, too big, too hungry.

Each one must fail alone with one line that says what is wrong and what to do,
through ``load`` and through the real ``qa.ingest`` (parse worker, its limits,
the index), with good files around it ingested whole.
"""

from __future__ import annotations

import random
import zipfile
from collections.abc import Callable
from io import BytesIO
from pathlib import Path

import pytest

from qa.errors import LoaderError
from qa.loaders import load
from tests.hostile import helpers as h
from tests.loaders import samples

# Good samples of each zip-based format, made by the libraries that read them.
MAKERS: dict[str, Callable[[Path], Path]] = {
    ".pptx": samples.write_pptx,
    ".xlsx": samples.write_xlsx,
    ".odt": samples.write_odt,
    ".epub": samples.write_epub,
}


def good_bytes(suffix: str, tmp_path: Path) -> bytes:
    return MAKERS[suffix](tmp_path / f"good{suffix}").read_bytes()


def office_encrypted(data: bytes, password: str = "secret") -> bytes:
    """``data`` encrypted with a password as Office does (ECMA-376 agile encryption)."""
    from msoffcrypto.format.ooxml import OOXMLFile

    out = BytesIO()
    OOXMLFile(BytesIO(data)).encrypt(password, out)
    return out.getvalue()


def odt_encrypted(data: bytes) -> bytes:
    """An ODT as LibreOffice saves it with a password: content.xml encrypted, in the manifest."""
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" '
        'manifest:version="1.3"><manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.text"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml" '
        'manifest:size="4000"><manifest:encryption-data manifest:checksum-type="SHA256/1K" '
        'manifest:checksum="AAAA"><manifest:algorithm manifest:algorithm-name='
        '"http://www.w3.org/2001/04/xmlenc#aes256-cbc" manifest:initialisation-vector="AAAA"/>'
        '</manifest:encryption-data></manifest:file-entry></manifest:manifest>'
    )
    noise = random.Random(1).randbytes(4000)
    return h.rezip(data, replace={"META-INF/manifest.xml": manifest.encode(), "content.xml": noise})


def epub_drm(data: bytes) -> bytes:
    enc = ('<encryption xmlns="urn:oasis:names:tc:opendocument:xmlns:container" '
           'xmlns:enc="http://www.w3.org/2001/04/xmlenc#"><enc:EncryptedData>'
           '<enc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>'
           '<enc:CipherData><enc:CipherReference URI="OEBPS/text/ch%200.xhtml"/>'
           "</enc:CipherData></enc:EncryptedData></encryption>")
    return h.rezip(data, add={"META-INF/encryption.xml": enc.encode()})


ZIP_FORMATS = sorted(MAKERS)
ENCRYPTED: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    ".pptx": (office_encrypted, "password-protected"),
    ".xlsx": (office_encrypted, "password-protected"),
    ".odt": (odt_encrypted, "password-protected"),
    ".epub": (epub_drm, "DRM-protected"),
}


def check_one_line(exc: LoaderError) -> None:
    message = str(exc)
    assert "\n" not in message and "Traceback" not in message and len(message) <= 500, message


@pytest.mark.parametrize("suffix", ZIP_FORMATS)
def test_truncated(tmp_path: Path, suffix: str) -> None:
    data = good_bytes(suffix, tmp_path)
    path = tmp_path / f"cut{suffix}"
    path.write_bytes(data[: len(data) * 6 // 10])
    with pytest.raises(LoaderError, match="not a zip archive") as caught:
        load(path)
    check_one_line(caught.value)


@pytest.mark.parametrize("suffix", ZIP_FORMATS)
def test_scribbled_parts(tmp_path: Path, suffix: str) -> None:
    """A valid zip whose XML parts are garbage: refused with the format's name."""
    data = good_bytes(suffix, tmp_path)
    with zipfile.ZipFile(BytesIO(data)) as archive:
        names = [n for n in archive.namelist() if n.endswith((".xml", ".opf"))]
    noise = random.Random(2).randbytes(3000)
    path = tmp_path / f"scribbled{suffix}"
    path.write_bytes(h.rezip(data, replace=dict.fromkeys(names, noise)))
    with pytest.raises(LoaderError) as caught:
        load(path)
    check_one_line(caught.value)


@pytest.mark.parametrize("suffix", [*ZIP_FORMATS, ".csv"])
def test_random_bytes(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"noise{suffix}"
    path.write_bytes(b"\x7fELF\x02\x01\x01\0" + random.Random(3).randbytes(20_000))
    with pytest.raises(LoaderError) as caught:
        load(path)
    check_one_line(caught.value)


@pytest.mark.parametrize("suffix", ZIP_FORMATS)
def test_encrypted(tmp_path: Path, suffix: str) -> None:
    encrypt, words = ENCRYPTED[suffix]
    path = tmp_path / f"locked{suffix}"
    path.write_bytes(encrypt(good_bytes(suffix, tmp_path)))
    with pytest.raises(LoaderError, match=words) as caught:
        load(path)
    check_one_line(caught.value)


@pytest.mark.parametrize("suffix", [".pptx", ".xlsx"])
def test_old_binary_office_format(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"old{suffix}"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000)
    with pytest.raises(LoaderError, match="older binary format"):
        load(path)


@pytest.mark.parametrize("suffix", ZIP_FORMATS)
def test_zip_bomb(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"bomb{suffix}"
    path.write_bytes(h.zip_with_zeros(good_bytes(suffix, tmp_path), "media/zeros.bin", 120))
    with pytest.raises(LoaderError, match="looks like a zip bomb"):
        load(path)


@pytest.mark.parametrize("suffix", [*ZIP_FORMATS, ".csv"])
def test_over_the_size_limit(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"big{suffix}"
    if suffix == ".csv":
        path.write_text("a,b\n" + "1,2\n" * 5000)
    else:
        MAKERS[suffix](path)
    with pytest.raises(LoaderError, match="over the limit of 1000 bytes; raise QA_MAX_FILE_MB"):
        load(path, max_bytes=1000)


def test_a_sheet_that_claims_to_be_enormous(tmp_path: Path) -> None:
    """A sheet whose declared size is A1:XFD1048576 is read by the cells it has."""
    data = samples.write_xlsx(tmp_path / "claims.xlsx").read_bytes()
    with zipfile.ZipFile(BytesIO(data)) as archive:
        sheet = archive.read("xl/worksheets/sheet1.xml")
    sheet = sheet.replace(b'<dimension ref="A1:C5"/>', b'<dimension ref="A1:XFD1048576"/>')
    assert b"XFD1048576" in sheet
    path = tmp_path / "enormous.xlsx"
    path.write_bytes(h.rezip(data, replace={"xl/worksheets/sheet1.xml": sheet}))
    with h.deadline(30):
        doc = load(path)
    assert "Year: 2021; Revenue: 4.2 M" in doc.text


def test_csv_with_a_huge_field_and_nul_bytes(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_bytes(b"Name,Note\nAnn," + b"x" * 300_000 + b"\nBo,nul\0byte\n")
    doc = load(path)
    assert doc.text.endswith("Name: Bo; Note: nulbyte")
