"""Structure-following chunking with exact character spans.

A loaded document arrives as blocks (headings, paragraphs) with pages and
sections. The chunker packs whole blocks into chunks of at most
``chunk_tokens`` word pieces, breaks at section and page boundaries, splits a
block that is too long at sentence boundaries (and a sentence that is too long
at word boundaries), and carries up to ``overlap`` word pieces of trailing
sentences into the next chunk when a long run of text is cut.

No chunk is longer than the embedding model accepts, counting the title line
that is embedded with it (see :func:`embedding_text`); text past the model's
limit would be cut silently and never found.

Text without whitespace is cut too. A WordPiece tokenizer reads a run of more
than ``MAX_WORD_CHARS`` (100) characters without a space as one unknown piece,
so a 3 MB "word" would count as a single piece. The chunker counts such a run
as if it were cut every 100 characters, and the rule is: **a run without
whitespace is hard-split every 100 characters, and those pieces are packed like
words, so that no chunk exceeds the word-piece budget** (``chunk_tokens``, less
the title line) under that count; a piece that alone exceeds the budget is cut
again by characters until it fits.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from qa.text.sentences import sentence_spans
from qa.types import Chunk, LoadedDocument

TokenCounter = Callable[[list[str]], list[int]]

#: The kind of a table block (see qa.loaders.tables): split only between rows.
TABLE = "table"

_WORD = re.compile(r"\S+")
#: WordPiece's ``max_input_chars_per_word``: a longer run reads as one unknown piece.
MAX_WORD_CHARS = 100
_SPACE = re.compile(r"\s")
_LONG_RUN = re.compile(rf"\S{{{MAX_WORD_CHARS + 1},}}")


@dataclass(frozen=True)
class _Unit:
    """A piece of text that is never split further by packing: a sentence or a block."""

    start: int
    end: int
    tokens: int
    page: int | None
    section: str
    kind: str
    block: int  # index of the block it came from


def embedding_header(title: str, section: str) -> str:
    """The line embedded (and keyword-indexed) above each chunk's text."""
    title, section = title.strip(), section.strip()
    if section == title:
        section = ""
    elif section.startswith(title + " > "):
        section = section[len(title) + 3 :]
    return " > ".join(p for p in (title, section) if p)


def embedding_text(header: str, text: str) -> str:
    """``text`` below its header line (no line when the header is empty)."""
    return f"{header}\n{text}" if header else text


def chunk_body(title: str, section: str, text: str) -> str:
    """What is embedded and keyword-indexed for a chunk: its header line, then its text.

    >>> chunk_body("Plan", "Plan > Scope", "Two sites.")
    'Plan > Scope\\nTwo sites.'
    """
    return embedding_text(embedding_header(title, section), text)


