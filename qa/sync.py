"""Keep a collection in step with folders that change: ``sync`` once, or ``watch`` for changes.

A sync ingests what is new or changed and removes from every index the
documents whose files are gone. A renamed or moved file is not embedded again:
its content hash is already indexed, so ingest only follows it to its new path.

Example::

    from qa.sync import sync

    report = sync(["~/notes"])       # run it from cron, or use `qa watch ~/notes`
    print(report.summary())
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from qa.api import workspace as default_workspace
from qa.config import Settings
from qa.errors import printable_path
from qa.ingestion.progress import ProgressCallback
from qa.types import DocumentInfo, IngestReport
from qa.workspace import Workspace

log = logging.getLogger(__name__)


@dataclass
class SyncReport:
    """What one sync did: the ingest of what exists, and the documents removed."""

    ingest: IngestReport = field(default_factory=IngestReport)
    removed: list[DocumentInfo] = field(default_factory=list)

    @property
    def failed(self) -> list[str]:
        return [f.path for f in self.ingest.failed]

    def summary(self) -> str:
        return f"{self.ingest.summary()}; {len(self.removed)} removed"


def sync(
    paths: str | Path | Iterable[str | Path],
    *,
    collection: str | None = None,
    settings: Settings | None = None,
    progress: ProgressCallback | None = None,
    workspace: Workspace | None = None,
) -> SyncReport:
    """One pass: ingest new and changed files under ``paths``; remove the deleted ones.

    Renamed files keep their vectors (matched by content hash). A path that no
    longer exists is not an error here: its documents are removed. The pass runs
    on ``workspace``, else on the default workspace of ``settings`` and ``collection``.

    Returns:
        A :class:`SyncReport`.
    """
    ws = workspace or default_workspace(settings, collection)
    roots = [Path(p).expanduser() for p in ([paths] if isinstance(paths, (str, Path)) else paths)]
    present = [p for p in roots if p.exists()]
    report = SyncReport()
    if present:
        report.ingest = ws.ingest(present, progress=progress)
    report.removed = remove_missing(roots, ws)
    return report


def remove_missing(roots: Iterable[Path], workspace: Workspace) -> list[DocumentInfo]:
    """Remove the documents whose source file is gone, at or under each of ``roots``."""
    store = workspace.store
    if store.info() is None:
        return []
    wanted = [_absolute(root) for root in roots]
    removed: list[DocumentInfo] = []
    with store.writing() as info:
        for row in store.documents():
            source = Path(row.source)
            if not any(source == root or source.is_relative_to(root) for root in wanted):
                continue
            if source.is_file():
                continue
            store.remove(info, row.id)
            log.info("removed %s: the file is gone", printable_path(row.source))
            removed.append(DocumentInfo(row.id, row.source, row.title, row.chunks))
    return removed


def _absolute(path: Path) -> Path:
    """``path`` absolute with symlinks followed where it still exists (sources are resolved)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))
