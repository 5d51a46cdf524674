"""``watch``: follow folders with watchdog and sync what changed, once the changes settle.

File systems report a save as a burst of events (create, several modifies, a
rename from a temporary file), so events are collected until none has arrived
for ``debounce`` seconds; then one pass ingests the files that changed and
removes the documents whose files are gone. A moved file's new path is
ingested before its old path is removed, so it is followed, not re-embedded.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from qa.api import workspace as default_workspace
from qa.config import Settings
from qa.errors import QAError
from qa.sync import SyncReport, remove_missing, sync
from qa.workspace import Workspace

log = logging.getLogger(__name__)

DEFAULT_DEBOUNCE = 2.0


class Watcher:
    """Syncs ``paths`` into a collection whenever files under them change.

    Args:
        paths: folders (or files) to follow.
        settings: the collection and limits (default: from the environment).
        collection: which collection (default ``settings.collection``).
        workspace: the workspace to sync into (default: the default workspace of
            ``settings`` and ``collection``).
        debounce: seconds without a new event before a pass runs.
        on_pass: called with each pass's :class:`SyncReport` (the first is the
            initial sync of everything).

    Example::

        Watcher(["~/notes"], on_pass=lambda r: print(r.summary())).run()  # until Ctrl-C
    """

    def __init__(
        self,
        paths: Iterable[str | Path],
        *,
        settings: Settings | None = None,
        collection: str | None = None,
        debounce: float = DEFAULT_DEBOUNCE,
        on_pass: Callable[[SyncReport], None] | None = None,
        workspace: Workspace | None = None,
    ) -> None:
        from qa.loaders import SUPPORTED_SUFFIXES

        self.workspace = workspace or default_workspace(settings, collection)
        self.settings = self.workspace.settings
        self.roots = [Path(p).expanduser().resolve() for p in paths]
        self.debounce = debounce
        self.on_pass = on_pass
        self._suffixes = SUPPORTED_SUFFIXES
        self._data_dir = self.settings.data_dir.expanduser().resolve()
        self._lock = threading.Lock()
        self._changed: set[Path] = set()
        self._deleted: set[Path] = set()
        self._last_event = 0.0
        self._wake = threading.Event()

    # -- events (watchdog's thread) --------------------------------------------

    def note(self, kind: str, path: str, dest: str | None = None) -> None:
        """Record one file-system event; ``kind`` is watchdog's event type."""
        with self._lock:
            if kind in ("deleted", "moved"):
                self._add(self._deleted, Path(path), removal=True)
            if kind in ("created", "modified", "closed"):
                self._add(self._changed, Path(path))
            if kind == "moved" and dest:
                self._add(self._changed, Path(dest))
            self._last_event = time.monotonic()
        self._wake.set()

    def _add(self, into: set[Path], path: Path, removal: bool = False) -> None:
        if path == self._data_dir or path.is_relative_to(self._data_dir):
            return  # the index's own writes
        if any(part.startswith(".") for part in path.parts[1:]):
            return
        # A folder (created, moved or deleted) has no suffix; files must be ones qa reads.
        if path.suffix.lower() in self._suffixes or (removal and not path.suffix) \
                or path.is_dir():
            into.add(path)

    # -- passes (the caller's thread) ------------------------------------------

    def run(self, stop: threading.Event | None = None) -> None:
        """Sync everything once, then follow changes until ``stop`` is set (or Ctrl-C)."""
        from watchdog.observers import Observer

        stop = stop or threading.Event()
        observer = Observer()
        handler = _Handler(self)
        for root in self.roots:
            target = root if root.is_dir() else root.parent
            observer.schedule(handler, str(target), recursive=True)
        observer.start()
        try:
            self._report(sync(self.roots, workspace=self.workspace))
            while not stop.is_set():
                self._wake.wait(timeout=0.2)
                with self._lock:
                    quiet = time.monotonic() - self._last_event
                    ready = (self._changed or self._deleted) and quiet >= self.debounce
                    if not ready:
                        if not (self._changed or self._deleted):
                            self._wake.clear()
                        continue
                    changed, deleted = self._changed, self._deleted
                    self._changed, self._deleted = set(), set()
                self._report(self.apply(changed, deleted))
        finally:
            observer.stop()
            observer.join(timeout=10)

    def apply(self, changed: set[Path], deleted: set[Path]) -> SyncReport:
        """One pass over what changed: ingest what exists, then remove what is gone."""
        report = SyncReport()
        existing = sorted(p for p in changed if p.exists())
        if existing:
            report.ingest = self.workspace.ingest(existing)
        gone = sorted(p for p in deleted | changed if not p.exists())
        if gone:
            report.removed = remove_missing(gone, self.workspace)
        return report

    def _report(self, report: SyncReport) -> None:
        log.info("sync: %s", report.summary())
        if self.on_pass is not None:
            self.on_pass(report)


def _handler_base() -> Any:
    from watchdog.events import FileSystemEventHandler

    return FileSystemEventHandler


class _Handler(_handler_base()):  # type: ignore[misc]
    def __init__(self, watcher: Watcher) -> None:
        super().__init__()
        self.watcher = watcher

    def on_any_event(self, event: Any) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        try:
            self.watcher.note(event.event_type, _text(event.src_path),
                              _text(getattr(event, "dest_path", "")) or None)
        except QAError:  # never let one odd path stop the observer thread
            log.debug("ignored event %s", event, exc_info=True)


def _text(path: str | bytes) -> str:
    import os

    return os.fsdecode(path)
