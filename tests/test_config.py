"""qa.config: defaults, QA_* parsing, the checks that name the bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.config import Settings
from qa.errors import ConfigError


def test_defaults_without_environment() -> None:
    s = Settings.from_env()  # the autouse fixture leaves only QA_DATA_DIR and QA_MODEL_DIR
    assert (s.collection, s.k, s.search_mode, s.llm) == ("default", 5, "hybrid", "extractive")
    assert (s.chunk_tokens, s.chunk_overlap, s.llm_timeout) == (200, 32, 60)
    assert s.chroma_host is None and not s.server_mode


def test_environment_is_parsed_into_types(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_K", "7")
    monkeypatch.setenv("QA_SEARCH_MODE", "keyword")
    monkeypatch.setenv("QA_CHROMA_HOST", "db.local")
    monkeypatch.setenv("QA_CHROMA_PORT", "9001")
    monkeypatch.setenv("QA_DATA_DIR", "~/qa-test-data")
    s = Settings.from_env()
    assert s.k == 7 and s.search_mode == "keyword"
    assert s.server_mode and (s.chroma_host, s.chroma_port) == ("db.local", 9001)
    assert s.data_dir == Path.home() / "qa-test-data"


def test_overrides_win_and_none_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QA_COLLECTION", "from-env")
    assert Settings.from_env(collection="given").collection == "given"
    assert Settings.from_env(collection=None).collection == "from-env"
    assert Settings().with_(k=3, llm=None).k == 3


@pytest.mark.parametrize(
    ("var", "value", "says"),
    [
        ("QA_K", "lots", "QA_K='lots' is not a whole number"),
        ("QA_K", "0", "k=0 must be at least 1"),
        ("QA_SEARCH_MODE", "fuzzy", "QA_SEARCH_MODE='fuzzy' is not one of hybrid, dense"),
        ("QA_EMBED_BACKEND", "gpu", "QA_EMBED_BACKEND='gpu'"),
        ("QA_CHUNK_TOKENS", "8", "QA_CHUNK_TOKENS=8 is too small"),
        ("QA_CHUNK_OVERLAP", "150", "QA_CHUNK_OVERLAP=150 must be"),
        ("QA_COLLECTION", "no/such name", "'no/such name' is not allowed"),
        ("QA_LLM_TIMEOUT", "0", "QA_LLM_TIMEOUT=0 must be at least 1"),
    ],
)
def test_bad_values_name_the_variable(
    var: str, value: str, says: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigError) as err:
        Settings.from_env()
    assert says in str(err.value)
    assert "\n" not in str(err.value)


def test_settings_are_immutable() -> None:
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().k = 9  # type: ignore[misc]


def test_folders_given_as_strings_become_paths(tmp_path: Path) -> None:
    s = Settings(data_dir=str(tmp_path / "data"), model_dir="~/models")  # type: ignore[arg-type]
    assert s.data_dir == tmp_path / "data"
    assert s.model_dir == Path.home() / "models"
    assert s.with_(k=3).data_dir == tmp_path / "data"
