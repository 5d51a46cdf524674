"""The ``onnx-int8`` embedding backend: the packaged model, quantized, on ONNX Runtime.

:class:`OnnxEmbedder` builds the model on first use with :mod:`qa.embedding.onnx_build`
(once per user, into the model cache, see :mod:`qa.model_cache`) and runs it.

At run time each text goes through the model on its own by default, so its
vector never depends on what else was in the call (see OnnxEmbedder).
Pooling and L2 normalization follow the model's sentence-transformers config
and run in numpy, so inference only needs onnxruntime, tokenizers and numpy.

Example::

    from pathlib import Path
    from qa.embedding.onnx_int8 import OnnxEmbedder

    embedder = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=Path.home() / ".cache/qa")
    vectors = embedder.embed_documents(["first chunk", "second chunk"])  # (2, 384) float32
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qa.embedding import onnx_build
from qa.embedding.base import Embedder, TokenCounter, encode_fast
from qa.embedding.onnx_build import Precision, QuantRecipe
from qa.errors import ConfigError, StoreError
from qa.model_cache import cache_lock

if TYPE_CHECKING:
    import onnxruntime as ort
    from tokenizers import Tokenizer

log = logging.getLogger(__name__)


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class OnnxEmbedder(Embedder):
    """Sentence embeddings from an int8 ONNX build of a sentence-transformers model.

    Constructing it builds the ONNX model if ``cache_dir`` holds no fresh build
    (10-30 s for all-MiniLM-L6-v2; ``built`` then says so), then loads it. Texts are truncated at the
    model's ``max_seq_length`` (special tokens included). Safe to share between
    threads.

    Texts run on :func:`_cpu_count` ONNX Runtime sessions at once, each on one
    thread: for chunk-sized inputs, one session per core embedded 117 texts/s
    on two cores against 86 for one session using both (its threads wait on each
    other at every operator of a 200-token input), 65 for one session on one core.

    By default each text runs on its own, unpadded. Dynamic quantization scales
    the activations of each call as a whole, so in a shared batch a text's
    vector shifts with its batch mates and padding (cosine 0.97-0.99 to the
    same text run alone); one text per call keeps every text's vector the same
    however it is submitted, query or document. It is also not slower for
    chunk-sized texts: at 200 tokens a call of one text costs ~16 ms of CPU per
    text against ~25 ms in batches of 32, whose activations spill out of cache.
    Setting ``max_batch_tokens`` instead sorts texts by length and batches them,
    padded to the longest of each batch, up to ``batch_size`` texts and
    ``max_batch_tokens`` padded tokens; results come back in input order. That
    is ~10% faster on many short texts.

    Args:
        model: a sentence-transformers model name or local folder.
        cache_dir: where built models live (``Settings.models_dir``); this one
            goes in ``cache_dir/<model-name>-onnx-<precision>-<key>/``.
        batch_size: with ``max_batch_tokens``, at most this many texts per call.
        max_batch_tokens: None for one text per ONNX Runtime call; else batch
            by length with at most this many padded tokens per call (at least
            one text per call, however long).
        precision: "int8" (the default) or "fp32" (unquantized, for comparison).
        recipe: quantization settings; the defaults are the measured best.

    Raises:
        ConfigError: the model cannot be found locally or has modules this
            backend does not run.
        StoreError: the cache folder cannot be written.

    Example::

        embedder = OnnxEmbedder("all-MiniLM-L6-v2", cache_dir=Path.home() / ".cache/qa")
        embedder.embed_query("what is dynamic quantization?").shape  # (384,)
    """

    def __init__(
        self,
        model: str,
        cache_dir: Path,
        batch_size: int = 32,
        *,
        max_batch_tokens: int | None = None,
        precision: Precision = "int8",
        recipe: QuantRecipe | None = None,
    ) -> None:
        if batch_size < 1:
            raise ConfigError(f"batch_size={batch_size} must be at least 1")
        if max_batch_tokens is not None and max_batch_tokens < 1:
            raise ConfigError(f"max_batch_tokens={max_batch_tokens} must be at least 1")
        if precision not in ("int8", "fp32"):
            raise ConfigError(f"precision={precision!r} is not one of int8, fp32")
        self.name = model
        self.batch_size = batch_size
        self.max_batch_tokens = max_batch_tokens
        self.precision = precision
        self.recipe = recipe or QuantRecipe()
        self._info = onnx_build._model_info(model)
        self.max_tokens = self._info.max_seq_length - 2  # [CLS] and [SEP]
        cache_dir = Path(cache_dir)
        try:
            self._fingerprint = onnx_build._fingerprint(self._info, precision, self.recipe, cache_dir)
        except OSError as exc:
            raise ConfigError(f"cannot read the embedding model {model!r} ({exc})") from exc
        self.folder = cache_dir / f"{onnx_build._slug(model)}-onnx-{precision}-{self._fingerprint[:12]}"
        self.built = False  # whether this construction built the model
        self._ensure_built()
        self._workers = _cpu_count()
        try:
            session = self._load_session()
        except Exception as exc:  # noqa: BLE001 - ONNX Runtime raises its own types
            # A build that passed its checks but does not load (e.g. changed in place
            # with its size and time kept) is made again, once.
            log.warning("cannot load %s (%s); building it again", self.folder, exc)
            self._ensure_built(force=True)
            session = self._load_session()
        self._input_names = {i.name for i in session.get_inputs()}
        self._sessions: queue.SimpleQueue[ort.InferenceSession] = queue.SimpleQueue()
        self._sessions.put(session)
        # One session serves a query; the others load with the first call that can use
        # them (each costs ~0.3 s, a fifth of a cold `qa search`).
        self._threads: ThreadPoolExecutor | None = None
        self.dim = self._info.hidden_size * len(self._info.pooling)
        self._tokenizer = self._load_tokenizer()
        self._counter = TokenCounter(str(self._info.path))
        self._pool_lock = threading.Lock()

    def _ensure_built(self, force: bool = False) -> None:
        fingerprint = self._fingerprint
        if not force and onnx_build._is_fresh(self.folder, fingerprint):
            return
        try:
            self.folder.parent.mkdir(parents=True, exist_ok=True)
            with cache_lock(self.folder.parent / f".{self.folder.name}.lock"):
                if not force and onnx_build._is_fresh(self.folder, fingerprint):
                    return  # another process built it while this one waited
                # Under the lock no other build runs: leftovers are from killed builds.
                for stale in self.folder.parent.glob(f".{self.folder.name}.*-*"):
                    if stale.is_dir():
                        shutil.rmtree(stale, ignore_errors=True)
                log.info("building the %s ONNX model for %s in %s",
                         self.precision, self.name, self.folder)
                onnx_build.build_onnx_model(self._info, self.folder, fingerprint,
                                            self.precision, self.recipe)
                self.built = True
        except OSError as exc:
            raise StoreError(
                f"cannot write the model cache {self.folder} ({exc}); make that folder "
                "writable or set QA_MODEL_DIR to a writable folder"
            ) from exc

    def _load_session(self) -> ort.InferenceSession:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = 1  # one session per core instead (see the class)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle pool threads sleep instead of spinning: ingest runs loaders and the
        # store beside the embedder, and on a busy machine spinning was slower.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(
            str(self.folder / onnx_build._MODEL_FILE), options, providers=["CPUExecutionProvider"]
        )

    def _load_tokenizer(self) -> Tokenizer:
        from tokenizers import Tokenizer

        file = self._info.path / "tokenizer.json"
        if file.exists():
            tok = Tokenizer.from_file(str(file))
        else:
            from transformers import AutoTokenizer

            tok = AutoTokenizer.from_pretrained(str(self._info.path)).backend_tokenizer
        # tokenizer.json may carry its own (shorter) truncation and fixed padding.
        tok.enable_truncation(max_length=self._info.max_seq_length)
        tok.no_padding()
        return tok

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, special tokens excluded, without truncation."""
        return self._counter.count(texts)

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        """L2-normalized float32 vectors, shape ``(len(texts), dim)``, in input order."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = encode_fast(self._tokenizer)(list(texts))
        lengths = np.fromiter((len(e.ids) for e in encodings), dtype=np.int64, count=len(texts))
        # Longest first, so each batch pads to a width close to its members' lengths.
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)

        def run(rows: np.ndarray) -> None:
            width = int(lengths[rows[0]])  # the longest of the batch comes first
            ids = np.zeros((len(rows), width), dtype=np.int64)
            types = np.zeros_like(ids)
            mask = np.zeros_like(ids)
            for i, j in enumerate(rows):
                enc = encodings[j]
                n = len(enc.ids)
                ids[i, :n] = enc.ids
                types[i, :n] = enc.type_ids
                mask[i, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            feed = {k: v for k, v in feed.items() if k in self._input_names}
            session = self._sessions.get()  # waits while every session is busy
            try:
                hidden = session.run([onnx_build._OUTPUT], feed)[0]
            finally:
                self._sessions.put(session)
            out[rows] = self._pool(hidden, mask)

        batches = list(self._batches(order, lengths))
        if len(batches) == 1 or self._workers == 1:
            for rows in batches:
                run(rows)
        else:
            list(self._executor().map(run, batches))
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)

    def _executor(self) -> ThreadPoolExecutor:
        with self._pool_lock:
            if self._threads is None:
                for _ in range(self._workers - 1):
                    self._sessions.put(self._load_session())
                self._threads = ThreadPoolExecutor(self._workers, thread_name_prefix="qa-embed")
            return self._threads

    def _batches(self, order: np.ndarray, lengths: np.ndarray) -> Iterator[np.ndarray]:
        """Slices of ``order`` (longest first) within the text and token caps."""
        start = 0
        while start < len(order):
            width = int(lengths[order[start]])
            size = 1
            if self.max_batch_tokens is not None:
                size = max(1, min(self.batch_size, self.max_batch_tokens // max(width, 1)))
            yield order[start:start + size]
            start += size

    def _pool(self, hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """sentence-transformers pooling of token states ``hidden`` (batch, seq, h)."""
        weights = mask[..., None].astype(np.float32)
        counts = np.maximum(weights.sum(axis=1), 1e-9)
        parts: list[np.ndarray] = []
        for mode in self._info.pooling:
            if mode == "cls":
                parts.append(hidden[:, 0])  # right padding: the first token is [CLS]
            elif mode == "max":
                parts.append(np.where(weights > 0, hidden, -np.inf).max(axis=1))
            elif mode == "mean":
                parts.append((hidden * weights).sum(axis=1) / counts)
            else:  # mean_sqrt_len_tokens
                parts.append((hidden * weights).sum(axis=1) / np.sqrt(counts))
        pooled = parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
        return pooled.astype(np.float32, copy=False)
