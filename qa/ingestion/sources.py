"""Sources and hashing: the files under the paths given, and the content hash that
is a document's id (so unchanged content is never parsed or embedded again)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from qa.errors import LoaderError, printable_path
from qa.types import FileResult


def doc_id_for(content_hash: str) -> str:
    """A document's id: the first 24 hex digits of its SHA-256."""
    return content_hash[:24]


def file_hash(path: Path) -> str:
    """SHA-256 of the bytes of the regular file ``path``.

    A pipe, socket or device is never opened: opening a FIFO blocks until
    something writes to it, and ``/dev/zero`` never ends.

    Raises:
        LoaderError: ``path`` is not a regular file.
        OSError: it cannot be read.
    """
    from qa.loaders.base import NOT_REGULAR

    if not stat.S_ISREG(path.stat().st_mode):
        raise LoaderError(str(path), NOT_REGULAR)
    # Opened without blocking and checked again: it may have been swapped since the stat.
    with open(os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0)), "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise LoaderError(str(path), NOT_REGULAR)
        digest = hashlib.sha256()
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(path: Path) -> Path:
    """``path`` made absolute with every symlink followed.

    Raises:
        OSError: with ``errno.ELOOP`` for a symlink loop (Python before 3.13
            raises RuntimeError for it, which no caller expects).
    """
    try:
        return path.resolve()
    except RuntimeError as exc:
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from exc


def unreadable(exc: OSError) -> str:
    """Why a file could not be read, as the one-line message of its failed result."""
    if exc.errno == errno.ELOOP:
        return "is a symlink loop (too many levels of symbolic links); not read"
    return f"cannot read: {exc.strerror or type(exc).__name__}"


def iter_files(paths: Iterable[str | Path], suffixes: frozenset[str]) -> Iterator[Path | FileResult]:
    """Files to ingest under ``paths``; a problem with a path comes back as a failed result.

    Folders are walked recursively (hidden entries skipped). A symlink inside a
    folder that points outside it is skipped, so ingesting a folder never reads
    files the folder does not hold. A path that cannot be resolved (a symlink
    loop) fails alone; the others go on.
    """
    for raw in paths:
        path = Path(raw).expanduser()
        try:
            if path.is_dir():
                yield from _walk(path, suffixes)
            elif path.exists() or path.is_symlink():
                yield path  # a broken link fails when it is read, with the reason
            else:
                yield FileResult(str(path), "failed", message="no such file or folder")
        except OSError as exc:
            yield FileResult(str(path), "failed", message=unreadable(exc))


def _walk(folder: Path, suffixes: frozenset[str]) -> Iterator[Path | FileResult]:
    root = resolve(folder)
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            file = Path(dirpath) / name
            if name.startswith(".") or file.suffix.lower() not in suffixes:
                continue
            try:
                target = resolve(file)
            except OSError as exc:
                yield FileResult(str(file), "failed", message=unreadable(exc))
                continue
            if not target.is_relative_to(root):
                yield FileResult(
                    str(file), "failed",
                    message=f"skipped: symlink to {printable_path(target)}, "
                            f"outside {printable_path(root)}",
                )
                continue
            yield file


