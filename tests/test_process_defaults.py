"""Process defaults: set where unset, by the entry points, never from a background thread."""

from __future__ import annotations

import os
import threading

import pytest

from qa.config import OCR_DEFAULTS, PROCESS_DEFAULTS, apply_before_load, apply_process_defaults

NAME = "QA_TEST_PROCESS_DEFAULT"


def test_unset_defaults_are_set_and_the_users_values_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NAME, raising=False)
    monkeypatch.setenv("QA_TEST_KEPT", "mine")
    apply_process_defaults({NAME: "1", "QA_TEST_KEPT": "theirs"})
    assert os.environ[NAME] == "1" and os.environ["QA_TEST_KEPT"] == "mine"
    monkeypatch.delenv(NAME)


def test_a_loader_on_another_thread_writes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(NAME, raising=False)
    thread = threading.Thread(target=apply_before_load, args=({NAME: "1"},))
    thread.start()
    thread.join()
    assert NAME not in os.environ
    apply_before_load({NAME: "1"})  # the main thread may
    assert os.environ[NAME] == "1"
    monkeypatch.delenv(NAME)


def test_import_sets_only_the_wait_policy() -> None:
    assert os.environ.get("OMP_WAIT_POLICY")  # by import qa, or the user's own
    assert "OMP_THREAD_LIMIT" not in PROCESS_DEFAULTS and set(OCR_DEFAULTS) == {"OMP_THREAD_LIMIT"}
