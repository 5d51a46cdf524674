"""Parse files in a worker process, with a time and a memory limit per file.

A parser that hangs or runs away with memory on a hostile file must cost one
file, not the ingest: the worker is killed and restarted and the file fails
with a one-line message. The worker also parses the next files while the main
process embeds the current one, so parsing and encoding overlap.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing as mp
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from qa.errors import LoaderError
from qa.types import LoadedDocument

log = logging.getLogger(__name__)

LOOKAHEAD = 2  # files handed to the worker ahead of the one being embedded


@dataclass(frozen=True)
class Limits:
    """Per-file limits for parsing."""

    max_bytes: int = 200 * 2**20
    seconds: float = 300.0
    memory_bytes: int = 4 * 2**30


def _serve(conn: Connection, limits: Limits) -> None:
    """Worker loop: receive a path, send back a LoadedDocument or a LoaderError."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    from qa.loaders import load

    while True:
        try:
            path = conn.recv()
        except EOFError:
            return
        if path is None:
            return
        try:
            result: Any = load(path, max_bytes=limits.max_bytes)
        except LoaderError as exc:
            result = exc
        except MemoryError:
            result = LoaderError(str(path), "needs more memory to parse than the limit "
                                 f"({limits.memory_bytes // 2**20} MB); split the file")
        except Exception as exc:  # noqa: BLE001 - any parser failure fails only this file
            result = LoaderError(str(path), f"could not read it: {type(exc).__name__}: {exc}")
        try:
            conn.send(result)
        except MemoryError:
            conn.send(LoaderError(str(path), "too large to hand over from the parser; split it"))


class _Worker:
    def __init__(self, limits: Limits) -> None:
        ctx = mp.get_context("spawn")
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, limits), daemon=True)
        self.proc.start()
        child.close()

    def stop(self, kill: bool = False) -> None:
        if kill:
            self.proc.kill()
        else:
            with contextlib.suppress(OSError, BrokenPipeError):
                self.conn.send(None)
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
        self.conn.close()


def load_isolated(
    paths: Iterable[Path], limits: Limits
) -> Iterator[tuple[Path, LoadedDocument | LoaderError]]:
    """Load each path in a worker process; yields results in order.

    A file that takes longer than ``limits.seconds`` or kills the worker fails
    with a :class:`LoaderError`; the worker restarts for the next file.
    """
    todo = iter(paths)
    first = next(todo, None)
    if first is None:
        return
    sent: deque[Path] = deque([first])
    worker: _Worker | None = None
    try:
        while True:
            if worker is None:
                worker = _Worker(limits)
                for path in sent:  # a restart resends what was in flight
                    worker.conn.send(path)
            while len(sent) < LOOKAHEAD:
                nxt = next(todo, None)
                if nxt is None:
                    break
                sent.append(nxt)
                worker.conn.send(nxt)
            if not sent:
                return
            path = sent[0]
            started = time.monotonic()
            result = _receive(worker, limits.seconds)
            if result is None:  # timed out or died: this file fails, the rest go on
                died = not worker.proc.is_alive()
                worker.stop(kill=True)
                worker = None
                sent.popleft()
                waited = time.monotonic() - started
                reason = (
                    "the parser crashed on it (out of memory?); check the file or split it"
                    if died else
                    f"parsing took longer than {limits.seconds:.0f}s ({waited:.0f}s); the file "
                    "may be malformed, or raise QA_PARSE_TIMEOUT"
                )
                yield path, LoaderError(str(path), reason)
                continue
            sent.popleft()
            yield path, result
    finally:
        if worker is not None:
            worker.stop()


def _receive(worker: _Worker, seconds: float) -> LoadedDocument | LoaderError | None:
    try:
        if worker.conn.poll(seconds):
            result: LoadedDocument | LoaderError = worker.conn.recv()
            return result
    except (EOFError, OSError):
        return None
    return None
