"""Markdown (.md, .markdown): parsed by markdown-it-py into plain paragraphs and sections."""

from __future__ import annotations

import html
import logging
import re
from pathlib import Path

from markdown_it import MarkdownIt
from markdown_it.token import Token

from qa.loaders.base import Outline, TextBuilder, title_or_stem
from qa.loaders.html import fragment_blocks
from qa.loaders.text import decode, normalize_newlines
from qa.types import LoadedDocument

logger = logging.getLogger(__name__)

MIME = "text/markdown"

_CONTAINERS_OPEN = {"bullet_list_open", "ordered_list_open", "table_open"}
_CONTAINERS_CLOSE = {"bullet_list_close", "ordered_list_close", "table_close"}
# YAML front matter, as written by static site generators and note apps.
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_FRONT_TITLE = re.compile(r"^title:[ \t]*[\"']?(.*?)[\"']?[ \t]*$", re.M)


def load_markdown(path: Path, data: bytes) -> LoadedDocument:
    """A Markdown file as plain text: headings become sections, markup and raw HTML go."""
    source = normalize_newlines(decode(path, data))
    front_title = ""
    if front := _FRONT_MATTER.match(source):
        if found := _FRONT_TITLE.search(front.group(1)):
            front_title = found.group(1)
        source = source[front.end() :]
    parser = MarkdownIt("commonmark").enable("table")
    builder = TextBuilder()
    reader = _MarkdownReader(builder)
    reader.read(parser.parse(source))
    title = title_or_stem(front_title or reader.first_h1, path)
    return builder.document(path, data, title=title, mime=MIME)


class _MarkdownReader:
    """Turns markdown-it's flat token stream into blocks: one per paragraph, list or table."""

    def __init__(self, builder: TextBuilder) -> None:
        self.builder = builder
        self.outline = Outline()
        self.depth = 0  # open lists and tables
        self.lines: list[str] = []  # of the outermost open list or table
        self.row: list[str] | None = None
        self.heading = 0
        self.first_h1 = ""

    def read(self, tokens: list[Token]) -> None:
        for token in tokens:
            kind = token.type
            if kind in _CONTAINERS_OPEN:
                self.depth += 1
            elif kind in _CONTAINERS_CLOSE:
                self.depth -= 1
                if self.depth == 0:
                    self.builder.add("\n".join(self.lines), section=self.outline.path)
                    self.lines = []
            elif kind == "heading_open":
                self.heading = int(token.tag[1:])
            elif kind == "heading_close":
                self.heading = 0
            elif kind == "tr_open":
                self.row = []
            elif kind == "tr_close" and self.row is not None:
                self.lines.append(" | ".join(self.row))
                self.row = None
            elif kind == "inline":
                self._paragraph(_inline_text(token))
            elif kind in ("fence", "code_block"):
                self._paragraph(token.content)
            elif kind == "html_block":
                for block in fragment_blocks(token.content):
                    self.heading = block.level
                    self._paragraph(block.text)
                self.heading = 0

    def _paragraph(self, text: str) -> None:
        if self.row is not None:
            self.row.append(" ".join(text.split()))
        elif self.depth:
            self.lines.append(text)
        elif self.heading:
            if self.heading == 1 and not self.first_h1:
                self.first_h1 = text
            self.builder.add_heading(text, self.heading, self.outline)
        else:
            self.builder.add(text, section=self.outline.path)


def _inline_text(token: Token) -> str:
    """The plain text of an inline token: emphasis, links and inline HTML reduced to text."""
    children = token.children or []
    if not any(child.type == "html_inline" for child in children):
        return "".join(_plain(child) for child in children)
    # Inline HTML such as <u>name</u>: rebuild the markup and let the HTML reader drop it.
    markup = "".join(
        child.content if child.type == "html_inline"
        else "<br>" if child.type == "hardbreak"
        else html.escape(_plain(child))
        for child in children
    )  # fmt: skip
    return "\n".join(block.text for block in fragment_blocks(markup))


def _plain(token: Token) -> str:
    if token.type in ("text", "text_special", "code_inline"):
        return token.content
    if token.type == "softbreak":
        return " "
    if token.type == "hardbreak":
        return "\n"
    return ""  # markup (em_open, link_open, ...) and images
