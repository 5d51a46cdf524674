"""What the stores of one data directory share within a process: the registry,
the locks, and the count of reloads after another process wrote.

Chroma's embedded client keeps its vector index in memory and never sees another
process's writes, so before each search a process checks the registry's change
counter and, when another process wrote, reopens the Chroma client and reloads
the keyword index (:meth:`Shared.sync`).
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from qa.config import Settings
from qa.index.chroma import client_key, close_client
from qa.index.locks import ReadWriteLock, file_lock
from qa.index.registry import Registry, close_registries

log = logging.getLogger(__name__)

_shared: dict[str, Shared] = {}
_shared_lock = threading.Lock()


class Shared:
    """What every store of one data directory shares within a process.

    ``epoch`` counts reloads: when another process changed the data directory,
    :meth:`sync` closes the embedded Chroma client (holding the vectors lock
    shared, so no writer is inside a Chroma call) and bumps the epoch; each
    :class:`Store` then drops its collection handles and reloads its keyword
    indexes before its next read.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = Registry.open(settings.data_dir / "registry.sqlite3")
        self.vectors_lock = settings.data_dir / "vectors.lock"
        self.rw = ReadWriteLock()
        self.epoch = 0

    @classmethod
    def of(cls, settings: Settings) -> Shared:
        key = f"{settings.data_dir.resolve()}|{client_key(settings)}"
        with _shared_lock:
            if key not in _shared:
                _shared[key] = cls(settings)
            return _shared[key]

    def sync(self) -> None:
        """Catch up with writes of other processes (a no-op when there were none)."""
        if not self.registry.changed_elsewhere():
            return
        with self.rw.write():
            version = self.registry.version()
            if version == self.registry.seen_version:
                return  # another thread caught up meanwhile
            log.info("the data directory changed in another process; reloading")
            if not self.settings.server_mode:
                with file_lock(self.vectors_lock, fcntl.LOCK_SH):
                    close_client(self.settings)
            self.epoch += 1
            self.registry.seen_version = version

    def close(self) -> None:
        self.registry.close()
        with _shared_lock:
            for key, value in list(_shared.items()):
                if value is self:
                    del _shared[key]
        if not self.settings.server_mode:
            close_client(self.settings)

    @contextmanager
    def vector_writes(self) -> Iterator[None]:
        """Held around each Chroma write, so no process reloads the store in the middle."""
        if self.settings.server_mode:
            yield
            return
        with file_lock(self.vectors_lock, fcntl.LOCK_EX):
            yield


def close_shared(root: Path) -> None:
    """Close what this process holds of the data directory ``root`` and of the
    collections in it: the shared parts, the registry, the embedded Chroma client."""
    prefix = str(root.resolve()) + "|"
    with _shared_lock:
        held = [value for key, value in _shared.items() if key.startswith(prefix)]
    for shared in held:
        shared.close()
    close_registries(root)
