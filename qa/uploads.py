"""Uploaded files: safe names, where they are stored, and removing them again.

The web app and the server store an upload under
``<data dir>/uploads/<collection>/<sha256 prefix>/<safe name>``
(:func:`uploads_dir`, :func:`upload_path`): per collection, so removing a document
never deletes another collection's file, and named by content, so two files
with one name stay apart. Only files under that folder are ever deleted here.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import TYPE_CHECKING

from qa.config import Settings

if TYPE_CHECKING:
    from qa.workspace import Workspace

MAX_NAME_CHARS = 100
HASH_CHARS = 16

_UNSAFE_CHARS = re.compile(r"[^\w.\- ()+,]")


def safe_file_name(name: str, max_chars: int = MAX_NAME_CHARS) -> str:
    """A plain file name made from an untrusted upload name.

    Drops any folder part (``/`` or ``\\``), control and format characters,
    leading dots and spaces (no hidden files, no ``..``), replaces anything but
    letters, digits and ``. - _ ( ) + , space`` with ``_``, and keeps the
    suffix when cutting to ``max_chars``.

    >>> safe_file_name("../../etc/pass\\x00wd.txt")
    'passwd.txt'
    >>> safe_file_name("C:\\\\Users\\\\me\\\\..\\\\notes.md")
    'notes.md'
    """
    name = unicodedata.normalize("NFKC", name)
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = PureWindowsPath(PurePosixPath(name.replace("\\", "/")).name).name
    name = _UNSAFE_CHARS.sub("_", name).strip().lstrip(". ")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix[:16]
    stem = stem.rstrip(". ") or "upload"
    room = max_chars - (len(suffix) + 1 if suffix else 0)
    stem = stem[:room].rstrip(". ") or "upload"
    return f"{stem}.{suffix}" if suffix else stem


def upload_path(uploads_dir: Path, name: str, data: bytes) -> Path:
    """Where to store an upload: ``<uploads_dir>/<sha256 prefix>/<safe name>``.

    The content hash keeps different files with one name apart, and the folder
    (rather than a prefix on the name) keeps the file's own name as its stem, so
    a document without a title of its own is titled after the uploaded name.

    Raises:
        ValueError: the result would leave ``uploads_dir`` (cannot happen with
            :func:`safe_file_name`; checked anyway).
    """
    digest = hashlib.sha256(data).hexdigest()[:HASH_CHARS]
    target = uploads_dir / digest / safe_file_name(name)
    root = uploads_dir.resolve()
    if not target.resolve().is_relative_to(root) or target.resolve() == root:
        raise ValueError(f"upload name {name!r} does not give a path inside {root}")
    return target


def uploads_dir(settings: Settings) -> Path:
    """Per collection, so removing a document never deletes another collection's file."""
    return settings.data_dir / "uploads" / settings.collection


def is_stored_upload(path: Path, settings: Settings) -> bool:
    """Whether ``path`` is a file stored under :func:`uploads_dir`."""
    return path.is_relative_to(uploads_dir(settings).resolve()) and path.is_file()


def discard_upload(path: Path, settings: Settings) -> None:
    """Delete a stored upload (and its folder when empty); other paths are left alone."""
    if is_stored_upload(path, settings):
        path.unlink()
        if not any(path.parent.iterdir()):
            path.parent.rmdir()


def replace_older_upload(path: Path, workspace: Workspace) -> None:
    """A new version of an uploaded file replaces the stored upload of the same name:
    the older document leaves the index and its stored copy is deleted."""
    settings = workspace.settings
    root = uploads_dir(settings).resolve()
    for doc in workspace.documents():
        old = Path(doc.source)
        if old != path and old.name == path.name and old.is_relative_to(root):
            workspace.remove(doc.id)
            discard_upload(old, settings)
