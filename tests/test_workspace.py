"""Workspace: one collection with its store and models (real model, real Chroma in tmp_path)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

import qa
from qa import Answer, Settings, Workspace
from qa.errors import DocumentNotFoundError
from tests.conftest import SEED_QUESTION, SEEDS

pytestmark = pytest.mark.slow

NOTE = "The zorblax orchard near Lake Quillon was planted by Mirela Vantosz in 1987.\n"


def settings_in(folder: Path) -> Settings:
    return Settings.from_env(data_dir=folder, llm="extractive")


def test_building_a_workspace_loads_nothing(tmp_path: Path) -> None:
    ws = Workspace(settings_in(tmp_path / "data"), collection="notes")
    assert ws.settings.collection == "notes"
    assert ws._embedder is None and not ws._chats
    assert not (tmp_path / "data").exists()  # the store opens on first use


def test_workspaces_on_two_data_dirs_do_not_see_each_other(tmp_path: Path) -> None:
    (tmp_path / "orchard.md").write_text("# Orchard\n\n" + NOTE)
    with Workspace(settings_in(tmp_path / "a")) as a, Workspace(settings_in(tmp_path / "b")) as b:
        a.ingest(SEEDS)
        b.ingest(tmp_path / "orchard.md")
        assert [d.title for d in b.documents()] == ["Orchard"]
        assert "Orchard" not in [d.title for d in a.documents()]
        assert all(p.source != str(tmp_path / "orchard.md")
                   for p in a.retrieve("zorblax orchard Lake Quillon", k=5))
        assert b.retrieve("zorblax orchard", k=1)[0].title == "Orchard"
        with pytest.raises(DocumentNotFoundError):
            a.remove(str(tmp_path / "orchard.md"))


def test_close_releases_the_store_and_the_workspace_opens_it_again(tmp_path: Path) -> None:
    ws = Workspace(settings_in(tmp_path / "data"))
    ws.ingest(SEEDS)
    store = ws.store
    ws.close()
    with pytest.raises(sqlite3.ProgrammingError):
        store.info()  # the registry connection is closed
    assert ws._embedder is None
    assert ws.store is not store  # used again, it opens a fresh store
    assert len(ws.documents()) == 1
    ws.close()


def test_close_keeps_a_data_dir_that_another_workspace_uses(tmp_path: Path) -> None:
    one = Workspace(settings_in(tmp_path / "data"))
    other = Workspace(settings_in(tmp_path / "data"), collection="notes")
    one.ingest(SEEDS)
    assert other.documents() == []
    one.close()
    assert other.documents() == []  # its registry connection is still open
    assert other.store.collections()
    other.close()


def test_module_functions_and_a_workspace_agree(tmp_path: Path) -> None:
    settings = settings_in(tmp_path / "data")
    report = qa.ingest([SEEDS], settings=settings)
    assert report.count("added") == 1
    with Workspace(settings) as ws:
        assert ws.documents() == qa.documents(settings=settings)
        mine = ws.retrieve(SEED_QUESTION, k=3)
        theirs = qa.retrieve(SEED_QUESTION, k=3, settings=settings)
        assert [(p.chunk_id, round(p.score, 6)) for p in mine] == \
            [(p.chunk_id, round(p.score, 6)) for p in theirs]
        assert ws.ask(SEED_QUESTION).text == qa.ask(SEED_QUESTION, settings=settings).text
        assert ws.ingest(SEEDS).count("unchanged") == 1  # same store: nothing re-embedded


def test_the_extractive_backend_answers_the_seed_question_with_a_citation(
    tmp_path: Path,
) -> None:
    with Workspace(settings_in(tmp_path / "data")) as ws:
        ws.ingest(SEEDS)
        streamed = list(ws.ask_stream(SEED_QUESTION))
    answer = streamed[-1]
    assert isinstance(answer, Answer) and not answer.refused
    assert all(isinstance(item, str) for item in streamed[:-1])
    assert answer.citations and "Pakistan" in answer.text
    assert answer.citations[0].source.endswith(".txt")
    assert answer.citations[0].quote in answer.citations[0].text


def test_load_opens_everything_at_once(tmp_path: Path) -> None:
    ws = Workspace(settings_in(tmp_path / "data"))
    assert ws.load() is ws
    assert ws._embedder is not None and ws.chat_model() is None  # extractive: no model
    ws.close()


def test_an_empty_question_is_refused_before_anything_loads(tmp_path: Path) -> None:
    ws = Workspace(settings_in(tmp_path / "data"))
    with pytest.raises(qa.QAError, match="the question is empty"):
        ws.ask("  ")
    assert ws._embedder is None


def test_the_default_workspace_is_one_per_settings(tmp_path: Path) -> None:
    from qa.api import workspace

    settings = settings_in(tmp_path / "data")
    assert workspace(settings) is workspace(settings)
    assert workspace(settings, "notes") is workspace(settings.with_(collection="notes"))
    assert workspace(settings) is not workspace(settings, "notes")
