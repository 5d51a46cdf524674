"""HTML (.html, .htm): the readable text of a page, headings as sections, via BeautifulSoup."""

from __future__ import annotations

import logging
import re
import warnings
from pathlib import Path
from typing import NamedTuple

from bs4 import BeautifulSoup, XMLParsedAsHTMLWarning
from bs4.element import NavigableString, Tag

from qa.errors import LoaderError
from qa.loaders.base import Outline, TextBuilder, squash, title_or_stem
from qa.loaders.tables import TABLE, table_text
from qa.loaders.text import decode
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

# XHTML pages (<?xml ...?> first) are read as HTML on purpose; bs4 warns each time.
warnings.filterwarnings("ignore", category=XMLParsedAsHTMLWarning)

MIME = "text/html"

# Elements that are never part of a page's main text.
_DROP = (
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form",
    "iframe", "svg", "canvas", "object", "embed", "select", "button", "head", "title",
)  # fmt: skip
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_LISTS = {"ul", "ol", "dl", "menu"}
# Elements that start a new line of text; the rest (a, b, span, ...) flow inline.
_BLOCKS = {
    "address", "article", "blockquote", "body", "caption", "center", "dd", "details", "dialog",
    "div", "dt", "fieldset", "figcaption", "figure", "hr", "html", "li", "main", "p", "pre",
    "section", "summary", *_HEADINGS, *_LISTS,
}  # fmt: skip
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


class HtmlBlock(NamedTuple):
    """A paragraph of an HTML page; ``level`` is 1-6 for a heading, 0 otherwise.

    ``kind`` is "table" for a table's rows (see :mod:`qa.loaders.tables`), else "text".
    """

    text: str
    level: int = 0
    kind: str = "text"


def load_html(path: Path, data: bytes) -> LoadedDocument:
    """An HTML page as paragraphs, with h1-h6 as sections; title from <title> or the first h1."""
    # A binary file named .html would parse into pages of mojibake; the text loader's
    # check refuses it. BeautifulSoup still decodes the bytes itself (it honours <meta charset>).
    decode(path, data)
    try:
        soup = BeautifulSoup(data, "lxml")
        title = soup.title.get_text() if soup.title else ""
        blocks = html_blocks(soup)
    except RecursionError:
        raise LoaderError(
            str(path), "HTML is nested too deeply to read; re-save the page in a simpler form"
        ) from None
    if not squash(title):
        title = next((b.text for b in blocks if b.level == 1), "")
    builder = TextBuilder()
    outline = Outline()
    for block in blocks:
        if block.level:
            builder.add_heading(block.text, block.level, outline)
        else:
            builder.add(block.text, kind=block.kind, section=outline.path)
    return builder.document(path, data, title=title_or_stem(title, path), mime=MIME)


def fragment_blocks(markup: str) -> list[HtmlBlock]:
    """The text of an HTML fragment (as found in Markdown), without its markup."""
    return html_blocks(BeautifulSoup(markup, "lxml"))


def html_blocks(soup: BeautifulSoup) -> list[HtmlBlock]:
    """The readable paragraphs of a parsed page, in order. Modifies ``soup``."""
    _drop_unreadable(soup)
    _flatten_tables(soup)
    # The whole tree, not just <body>: lxml puts text after a stray </html> into a
    # second <html> element, and browsers show it. <head> is dropped already.
    return list(_walk(soup))


def _drop_unreadable(soup: BeautifulSoup) -> None:
    for tag in soup.find_all(_DROP):
        # An article's own <header> holds its title and byline, not site navigation.
        if tag.decomposed or (tag.name == "header" and tag.find_parent("article")):
            continue
        tag.decompose()
    for tag in soup.find_all(_is_hidden):
        if not tag.decomposed:
            tag.decompose()


def _is_hidden(tag: Tag) -> bool:
    return (
        tag.has_attr("hidden")
        or str(tag.get("aria-hidden", "")).lower() == "true"
        or bool(_HIDDEN_STYLE.search(str(tag.get("style", ""))))
    )


