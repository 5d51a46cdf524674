"""A store is cheap to build: nothing is opened or created until it is loaded or used."""

from __future__ import annotations

from pathlib import Path

from qa.config import Settings
from qa.index import Store


def test_building_a_store_touches_nothing_and_the_first_write_makes_the_folder(
        tmp_path: Path) -> None:
    folder = tmp_path / "not" / "there"
    store = Store(Settings(data_dir=folder, collection="lazy"), "some-model", 3)
    assert not folder.exists()
    with store.writing() as info:
        assert (info.name, info.generation, info.model, info.dim) == ("lazy", 1, "some-model", 3)
    assert (folder / "registry.sqlite3").is_file()
    assert store.documents() == []
    store.close()


def test_load_opens_the_registry_and_the_vectors(tmp_path: Path) -> None:
    store = Store(Settings(data_dir=tmp_path / "data"), "some-model", 3).load()
    assert (tmp_path / "data" / "chroma").is_dir()
    assert store.info() is None
    store.close()
