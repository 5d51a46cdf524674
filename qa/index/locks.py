"""The locks of a data directory: ``flock`` files between processes, and the
thread locks that ``flock`` cannot give within one process."""

from __future__ import annotations

import fcntl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
