"""The model cache: built and assembled models, made once per machine and user.

The int8 ONNX embedder and the local answer model's GGUF are derived from
installed packages. Both go to one folder (:attr:`qa.config.Settings.models_dir`:
``QA_MODEL_DIR``, else ``$XDG_CACHE_HOME/qa``, else ``~/.cache/qa``) that every
data directory shares. Each entry is named after a hash of what it was made
from and how, so a new model or recipe gets a new entry and never overwrites
one another installation still uses.

Making an entry is safe when several processes try at once: they take an
exclusive lock beside it (:func:`cache_lock`), the first makes it in a
temporary folder and renames it into place, the others find it made when the
lock is theirs. An entry records what its files should be (size, modification
time, SHA-256), so a damaged one is made again.

``python -m qa.model_cache`` makes both models now (``scripts/setup.sh`` does),
so no command pays for it later::

    python -m qa.model_cache                       # the user cache
    python -m qa.model_cache --model-dir DIR ...   # or these folders
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

_BLOCK = 1 << 20
_SOURCE_HASHES = ".source-hashes.json"


@contextlib.contextmanager
def cache_lock(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (created if missing) across processes.

    The lock is ``flock``: the kernel drops it when its holder dies, so a killed
    build never blocks the next one. A no-op where ``fcntl`` is missing; the
    atomic rename of a finished entry still keeps readers from half-made files.
    """
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(lock_file, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sha256_file(path: Path) -> str:
    """The hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def file_record(path: Path, sha256: str | None = None) -> dict[str, Any]:
    """What :func:`matches_record` checks later: size, modification time and content hash."""
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns,
            "sha256": sha256 if sha256 is not None else sha256_file(path)}


def matches_record(path: Path, record: dict[str, Any]) -> bool:
    """Whether ``path`` still has the content ``record`` describes.

    Same size and modification time: trusted at the cost of a ``stat``. Same
    size, other time (a copy, a touch): hashed again. Other size: damaged.
    """
    try:
        st = path.stat()
    except OSError:
        return False
    if st.st_size != record.get("size"):
        return False
    if st.st_mtime_ns == record.get("mtime_ns"):
        return True
    return sha256_file(path) == record.get("sha256")


def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON so readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def source_sha256(path: Path, cache_dir: Path) -> str:
    """The SHA-256 of a large source file (model weights), remembered between runs.

    Hashing 90 MB of weights costs ~0.1 s, too much for every start of a
    command, so ``cache_dir`` keeps the hash of each file by path, size,
    modification time and inode; a reinstalled package changes those and is
    hashed again. Losing the memo only costs a hash.
    """
    st = path.stat()
    key = f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}:{st.st_ino}"
    memo_file = cache_dir / _SOURCE_HASHES
    try:
        memo = json.loads(memo_file.read_text(encoding="utf-8"))
        if not isinstance(memo, dict):
            memo = {}
    except (OSError, ValueError):
        memo = {}
    known = memo.get(key)
    if isinstance(known, str):
        return known
    digest = sha256_file(path)
    memo = {k: v for k, v in memo.items() if not k.startswith(f"{path.resolve()}:")}
    memo[key] = digest
    try:
        write_json_atomic(memo_file, memo)
    except OSError as exc:  # a read-only cache still works, only slower
        log.debug("cannot remember source hashes in %s: %s", memo_file, exc)
    return digest


def prepare(model_dirs: Sequence[Path | None] = (None,), local: bool | None = None) -> list[Path]:
    """Make the default embedding model and (when installed) the local GGUF in each folder.

    Args:
        model_dirs: cache folders; None means the configured one (``QA_MODEL_DIR``
            or the user cache).
        local: assemble the local model too; None means "if its packages are installed".

    Returns:
        The paths made or found, in order.
    """
    from qa.config import Settings
    from qa.embedding import get_embedder

    made: list[Path] = []
    for folder in model_dirs:
        settings = Settings.from_env(model_dir=folder)
        embedder = get_embedder(settings)
        made.append(getattr(embedder, "folder", settings.models_dir))
        if local is None:
            from qa.llm.factory import local_available

            local = local_available()
        if local:
            from qa.llm.gguf import ensure_local_model

            made.append(ensure_local_model(settings))
    return made


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m qa.model_cache",
        description="Build the int8 embedding model and assemble the local answer model now.")
    parser.add_argument("--model-dir", type=Path, action="append", default=None,
                        help="cache folder (repeatable; default: QA_MODEL_DIR or the user cache)")
    parser.add_argument("--no-local", action="store_true", help="skip the local answer model")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("qa").setLevel(logging.INFO)
    from qa.errors import QAError

    try:
        for path in prepare(args.model_dir or [None], local=False if args.no_local else None):
            print(f"ready: {path}")
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
