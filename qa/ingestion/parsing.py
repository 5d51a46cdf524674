"""Parse files in a worker process, with a time and a memory limit per file.

A parser that hangs or runs away with memory on a hostile file must cost one
file, not the ingest: the worker is killed and restarted and the file fails
with a one-line message. The worker also parses the next files while the main
process embeds the current one, so parsing and encoding overlap.

The worker is :mod:`qa.ingestion.parse_worker`, run by a fresh process of the caller's
interpreter and talking over two pipes. It never imports the caller's main module, so ingesting works the same from a script without a
``if __name__ == "__main__":`` guard, ``python -``, ``python -c``, a notebook
kernel or a thread of a web server. A worker that cannot start is reported as
such (:class:`ParseWorkerError`, with the reason), never as a bad file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import IO

from qa.config import OcrMode, Settings
from qa.errors import LoaderError, ParseWorkerError, printable_path
from qa.types import LoadedDocument

log = logging.getLogger(__name__)

LOOKAHEAD = 2  # files handed to the worker ahead of the one being embedded
START_SECONDS = 120.0  # a worker that is not ready by then (imports included) failed to start
# The worker imports the same qa as its caller: the folder holding this package goes on
# its path when it is not there already (a checkout used without installing). Put
# first only then, so a site-packages folder never comes before the standard library.
_BOOTSTRAP = f"""import sys
root = {str(Path(__file__).resolve().parents[2])!r}
if root not in sys.path:
    sys.path.insert(0, root)
from qa.ingestion.parse_worker import main
sys.exit(main())
"""


@dataclass(frozen=True)
class Limits:
    """Per-file limits for parsing, and how scans are read: the settings the
    worker needs (:meth:`of`; ``QA_MAX_FILE_MB``, ``QA_PARSE_TIMEOUT``,
    ``QA_PARSE_MEMORY_MB``, ``QA_OCR``, ``QA_OCR_LANG``)."""

    max_bytes: int
    seconds: float
    memory_bytes: int
    ocr: OcrMode
    ocr_lang: str

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        """The limits ``settings`` set."""
        return cls(max_bytes=settings.max_file_bytes, seconds=float(settings.parse_timeout),
                   memory_bytes=settings.parse_memory_bytes, ocr=settings.ocr,
                   ocr_lang=settings.ocr_lang)


@dataclass(frozen=True)
class _Done:
    result: LoadedDocument | LoaderError
    logs: list[tuple[str, int, str]]


@dataclass(frozen=True)
class _Lost:
    """The worker gave no result: it ran past the time limit, or it died."""

    timed_out: bool
    why: str = ""


class _Worker:
    """One parse worker process (:mod:`qa.ingestion.parse_worker`) and its two pipes."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        if not sys.executable:
            raise ParseWorkerError(
                "qa cannot start its parse worker: this Python does not know its own "
                "executable (sys.executable is empty); run qa from a regular Python"
            )
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        # Parsers may print; what they print goes to a file, read back only to explain
        # a worker that died.
        self.output: IO[bytes] = tempfile.TemporaryFile(prefix="qa-parse-worker-")  # noqa: SIM115
        env = dict(os.environ)
        env.pop("PYTHONINSPECT", None)
        # The loaders read the OCR settings from the environment (qa.loaders.ocr).
        env["QA_OCR"], env["QA_OCR_LANG"] = limits.ocr, limits.ocr_lang
        # -P: the caller's working folder is not on the path (a stray "pypdf.py" there
        # must not be imported).
        command = [
            sys.executable, "-P", "-c", _BOOTSTRAP,
            "--inbox", str(to_worker_r), "--outbox", str(from_worker_w),
            "--max-bytes", str(limits.max_bytes), "--memory-bytes", str(limits.memory_bytes),
        ]
        try:
            self.proc = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=self.output, stderr=self.output,
                pass_fds=(to_worker_r, from_worker_w), env=env, close_fds=True,
            )
        except OSError as exc:
            for fd in (to_worker_r, to_worker_w, from_worker_r, from_worker_w):
                os.close(fd)
            self.output.close()
            raise ParseWorkerError(
                f"qa cannot start its parse worker ({sys.executable}, qa.ingestion.parse_worker): "
                f"{exc}; no file was parsed"
            ) from None
        os.close(to_worker_r)
        os.close(from_worker_w)
        self.inbox = Connection(to_worker_w, readable=False)
        self.outbox = Connection(from_worker_r, writable=False)
        self._wait_ready()

    def _wait_ready(self) -> None:
        started = time.monotonic()
        try:
            if self.outbox.poll(START_SECONDS):
                message = self.outbox.recv()
                if isinstance(message, tuple) and message[:1] == ("ready",):
                    log.debug("parse worker %d ready in %.2fs", self.proc.pid,
                              time.monotonic() - started)
                    return
                why = f"it sent {message!r} instead of its ready signal"
            else:
                why = f"it was not ready after {START_SECONDS:.0f}s"
        except (EOFError, OSError):
            why = self.death()
        self.stop(kill=True)
        raise ParseWorkerError(
            f"qa could not start its parse worker ({sys.executable}, qa.ingestion.parse_worker): "
            f"{why}; no file was parsed. Check that qa and its dependencies are installed "
            "for this Python, and that QA_PARSE_MEMORY_MB leaves room to start it"
        )

    def send(self, seq: int, path: Path) -> None:
        self.inbox.send((seq, path))

    def receive(self, seq: int) -> _Done | _Lost:
        """The result of file ``seq``, or why there is none (time limit, death)."""
        seconds = self.limits.seconds
        deadline = time.monotonic() + seconds
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not self.outbox.poll(remaining):
                    return _Lost(timed_out=True)
                message = self.outbox.recv()
                kind = message[0]
                if kind == "start" and message[1] == seq:
                    # The clock of the file's own start: it may have begun while this
                    # process was embedding the previous file.
                    deadline = float(message[2]) + seconds
                elif kind == "done" and message[1] == seq:
                    return _Done(message[2], list(message[3]))
        except (EOFError, OSError):
            return _Lost(timed_out=False, why=self.death())

    def death(self) -> str:
        """How the worker ended, in a few words, with the last line it printed."""
        try:
            code = self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            return "it closed its pipe but is still running"
        if code < 0:
            try:
                how = f"killed by {signal.Signals(-code).name}"
            except ValueError:
                how = f"killed by signal {-code}"
        else:
            how = f"exited with code {code}"
        last = self._last_output_line()
        return f"{how}: {last}" if last else how

    def _last_output_line(self) -> str:
        with contextlib.suppress(OSError, ValueError):
            self.output.seek(0, os.SEEK_END)
            size = self.output.tell()
            self.output.seek(max(0, size - 4096))
            lines = self.output.read().decode("utf-8", "replace").splitlines()
            for line in reversed(lines):
                line = " ".join(line.split())
                if line:
                    return printable_path(line)[:200]
        return ""

    def stop(self, kill: bool = False) -> None:
        if kill:
            with contextlib.suppress(OSError):
                self.proc.kill()
        else:
            with contextlib.suppress(OSError):
                self.inbox.send(None)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for closable in (self.inbox, self.outbox, self.output):
            with contextlib.suppress(OSError):
                closable.close()


