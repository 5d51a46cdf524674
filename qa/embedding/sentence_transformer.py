"""The ``torch`` embedding backend: sentence-transformers in fp32, the reference."""

from __future__ import annotations

import threading

import numpy as np

from qa.config import DEFAULT_MODEL
from qa.embedding.base import Embedder, TokenCounter, quiet_transformers, resolve_model_path
from qa.errors import ConfigError


class SentenceTransformerEmbedder(Embedder):
    """fp32 sentence-transformers embedder; vectors are L2-normalized."""

    def __init__(self, model: str = DEFAULT_MODEL, batch_size: int = 32) -> None:
        self.name = model
        self.batch_size = batch_size
        self._path = resolve_model_path(model)
        self._counter = TokenCounter(self._path)
        self._lock = threading.Lock()
        quiet_transformers()
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
