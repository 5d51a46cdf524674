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
from qa.index.registry import Registry, close_registries

log = logging.getLogger(__name__)

_shared: dict[str, Shared] = {}
_shared_lock = threading.Lock()
_thread_locks: dict[str, threading.RLock] = {}
_thread_locks_lock = threading.Lock()


def thread_lock(path: Path) -> threading.RLock:
    """The process's lock for the write lock file ``path``: ``flock`` does not
    exclude two threads of one process."""
    key = str(path.resolve())
    with _thread_locks_lock:
        return _thread_locks.setdefault(key, threading.RLock())


class ReadWriteLock:
    """Many readers or one writer, within one process."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                if not self._readers:
                    self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


@contextmanager
def file_lock(path: Path, mode: int) -> Iterator[None]:
    """Hold ``flock`` on ``path`` (created if missing) in ``mode``: shared or exclusive."""
    with open(path, "a+") as handle:
        fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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
