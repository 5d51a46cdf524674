"""The store: server mode, the model check, reindex and recovery after kill -9."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qa import documents, ingest, reindex, retrieve
from qa.api import open_store
from qa.config import Settings
from qa.errors import ModelMismatchError, StoreError
from tests.conftest import SEED_QUESTION

pytestmark = pytest.mark.slow


def consistent(settings: Settings) -> list[str]:
    """Ids of searchable documents, after checking both indexes hold exactly them."""
    store = open_store(settings)
    info = store.info()
    assert info is not None
    docs = {d.id: d.chunks for d in store.registry.documents(store.name)}
    assert all(r.status == "ready" for r in store.registry.documents(store.name, status=None))
    for doc_id, n in docs.items():
        assert len(store.registry.chunks_of(info, doc_id)) == n
        assert len(store.vectors(info).get(where={"doc_id": doc_id}, include=[])["ids"]) == n
    assert store.vector_count(info) == sum(docs.values())
    return sorted(docs)


@pytest.mark.server
def test_server_mode(chroma_server: tuple[str, int], seeds_copy: Path,
                     monkeypatch: pytest.MonkeyPatch) -> None:
    host, port = chroma_server
    monkeypatch.setenv("QA_CHROMA_HOST", host)
    monkeypatch.setenv("QA_CHROMA_PORT", str(port))
    monkeypatch.setenv("QA_COLLECTION", "served")
    report = ingest(seeds_copy)
    assert report.count("added") == 1
    assert "Pakistan and China" in retrieve(SEED_QUESTION, k=1)[0].text
    assert ingest(seeds_copy).chunks_embedded == 0
    consistent(Settings.from_env())
    import chromadb

    client = chromadb.HttpClient(host=host, port=port)
    assert any(c.name.startswith("qa-") for c in client.list_collections())


def test_empty_collection_says_what_to_do() -> None:
    with pytest.raises(StoreError, match="qa ingest"):
        retrieve("anything")


def test_model_mismatch_stops_with_a_remedy(seeds_copy: Path) -> None:
    ingest(seeds_copy)
    settings = Settings.from_env()
    registry = open_store(settings).registry
    info = registry.collection(settings.collection)
    assert info is not None
    registry.set_collection(info.name, info.generation, "some-other-model", 768)
    with pytest.raises(ModelMismatchError, match="qa reindex"):
        retrieve(SEED_QUESTION)
    assert reindex() > 0
    assert "Pakistan and China" in retrieve(SEED_QUESTION, k=1)[0].text
    consistent(settings)


def test_reindex_with_new_chunking_keeps_documents(seeds_copy: Path) -> None:
    ingest(seeds_copy)
    before = documents()
    small = Settings.from_env(chunk_tokens=64, chunk_overlap=8)
    reindex(settings=small)
    after = documents()
    assert [d.id for d in after] == [d.id for d in before]
    assert after[0].chunks > before[0].chunks
    consistent(small)


def write_corpus(folder: Path, n: int) -> None:
    words = ["river", "stone", "lantern", "orbit", "meadow", "copper", "violet", "harbor", "signal", "tundra"]
    rng = random.Random(7)
    folder.mkdir()
    for i in range(n):
        paras = [" ".join(rng.choice(words) for _ in range(60)) + "." for _ in range(12)]
        (folder / f"doc{i:03d}.txt").write_text(f"Document {i}\n\n" + "\n\n".join(paras))


def test_kill_during_ingest_then_rerun_completes(tmp_path: Path, data_dir: Path) -> None:
    corpus = tmp_path / "corpus"
    write_corpus(corpus, 24)
    env = {**os.environ, "QA_DATA_DIR": str(data_dir)}
    cmd = [sys.executable, "-m", "qa", "ingest", str(corpus), "--no-progress"]
    rng = random.Random(1)
    for _ in range(3):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(6, 12))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # A reader that starts now sees only whole documents.
        settings = Settings.from_env()
        if open_store(settings).info() is not None:
            store = open_store(settings)
            info = store.info()
            assert info is not None
            for d in store.registry.documents(store.name):
                assert len(store.registry.chunks_of(info, d.id)) == d.chunks
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert len(consistent(Settings.from_env())) == 24
