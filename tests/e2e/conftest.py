"""Let fixtures see whether the test they serve failed (for failure screenshots)."""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[
    None, Any, None
]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