def _flatten_tables(soup: BeautifulSoup) -> None:
    """Replace each table by its rows as text lines with the column headers repeated."""
    # Innermost first: a nested table becomes text inside its parent's cell.
    for table in reversed(soup.find_all("table")):
        _foster(table)
        rows = []
        for row in table.find_all("tr"):
            cells: list[str] = []
            for cell in row.find_all(("td", "th")):
                # A header spanning columns names each of them.
                cells += [squash(cell.get_text(" "))] * _span(cell)
            rows.append(cells)
        replacement = soup.new_tag("pre", attrs={_TABLE_MARK: ""})
        replacement.string = table_text(rows)
        table.replace_with(replacement)


_TABLE_MARK = "data-qa-table"
_MAX_SPAN = 20


def _span(cell: Tag) -> int:
    try:
        return min(max(int(str(cell.get("colspan") or 1)), 1), _MAX_SPAN)
    except ValueError:
        return 1


_TABLE_PARTS = {"tr", "td", "th", "tbody", "thead", "tfoot", "colgroup", "col"}


def _foster(table: Tag) -> None:
    """Move what a table holds outside its cells (a caption, a stray <p>) before it.

    Browsers show such content above the table ("foster parenting"); reading only
    the cells would lose it.
    """
    for container in [table, *table.find_all(("tbody", "thead", "tfoot", "tr"))]:
        if container.find_parent("table") is not table and container is not table:
            continue  # part of a nested table, already flattened
        for child in list(container.children):
            if isinstance(child, Tag) and child.name in _TABLE_PARTS:
                continue
            if isinstance(child, NavigableString) and not child.strip():
                continue
            table.insert_before(child.extract())


class _Place(NamedTuple):
    owner: Tag  # the element whose text forms the paragraph this node belongs to
    block: Tag  # the nearest block-level element
    outer_list: Tag | None
    pre: bool


def _place(node: Tag, parent: _Place) -> _Place:
    if node.name == "br":
        return parent
    block = node if node.name in _BLOCKS else parent.block
    outer = parent.outer_list or (node if node.name in _LISTS else None)
    # A list is one paragraph, one line per item; a heading is always its own.
    owner = block if block.name in _HEADINGS else (outer or block)
    return _Place(owner, block, outer, parent.pre or node.name == "pre")


def _walk(root: Tag) -> list[HtmlBlock]:
    """Group the page's strings into paragraphs without recursion (pages nest deeply)."""
    # Document order visits a parent before its children, so its place is known.
    places: dict[int, _Place] = {id(root): _Place(root, root, None, root.name == "pre")}
    out: list[HtmlBlock] = []
    current = places[id(root)]
    parts: list[str] = []
    for node in root.descendants:
        if isinstance(node, Tag):
            place = places[id(node)] = _place(node, places[id(node.parent)])
            if node.name not in _BLOCKS and node.name != "br":
                continue
            text = "\n"  # a block element or <br> starts a new line
        elif type(node) is NavigableString:  # comments, doctypes, CDATA are not text
            place = places[id(node.parent)]
            text = str(node) if place.pre else re.sub(r"\s+", " ", str(node))
        else:
            continue
        if place.owner is not current.owner:
            _flush(parts, current, out)
            current = place
        parts.append(text)
    _flush(parts, current, out)
    return out


def _flush(parts: list[str], place: _Place, out: list[HtmlBlock]) -> None:
    lines = "".join(parts).split("\n")
    text = "\n".join(line.rstrip() if place.pre else squash(line) for line in lines).strip()
    level = _HEADINGS.get(place.owner.name, 0)
    kind = TABLE if place.owner.has_attr(_TABLE_MARK) else "text"
    if text:
        out.append(HtmlBlock(squash(text) if level else text, level, kind))
    parts.clear()
