"""The Chroma client of a data directory (embedded) or a server, one per process,
and the errors of a failed write that are the storage's fault, not the document's."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from qa.config import Settings
from qa.errors import StoreError
from qa.index.locks import file_lock

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

_clients: dict[str, ClientAPI] = {}
_clients_lock = threading.Lock()
_importing: threading.Thread | None = None


def client_key(settings: Settings) -> str:
    """Where the client points: the server's address, or the embedded store's folder."""
    if settings.server_mode:
        return f"http://{settings.chroma_host}:{settings.chroma_port}"
    return str((settings.data_dir / "chroma").resolve())


def import_chromadb_in_background() -> None:
    """Start importing chromadb on a thread, unless it is imported or under way.

    The import is the largest part of a fresh ``qa search``; begun before the
    embedding model loads, the two overlap on a second core. A failed
    import is left to :func:`chroma_client`, which raises it with its message.
    """
    global _importing
    with _clients_lock:
        if _importing is not None or "chromadb" in sys.modules:
            return
        _importing = threading.Thread(target=_import_chromadb, name="import-chromadb",
                                      daemon=True)
        _importing.start()


def _import_chromadb() -> None:
    # A failure is chroma_client's to report: it imports chromadb again.
    with contextlib.suppress(Exception):
        import chromadb  # noqa: F401


def chroma_client(settings: Settings) -> ClientAPI:
    """One Chroma client per process and location (Chroma wants no more)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    key = client_key(settings)
    with _clients_lock:
        if key not in _clients:
            chroma_settings = ChromaSettings(anonymized_telemetry=False)
            try:
                if settings.server_mode:
                    _clients[key] = chromadb.HttpClient(
                        host=str(settings.chroma_host), port=settings.chroma_port,
                        settings=chroma_settings,
                    )
                else:
                    Path(key).mkdir(parents=True, exist_ok=True)
                    # A new store's first open creates its tables; two processes doing
                    # that at once fail with "table collections already exists".
                    with file_lock(Path(key).parent / "chroma-open.lock", fcntl.LOCK_EX):
                        _clients[key] = chromadb.PersistentClient(
                            path=key, settings=chroma_settings,
                        )
            except Exception as exc:
                if settings.server_mode:
                    raise StoreError(
                        f"cannot reach the Chroma server at {key} "
                        f"(QA_CHROMA_HOST={settings.chroma_host}, "
                        f"QA_CHROMA_PORT={settings.chroma_port}): {_one_line(exc)}; start it "
                        "(`chroma run --path DIR --port PORT`) or fix those variables, or unset "
                        "QA_CHROMA_HOST to use the embedded store"
                    ) from exc
                raise StoreError(
                    f"cannot open the Chroma store at {key} ({_one_line(exc)}); check that "
                    "the folder is writable, or run `qa doctor`"
                ) from exc
        return _clients[key]


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


_DISK_FULL = ("no space left", "disk is full", "database or disk is full", "file too large",
              "quota exceeded")


def storage_error(exc: BaseException, settings: Settings) -> StoreError | None:
    """A clear :class:`StoreError` for a failed write that is not the document's fault:
    the disk is full, or the Chroma server went away. None for anything else.

    What was being written is rolled back by the next writer (see the module
    docstring), so the message can promise that nothing half-written is searchable.
    """
    chain: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in chain and len(chain) < 10:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    for item in chain:
        text = str(item).lower()
        if (isinstance(item, OSError) and item.errno in (errno.ENOSPC, errno.EDQUOT,
                                                          errno.EFBIG)) \
                or any(marker in text for marker in _DISK_FULL):
            return StoreError(
                f"the disk holding {settings.data_dir} is full ({_one_line(item)}); free some "
                "space and run the command again: documents already written are kept, the "
                "one being written is rolled back"
            )
    if settings.server_mode:
        for item in chain:
            name = type(item).__name__.lower()
            package = type(item).__module__.split(".")[0]
            text = str(item).lower()
            if isinstance(item, ConnectionError) or package in ("httpx", "httpcore") \
                    or "connect" in name or "connection" in text or "disconnected" in text:
                return StoreError(
                    f"lost the Chroma server at {settings.chroma_host}:{settings.chroma_port} "
                    f"(QA_CHROMA_HOST/QA_CHROMA_PORT) while writing: {_one_line(item)}; "
                    "restart it and run the command again: documents already written are "
                    "kept, the one being written is rolled back"
                )
    return None


def close_client(settings: Settings) -> None:
    """Close this process's embedded client, so the next one reads the store from disk."""
    with _clients_lock:
        client = _clients.pop(client_key(settings), None)
    # The clients chromadb makes have close(); its ClientAPI type does not declare it.
    close = getattr(client, "close", None)
    if close is not None:
        close()
