"""Assertions and small helpers shared by the loader tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

from qa.types import LoadedDocument


def check_document(doc: LoadedDocument, path: Path) -> None:
    """Assert the invariants of a loaded document that the chunker relies on."""
    assert doc.source == str(path.resolve())
    assert doc.content_hash == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc.blocks, "a loaded document has at least one block"
    previous_end = 0
    for block in doc.blocks:
        piece = doc.text[block.start : block.end]
        assert piece, block
        assert piece == piece.strip(), block
        assert "\n\n" not in piece, block
        assert block.start >= previous_end, "blocks are sorted and do not overlap"
        assert block.kind in ("heading", "text", "table")
        previous_end = block.end
    # The blocks cover the whole text, separated by exactly one blank line.
    assert "\n\n".join(doc.text[b.start : b.end] for b in doc.blocks) == doc.text


def texts(doc: LoadedDocument, kind: str | None = None) -> list[str]:
    """The text of each block (of one kind, if given)."""
    return [doc.text[b.start : b.end] for b in doc.blocks if kind is None or b.kind == kind]