def chunk_document(
    doc: LoadedDocument,
    doc_id: str,
    count_tokens: TokenCounter,
    *,
    chunk_tokens: int,
    overlap: int,
    max_tokens: int,
) -> list[Chunk]:
    """Split ``doc`` into chunks whose embedding text fits in ``max_tokens`` word pieces.

    Args:
        doc: the loaded document.
        doc_id: the document's id, used in chunk ids.
        count_tokens: counts word pieces of each text (no special tokens).
        chunk_tokens: target size of a chunk's text in word pieces (``QA_CHUNK_TOKENS``).
        overlap: word pieces of trailing sentences repeated at the start of the
            next chunk when a run of text is cut inside a section (``QA_CHUNK_OVERLAP``).
        max_tokens: the model's limit (``Embedder.max_tokens``); the header line counts
            against it.
    """
    count_tokens = honest_counter(count_tokens)
    headers = {b.section for b in doc.blocks}
    header_tokens = dict(
        zip(headers, count_tokens([embedding_header(doc.title, s) for s in headers]), strict=True)
    )
    units = _units(doc, count_tokens, header_tokens, chunk_tokens, max_tokens)
    chunks: list[Chunk] = []
    current: list[_Unit] = []
    size = 0

    def budget(unit: _Unit) -> int:
        return min(chunk_tokens, max_tokens - header_tokens[unit.section] - 2)

    def flush(carry_overlap: bool) -> None:
        nonlocal current, size
        if not current:
            return
        _emit(doc, doc_id, current, chunks)
        carried: list[_Unit] = []
        if carry_overlap and overlap > 0:
            kept = 0
            for unit in reversed(current):
                # Only whole sentences of body text are carried, never headings.
                if unit.kind == "heading" or kept + unit.tokens > overlap:
                    break
                carried.insert(0, unit)
                kept += unit.tokens
            if len(carried) == len(current):
                carried = carried[1:]
        current = carried
        size = sum(u.tokens for u in carried) + (len(carried) - 1 if carried else 0)

    for unit in units:
        if current:
            last = current[-1]
            new_section = unit.kind == "heading" or unit.section != last.section
            new_page = unit.page != last.page
            if new_section or new_page:
                flush(carry_overlap=False)
            elif size + 1 + unit.tokens > budget(unit):
                # Overlap only helps inside a long block that had to be cut.
                # Table rows each carry their headers; repeating a row would only add noise.
                flush(carry_overlap=unit.block == last.block and unit.kind != TABLE)
        if current and size + 1 + unit.tokens > budget(unit):
            current, size = [], 0
        size += unit.tokens + (1 if current else 0)
        current.append(unit)
    flush(carry_overlap=False)
    return _merge_heading_only(chunks, doc, doc_id)


def honest_counter(count_tokens: TokenCounter) -> TokenCounter:
    """``count_tokens`` that counts a run without whitespace as if cut every 100 characters.

    A tokenizer reads a 3 MB run of letters as one unknown word piece; counted
    this way it is about a million pieces, and the chunker splits it to fit.
    """

    def count(texts: list[str]) -> list[int]:
        return count_tokens([_cut_long_runs(t) for t in texts])

    return count


def _cut_long_runs(text: str) -> str:
    if len(text) <= MAX_WORD_CHARS:
        return text
    return _LONG_RUN.sub(
        lambda m: " ".join(_pieces(m.group(), MAX_WORD_CHARS)), text
    )


def _pieces(run: str, size: int) -> list[str]:
    return [run[i : i + size] for i in range(0, len(run), size)]


def _units(
    doc: LoadedDocument,
    count_tokens: TokenCounter,
    header_tokens: dict[str, int],
    chunk_tokens: int,
    max_tokens: int,
) -> list[_Unit]:
    """Blocks that fit as they are, else their sentences, else word windows."""
    sizes = _counts_up_to(count_tokens, [doc.text[b.start : b.end] for b in doc.blocks],
                          chunk_tokens)
    units: list[_Unit] = []
    for i, (block, tokens) in enumerate(zip(doc.blocks, sizes, strict=True)):
        limit = min(chunk_tokens, max_tokens - header_tokens[block.section] - 2)
        if tokens <= limit:
            units.append(_Unit(block.start, block.end, tokens, block.page, block.section,
                               block.kind, i))
            continue
        table = block.kind == TABLE
        spans = (_row_spans if table else sentence_spans)(doc.text, block.start, block.end)
        kind = TABLE if table else "text"
        counts = _counts_up_to(count_tokens, [doc.text[s:e] for s, e in spans], limit)
        for (s, e), n in zip(spans, counts, strict=True):
            if n <= limit:
                units.append(_Unit(s, e, n, block.page, block.section, kind, i))
            else:
                for ws, we, wn in _word_windows(doc.text, s, e, limit, count_tokens):
                    units.append(_Unit(ws, we, wn, block.page, block.section, kind, i))
    return units


