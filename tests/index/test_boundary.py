"""The store is the index's only door: no module outside ``qa/index/`` (nor the
measurement tools) imports its private parts or reaches into a store's private
members or its registry."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

QA = Path(__file__).resolve().parents[2] / "qa"
#: What code outside qa/index/ may import from it (the doctor checks files too).
ALLOWED = {"qa.index", "qa.index.maintenance"}
MEASURE = QA.parent / "benchmarks" / "qa_measure"
OUTSIDE = sorted([*(p for p in QA.rglob("*.py") if "index" not in p.relative_to(QA).parts[:1]),
                  *MEASURE.rglob("*.py")])


def _store_like(node: ast.expr) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else getattr(node, "id", "")
    return name == "store" or name.endswith("_store")


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: str(p.relative_to(QA.parent)))
def test_no_caller_reaches_past_the_store(path: Path) -> None:
    tree = ast.parse(path.read_text(), str(path))
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and \
                node.module.startswith("qa.index") and node.module not in ALLOWED:
            problems.append(f"line {node.lineno}: imports {node.module}")
        if isinstance(node, ast.Import):
            problems += [f"line {node.lineno}: imports {a.name}" for a in node.names
                         if a.name.startswith("qa.index") and a.name not in ALLOWED]
        if isinstance(node, ast.Attribute) and _store_like(node.value) and (
                node.attr.startswith("_") or node.attr == "registry"):
            problems.append(f"line {node.lineno}: uses store.{node.attr}")
    assert not problems, problems
