"""How far an ingest or a reindex is: reported after each file and each embedded batch."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from qa.types import FileResult


@dataclass
class IngestProgress:
    """Where an ingest is: reported after each file and each embedded batch."""

    files_done: int
    files_total: int
    chunks_done: int
    seconds: float
    last: FileResult | None = None

    @property
    def chunks_per_second(self) -> float:
        return self.chunks_done / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        """Seconds left, from the pace of the files done so far (None before the first)."""
        if not self.files_done or not self.files_total or self.seconds <= 0:
            return None
        return self.seconds * max(self.files_total - self.files_done, 0) / self.files_done

    def describe(self) -> str:
        """One line for a progress display.

        >>> IngestProgress(2, 4, 300, 10.0).describe()
        '2/4 files · 300 chunks · 30.0 chunks/s · about 10 s left'
        """
        parts = [f"{self.files_done}/{self.files_total} files", f"{self.chunks_done} chunks",
                 f"{self.chunks_per_second:.1f} chunks/s"]
        eta = self.eta_seconds
        if eta is not None and self.files_done < self.files_total:
            parts.append(f"about {eta:.0f} s left" if eta < 120 else
                         f"about {eta / 60:.0f} min left")
        return " · ".join(parts)


ProgressCallback = Callable[[IngestProgress], None]


