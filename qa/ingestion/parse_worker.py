"""The parse worker, started by :mod:`qa.ingestion.parsing` (``python -m qa.ingestion.parse_worker`` runs it too).

It runs as a module of its own, never as a copy of the caller's program, so it
works the same under a script without a main guard, ``python -``, ``python -c``,
a notebook kernel or a web server. It talks to its parent over two pipes whose
descriptors it is given on the command line (its own stdout and stderr are left
to parsers that print); each message is a pickled tuple:

* parent -> worker: ``(seq, path)`` to parse a file, ``None`` to stop.
* worker -> parent: ``("ready", pid)`` once, after its limits are set and the
  loaders are imported; then per file ``("start", seq, t)`` with the
  ``time.monotonic()`` it began (the parent's clock: both read CLOCK_MONOTONIC)
  and ``("done", seq, result, logs)`` with the LoadedDocument or LoaderError and
  the log records of the parse as ``(logger name, level, message)``.

The memory limit is the process's address space (``RLIMIT_AS``), set before
anything is imported; the time limit is the parent's to enforce (it kills the
worker). Python warnings and other libraries' log records (pypdf's "EOF marker
not found") are captured and sent back with the result, for the parent to log:
nothing of a parse reaches the terminal.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import signal
import sys
import time
from multiprocessing.connection import Connection
from typing import Any

LogEntry = tuple[str, int, str]


class _Collect(logging.Handler):
    """Keeps the records of one parse, to send them with its result."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.entries: list[LogEntry] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken log call must not fail the parse
            message = str(record.msg)
        if len(self.entries) < 100:  # a parser that logs per object stays bounded
            self.entries.append((record.name, record.levelno, message[:1000]))

    def take(self) -> list[LogEntry]:
        entries, self.entries = self.entries, []
        return entries


def _die_with_parent() -> None:
    """Ask Linux to kill this process when its parent dies (best effort elsewhere)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(inbox: Connection, outbox: Connection, max_bytes: int, memory_bytes: int) -> None:
    """Parse the paths that arrive on ``inbox`` until it closes or says ``None``."""
    from qa.errors import LoaderError
    from qa.loaders import load

    collect = _Collect()
    root = logging.getLogger()
    root.handlers[:] = [collect]
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    import warnings

    warnings.simplefilter("default")  # every warning once per place, into the log
    outbox.send(("ready", os.getpid()))
    while True:
        try:
            message = inbox.recv()
        except EOFError:
            return
        if message is None:
            return
        seq, path = message
        outbox.send(("start", seq, time.monotonic()))
        result: Any
        try:
            result = load(path, max_bytes=max_bytes)
        except LoaderError as exc:
            # A loader wraps what its library raised; running out of memory is ours to name.
            result = LoaderError(str(path), memory_message(memory_bytes)) if isinstance(
                exc.__cause__, MemoryError) else exc
        except MemoryError:
            result = LoaderError(str(path), memory_message(memory_bytes))
        except Exception as exc:  # noqa: BLE001 - any parser failure fails only this file
            result = LoaderError(str(path), f"could not read it: {type(exc).__name__}: {exc}")
        try:
            outbox.send(("done", seq, result, collect.take()))
        except MemoryError:
            result = LoaderError(str(path), "too large to hand over from the parser; split it")
            outbox.send(("done", seq, result, collect.take()))


def memory_message(memory_bytes: int) -> str:
    return (
        f"needs more memory to parse than the limit ({memory_bytes // 2**20} MB); "
        "split the file or raise QA_PARSE_MEMORY_MB"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa.ingestion.parse_worker")
    parser.add_argument("--inbox", type=int, required=True, help="descriptor to read from")
    parser.add_argument("--outbox", type=int, required=True, help="descriptor to write to")
    parser.add_argument("--max-bytes", type=int, required=True)
    parser.add_argument("--memory-bytes", type=int, required=True)
    args = parser.parse_args(argv)
    # The parent decides when to stop: Ctrl-C in a terminal reaches the whole process
    # group, and the parent then stops this worker itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _die_with_parent()
    resource.setrlimit(resource.RLIMIT_AS, (args.memory_bytes, args.memory_bytes))
    from qa.config import apply_process_defaults

    apply_process_defaults()  # OCR_DEFAULTS wait for the first scan (qa.loaders.ocr)
    inbox = Connection(args.inbox, writable=False)
    outbox = Connection(args.outbox, readable=False)
    try:
        serve(inbox, outbox, args.max_bytes, args.memory_bytes)
    except (BrokenPipeError, EOFError):  # the parent went away
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
