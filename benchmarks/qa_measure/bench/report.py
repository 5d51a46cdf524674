"""What a benchmark returns: tables for people, one JSON document for machines."""

from __future__ import annotations

import json
import math
import os
import platform
import re
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Table:
    """A titled table of rows; cells are formatted when printed, kept raw in JSON."""

    title: str
    columns: list[str]
    rows: list[list[Any]] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        self.rows.append(list(cells))

    def render(self) -> str:
        cells = [[_cell(c) for c in row] for row in self.rows]
        widths = [
            max([len(name)] + [len(row[i]) for row in cells if i < len(row)])
            for i, name in enumerate(self.columns)
        ]
        def line(values: Sequence[str]) -> str:
            first, *rest = values
            return "  ".join([first.ljust(widths[0])] + [v.rjust(w) for v, w in
                                                         zip(rest, widths[1:], strict=False)])
        out = [self.title, line(self.columns), line(["-" * w for w in widths])]
        out += [line(row) for row in cells]
        return "\n".join(out)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        magnitude = abs(value)
        if magnitude >= 100:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


@dataclass
class BenchResult:
    """One benchmark's outcome.

    Attributes:
        name: "ingest", "query", "coldstart", "memory" or "resume".
        tables: what is printed, in order.
        goals: goal text -> met (True/False) or None when it was not measured.
        notes: how it was measured, in sentences a reader needs to trust the numbers.
        data: every raw measurement, for the JSON file.
    """

    name: str
    tables: list[Table] = field(default_factory=list)
    goals: dict[str, bool | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    def text(self) -> str:
        parts = [t.render() for t in self.tables]
        if self.goals:
            parts.append("goals:\n" + "\n".join(
                f"  [{'met' if ok else 'MISSED' if ok is False else 'n/a'}] {goal}"
                for goal, ok in self.goals.items()
            ))
        if self.notes:
            parts.append("notes:\n" + "\n".join(f"  - {n}" for n in self.notes))
        return f"== {self.name} ==\n" + "\n\n".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def machine() -> dict[str, Any]:
    """Facts about the machine that explain the numbers."""
    return {
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def write_json(results: list[BenchResult], path: Path, options: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"machine": machine(), "options": options,
               "results": [r.to_dict() for r in results]}
    path.write_text(json.dumps(payload, indent=1, default=str) + "\n", encoding="utf-8")


def chunks_embedded(stdout: str) -> int:
    """Chunks a child process embedded: ``"chunks"`` of the last JSON line it printed (a
    probe script), else the count in ``qa ingest``'s summary ("... 12 chunks embedded in ...")."""
    probes = [line for line in stdout.splitlines() if line.startswith("{")]
    if probes:
        return int(json.loads(probes[-1]).get("chunks", 0))
    found = re.search(r"(\d+) chunks? embedded", stdout)
    return int(found[1]) if found else 0


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by linear interpolation; NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")
