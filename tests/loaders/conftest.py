"""Shared fixtures: a ``load`` that also checks the offsets every loader promises."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from qa.loaders import load
from qa.types import LoadedDocument

from .helpers import check_document


@pytest.fixture
def load_checked() -> Callable[..., LoadedDocument]:
    """``load`` plus :func:`check_document` on the result."""

    def run(path: Path, **kwargs: int) -> LoadedDocument:
        doc = load(path, **kwargs)
        check_document(doc, path)
        return doc

    return run
