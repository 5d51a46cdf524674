"""Makers of hostile files, a time limit, and the index consistency check."""

from __future__ import annotations

import contextlib
import os
import random
import re
import resource
import signal
import struct
import textwrap
import threading
import time
import zipfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path

from qa.api import open_store
from qa.config import Settings
from qa.index import DocRow

WORDS = [
    "river", "stone", "lantern", "orbit", "meadow", "copper", "violet", "harbor", "signal",
    "tundra", "glacier", "falcon", "cedar", "marble", "quartz", "willow", "ember", "canyon",
    "prairie", "beacon",
]

# C0 and C1 control characters: never in an indexed title or chunk.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def prose(marker: str, sentences: int = 6) -> str:
    """Plain English-like sentences, each naming ``marker`` (one FTS token)."""
    rng = random.Random(marker)
    return " ".join(
        f"The {marker} survey noted " + " ".join(rng.choice(WORDS) for _ in range(12)) + "."
        for _ in range(sentences)
    )


# --- time and memory -----------------------------------------------------------


class Hang(BaseException):
    """Raised inside a call that took longer than its :func:`deadline`.

    A BaseException, like KeyboardInterrupt: code under test that catches
    ``OSError`` or ``Exception`` (a TimeoutError is both) must not swallow it.
    """


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`Hang` in the main thread if the block runs longer than ``seconds``.

    SIGALRM interrupts blocking reads (a FIFO, /dev/zero) as well as Python loops.
    """

    def expire(signum: int, frame: object) -> None:
        raise Hang(f"still running after {seconds:.0f}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@dataclass
class Usage:
    seconds: float = 0.0
    start_self_mb: float = 0.0  # this process's resident memory when the block began
    peak_self_mb: float = 0.0  # its peak during the block
    peak_children_mb: float = 0.0  # the largest child process's peak (the parse worker)


def _children_hwm() -> dict[int, int]:
    """Peak resident KB (VmHWM) of each live child process of this one."""
    me = str(os.getpid())
    out: dict[int, int] = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":", 1) for line in status.read_text().splitlines())
        except (OSError, ValueError):
            continue
        if fields.get("PPid", "").strip() == me and "VmHWM" in fields:
            out[int(status.parent.name)] = int(fields["VmHWM"].split()[0])
    return out


@contextmanager
def measured() -> Iterator[Usage]:
    """Wall time and peak resident memory of the block, this process and its children.

    This process's peak comes from ``getrusage`` after resetting the kernel's
    high-water mark (``/proc/self/clear_refs``), so it is the block's own. A
    child's ``ru_maxrss`` would report the parent's size at fork, so child
    processes (the parse worker) are sampled from ``/proc/PID/status`` instead.
    """
    usage = Usage()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    usage.start_self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peaks: dict[int, int] = {}
    stop = threading.Event()

    def sample() -> None:
        while True:
            for pid, kb in _children_hwm().items():
                peaks[pid] = max(peaks.get(pid, 0), kb)
            if stop.wait(0.1):
                return

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        yield usage
    finally:
        usage.seconds = time.perf_counter() - start
        stop.set()
        sampler.join()
        usage.peak_self_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        usage.peak_children_mb = max(peaks.values(), default=0) / 1024


# --- PDF -----------------------------------------------------------------------


def pdf_bytes(pages: list[str], title: str | None = None) -> bytes:
    """A real PDF (reportlab) with one page per text, wrapped to the page width."""
    from reportlab.pdfgen import canvas

    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(595, 842))
    if title:
        pdf.setTitle(title)
    for text in pages:
        y = 800
        for line in textwrap.wrap(text, 90):
            pdf.drawString(40, y, line)
            y -= 14
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def image_pdf(text: str = "This page is a picture of words.") -> bytes:
    """A 'scanned' page: one raster image of text, no text layer."""
    from PIL import Image, ImageDraw, ImageFont
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas

    image = Image.new("RGB", (1200, 400), "white")
    font = ImageFont.load_default(size=40)
    ImageDraw.Draw(image).text((40, 160), text, fill="black", font=font)
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(595, 842))
    pdf.drawImage(ImageReader(image), 0, 500, width=595, height=200)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def encrypted_pdf(source: bytes, user: str, owner: str, algorithm: str) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=BytesIO(source))
    writer.encrypt(user_password=user, owner_password=owner, algorithm=algorithm)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def raw_pdf(objects: list[bytes]) -> bytes:
    """A PDF made of ``objects`` (numbered from 1, object 1 the catalog) with a valid xref."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, xref,
    )
    return bytes(out)


FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"


def stream(content: bytes, compress: bool = False) -> bytes:
    if compress:
        content = zlib.compress(content)
        return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + (
            b"\nendstream"
        )
    return b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"


def text_op(text: str) -> bytes:
    return b"BT /F1 12 Tf 20 100 Td (%s) Tj ET" % text.encode("latin-1")


def page_obj(parent: int, contents: int, font: int) -> bytes:
    return (
        b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 300 200] /Contents %d 0 R "
        b"/Resources << /Font << /F1 %d 0 R >> >> >>" % (parent, contents, font)
    )


def cyclic_pdf(text: str) -> bytes:
    """A page tree whose /Pages node lists itself among its kids."""
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
        page_obj(2, 4, 5),
        stream(text_op(text)),
        FONT,
    ])


def deep_tree_pdf(text: str, depth: int) -> bytes:
    """A page tree ``depth`` /Pages nodes deep above its one page."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>"]
    for level in range(depth):  # objects 2 .. depth+1
        number = level + 2
        parent = b"/Parent %d 0 R " % (number - 1) if level else b""
        objects.append(b"<< /Type /Pages %s/Kids [%d 0 R] /Count 1 >>" % (parent, number + 1))
    page = depth + 2
    objects.append(page_obj(page - 1, page + 1, page + 2))
    objects.append(stream(text_op(text)))
    objects.append(FONT)
    return raw_pdf(objects)


def flate_bomb_pdf(text: str, inflated_mb: int) -> bytes:
    """One page whose content stream inflates to ``inflated_mb`` MB of drawing operators."""
    unit = b"q Q " * 256  # no-op operators: the parser must walk them all
    compressor = zlib.compressobj(9)
    parts = [compressor.compress(text_op(text) + b"\n")]
    block = unit * (2**20 // len(unit))
    parts += [compressor.compress(block) for _ in range(inflated_mb)]
    parts.append(compressor.flush())
    data = b"".join(parts)
    content = b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + (
        b"\nendstream"
    )
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page_obj(2, 4, 5),
        content,
        FONT,
    ])


def javascript_pdf(text: str) -> bytes:
    """A PDF with an /OpenAction that runs JavaScript (a reader must never run it)."""
    return raw_pdf([
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction 6 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        page_obj(2, 4, 5),
        stream(text_op(text)),
        FONT,
        b"<< /Type /Action /S /JavaScript /JS (app.alert\\('pwned'\\);) >>",
    ])


# --- DOCX ----------------------------------------------------------------------


def docx_bytes(paragraphs: list[str], heading: str | None = None) -> bytes:
    import docx

    document = docx.Document()
    if heading:
        document.add_heading(heading, level=1)
    for text in paragraphs:
        document.add_paragraph(text)
    out = BytesIO()
    document.save(out)
    return out.getvalue()


def rezip(data: bytes, replace: dict[str, bytes] | None = None,
          add: dict[str, bytes] | None = None) -> bytes:
    """A copy of zip ``data`` with some members replaced or added."""
    replace, add = replace or {}, add or {}
    out = BytesIO()
    with zipfile.ZipFile(BytesIO(data)) as source, zipfile.ZipFile(
        out, "w", zipfile.ZIP_DEFLATED
    ) as target:
        for item in source.infolist():
            target.writestr(item.filename, replace.get(item.filename, source.read(item)))
        for name, content in add.items():
            target.writestr(name, content)
    return out.getvalue()


def zip_with_zeros(data: bytes, name: str, megabytes: int) -> bytes:
    """``data`` (a zip) plus a member of ``megabytes`` MB of zeros, deflated (a zip bomb)."""
    out = BytesIO(data)
    block = b"\0" * 2**20
    with zipfile.ZipFile(out, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive, \
            archive.open(name, "w", force_zip64=True) as member:
        for _ in range(megabytes):
            member.write(block)
    return out.getvalue()


def understate_size(data: bytes, name: str, size: int) -> bytes:
    """Patch the uncompressed size recorded for member ``name`` (a lying zip header)."""
    raw = bytearray(data)
    encoded = name.encode()
    for signature, size_at, name_len_at, name_at in ((b"PK\x03\x04", 22, 26, 30),
                                                     (b"PK\x01\x02", 24, 28, 46)):
        pos = raw.find(signature)
        while pos >= 0:
            (length,) = struct.unpack_from("<H", raw, pos + name_len_at)
            if bytes(raw[pos + name_at : pos + name_at + length]) == encoded:
                struct.pack_into("<I", raw, pos + size_at, size)
            pos = raw.find(signature, pos + 4)
    return bytes(raw)


# --- the index -----------------------------------------------------------------


def check_index(settings: Settings | None = None) -> dict[str, DocRow]:
    """Assert the collection is consistent; return its ready documents by id.

    Every document is ``ready`` (nothing pending or half-deleted is left), and
    each has exactly its ``chunks`` rows in the chunk table, entries in the keyword
    index and vectors in Chroma (ids ``doc:0 .. doc:n-1``), no index holds anything
    else, each chunk's text is its span of the stored document text, and the
    chunks cover every non-heading paragraph (no partial document).
    """
    settings = settings or Settings.from_env()
    store = open_store(settings)
    info = store.info()
    if info is None:
        return {}
    rows = store.documents(status=None)
    stuck = [(r.source, r.status) for r in rows if r.status != "ready"]
    assert not stuck, f"documents left half-written: {stuck}"
    docs = {r.id: r for r in rows}
    keyword = store._keyword_index(info)
    vectors = store._collection(info).get(include=["metadatas"])
    vector_ids = set(vectors["ids"])
    expected_ids: set[str] = set()
    for doc_id, doc in docs.items():
        chunks = store.chunks_of(info, doc_id)
        assert doc.chunks > 0 and len(chunks) == doc.chunks, (doc.source, doc.chunks, len(chunks))
        assert [c.index for c in chunks] == list(range(doc.chunks)), doc.source
        assert keyword.count(doc_id) == doc.chunks, (doc.source, keyword.count(doc_id))
        ids = {f"{doc_id}:{i}" for i in range(doc.chunks)}
        assert ids <= vector_ids, f"{doc.source}: {len(ids - vector_ids)} vectors missing"
        expected_ids |= ids
        stored = store.document_text(doc_id)
        assert stored is not None, f"{doc.source}: no stored text"
        text, blocks = stored
        covered = [False] * len(text)
        for chunk in chunks:
            assert text[chunk.start : chunk.end] == chunk.text, (doc.source, chunk.index)
            covered[chunk.start : chunk.end] = [True] * (chunk.end - chunk.start)
        only_headings = all(b.kind == "heading" for b in blocks)
        for block in blocks:
            if block.kind == "heading" and not only_headings:
                continue  # a heading rides in its section's embedding header
            missing = [i for i in range(block.start, block.end)
                       if not covered[i] and not text[i].isspace()]
            assert not missing, f"{doc.source}: text at {missing[0]} is in no chunk"
    assert keyword.count() == len(expected_ids), "keyword index holds entries of no ready chunk"
    assert vector_ids == expected_ids, f"Chroma holds other vectors: {vector_ids - expected_ids}"
    return docs