def load_isolated(
    paths: Iterable[Path], limits: Limits
) -> Iterator[tuple[Path, LoadedDocument | LoaderError]]:
    """Load each path in a worker process; yields results in order.

    A file that takes longer than ``limits.seconds`` or kills the worker fails
    with a :class:`LoaderError`; the worker restarts for the next file.

    Raises:
        ParseWorkerError: the worker could not be started (at first, or after a
            file killed it); files already yielded are unaffected.
    """
    todo = iter(paths)
    first = next(todo, None)
    if first is None:
        return
    numbered = enumerate(todo, start=1)
    sent: deque[tuple[int, Path]] = deque([(0, first)])
    worker: _Worker | None = None
    try:
        while True:
            if worker is None:
                worker = _Worker(limits)
                for seq, path in sent:  # a restart resends what was in flight
                    worker.send(seq, path)
            while len(sent) < LOOKAHEAD:
                nxt = next(numbered, None)
                if nxt is None:
                    break
                sent.append(nxt)
                worker.send(*nxt)
            if not sent:
                return
            seq, path = sent.popleft()
            outcome = worker.receive(seq)
            if isinstance(outcome, _Lost):  # this file fails, the rest go on
                worker.stop(kill=True)
                worker = None
                yield path, LoaderError(str(path), _lost_reason(outcome, limits))
                continue
            _relog(path, outcome.logs)
            yield path, outcome.result
    finally:
        if worker is not None:
            worker.stop()


def _lost_reason(lost: _Lost, limits: Limits) -> str:
    if lost.timed_out:
        return (
            f"parsing took longer than the limit of {limits.seconds:g}s; the file may be "
            "malformed, or raise QA_PARSE_TIMEOUT"
        )
    return (
        f"the parser crashed on it ({lost.why}); the file may be damaged or need more than "
        f"the {limits.memory_bytes // 2**20} MB of QA_PARSE_MEMORY_MB; check the file or split it"
    )


def _relog(path: Path, entries: list[tuple[str, int, str]]) -> None:
    """Log what the worker logged while parsing ``path``.

    qa's own records keep their logger and level; other libraries' records and
    Python warnings (pypdf's "EOF marker not found") are details of one file, logged
    at INFO here so they reach a log or ``-v``, not a person's terminal.
    """
    for name, level, message in entries:
        if name == "qa" or name.startswith("qa."):
            logging.getLogger(name).log(level, "%s", message)
        else:
            log.info("%s: %s (%s)", printable_path(path), message, name)