def _row_spans(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The lines of a table block: one row each, with its column headers in it.

    A table is cut only between rows, and every row line names its columns
    ("Year: 2021; Revenue: 4.2 M"), so no part of a table loses its header.
    """
    spans: list[tuple[int, int]] = []
    pos = start
    while pos < end:
        stop = text.find("\n", pos, end)
        stop = end if stop < 0 else stop
        if text[pos:stop].strip():
            spans.append((pos, stop))
        pos = stop + 1
    return spans


def _counts_up_to(count_tokens: TokenCounter, texts: list[str], limit: int) -> list[int]:
    """Word pieces of each text, or ``limit + 1`` for a text sure to have more than ``limit``.

    Every piece covers at most ``MAX_WORD_CHARS`` characters that are not whitespace,
    so a text with more of them than ``limit`` times that is too long without asking
    the tokenizer, which takes seconds per megabyte of text without spaces.
    """
    sure = [len(t) - len(_SPACE.findall(t)) > limit * MAX_WORD_CHARS for t in texts]
    counted = iter(count_tokens([t for t, skip in zip(texts, sure, strict=True) if not skip]))
    return [limit + 1 if skip else next(counted) for skip in sure]


def _word_windows(
    text: str, start: int, end: int, limit: int, count_tokens: TokenCounter
) -> list[tuple[int, int, int]]:
    """Cut a too-long sentence into runs of whole words of at most ``limit`` word pieces.

    A run without whitespace longer than ``MAX_WORD_CHARS`` is taken as pieces of
    that many characters, each packed like a word (see the module docstring).
    """
    words = [
        (p, min(m.end(), p + MAX_WORD_CHARS))
        for m in _WORD.finditer(text, start, end)
        for p in range(m.start(), m.end(), MAX_WORD_CHARS)
    ]
    counts = count_tokens([text[s:e] for s, e in words])
    windows: list[tuple[int, int, int]] = []
    i = 0
    while i < len(words):
        total, j = 0, i
        while j < len(words) and total + counts[j] <= limit:
            total += counts[j]
            j += 1
        if j == i:  # one piece longer than the limit: cut it by characters until it fits
            windows += _char_windows(text, *words[i], counts[i], limit, count_tokens)
            i += 1
            continue
        windows.append((words[i][0], words[j - 1][1], total))
        i = j
    return windows


def _char_windows(
    text: str, start: int, end: int, tokens: int, limit: int, count_tokens: TokenCounter
) -> list[tuple[int, int, int]]:
    """``text[start:end]`` in runs of characters of at most ``limit`` word pieces each."""
    windows: list[tuple[int, int, int]] = []
    pos = start
    step = max(1, (end - start) * limit // max(tokens, 1))
    while pos < end:
        stop = min(end, pos + step)
        n = count_tokens([text[pos:stop]])[0]
        while n > limit and stop - pos > 1:
            stop = pos + max(1, (stop - pos) * limit // n)
            n = count_tokens([text[pos:stop]])[0]
        windows.append((pos, stop, n))
        pos = stop
    return windows


def _emit(doc: LoadedDocument, doc_id: str, units: list[_Unit], out: list[Chunk]) -> None:
    start, end = units[0].start, units[-1].end
    out.append(
        Chunk(
            doc_id=doc_id,
            index=len(out),
            text=doc.text[start:end],
            start=start,
            end=end,
            page=units[0].page,
            section=units[-1].section,
        )
    )


def _merge_heading_only(chunks: list[Chunk], doc: LoadedDocument, doc_id: str) -> list[Chunk]:
    """Drop chunks that are only a heading with no text before the next section.

    A heading is already part of the embedding header of the chunks below it; a
    lone heading chunk would only crowd out real passages. A document made only
    of headings keeps them.
    """
    heading_spans = {(b.start, b.end) for b in doc.blocks if b.kind == "heading"}
    kept = [c for c in chunks if (c.start, c.end) not in heading_spans]
    if not kept:
        kept = chunks
    return [
        Chunk(doc_id, i, c.text, c.start, c.end, c.page, c.section) for i, c in enumerate(kept)
    ]
