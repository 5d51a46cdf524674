"""The store: server mode, the model check, reindex and recovery after kill -9."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import pytest

from qa import documents, ingest, reindex, retrieve
from qa.api import open_store
from qa.config import Settings
from qa.errors import ModelMismatchError, StoreError
from qa.index.registry import Registry
from tests.conftest import SEED_QUESTION

pytestmark = pytest.mark.slow


def consistent(settings: Settings) -> list[str]:
    """Ids of searchable documents, after checking both indexes hold exactly them."""
    store = open_store(settings)
    info = store.info()
    assert info is not None
    docs = {d.id: d.chunks for d in store.documents()}
    assert all(r.status == "ready" for r in store.documents(status=None))
    for doc_id, n in docs.items():
        assert len(store.chunks_of(info, doc_id)) == n
        assert len(store._collection(info).get(where={"doc_id": doc_id}, include=[])["ids"]) == n
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
    open_store(settings)
    registry = Registry.open(settings.data_dir / "registry.sqlite3")  # the store's own
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


def write_corpus(folder: Path, n: int) -> dict[str, str]:
    """``n`` text files, each naming a marker word of its own; returns {source: marker}."""
    words = ["river", "stone", "lantern", "orbit", "meadow", "copper", "violet", "harbor", "signal", "tundra"]
    rng = random.Random(7)
    folder.mkdir()
    markers = {}
    for i in range(n):
        marker = f"storemarker{i:02d}"
        paras = [f"{marker} " + " ".join(rng.choice(words) for _ in range(60)) + "."
                 for _ in range(12)]
        path = folder / f"doc{i:03d}.txt"
        path.write_text(f"Document {i}\n\n" + "\n\n".join(paras))
        markers[str(path.resolve())] = marker
    return markers


# Where each killed run is stopped: while its first batch is embedded, just after the
# vectors come back (Chroma and keyword writes, commits), and between two commits.
KILL_AT = ("embed", "embedded", "file")


def test_kill_during_ingest_then_rerun_completes(tmp_path: Path, data_dir: Path) -> None:
    """kill -9 at chosen points of an ingest (the crash harness reports where a child is);
    each next process first checks what the killed one left, and the last one finishes."""
    from tests.hostile.test_crash import ForkServer, read_events, wait_for

    markers = write_corpus(tmp_path / "corpus", 40)
    server = ForkServer(dict(os.environ))

    def job(n: int, **extra: object) -> dict[str, object]:
        return {"kind": "ingest", "data_dir": str(data_dir), "markers": markers,
                "paths": [str(tmp_path / "corpus")], "events": str(tmp_path / f"r{n}.jsonl"),
                "log": str(tmp_path / f"r{n}.log"), **extra}

    try:
        for n, aim in enumerate(KILL_AT):
            pid = server.ask({"op": "fork", "job": job(n)})["pid"]
            reached = wait_for(tmp_path / f"r{n}.jsonl", aim, 300)
            assert reached is not None and reached["event"] == aim, (aim, reached)
            os.killpg(pid, signal.SIGKILL)
            assert server.ask({"op": "reap", "pid": pid}) == {"pid": pid, "signal": 9}
        last = len(KILL_AT)
        pid = server.ask({"op": "fork", "job": job(last, final=True)})["pid"]
        assert wait_for(tmp_path / f"r{last}.jsonl", "done", 600) is not None
        assert server.ask({"op": "reap", "pid": pid}) == {"pid": pid, "code": 0}
    finally:
        server.close()
    for n in range(1, last + 1):  # what each process found, before it wrote anything
        events = read_events(tmp_path / f"r{n}.jsonl")
        assert not [e for e in events if e["event"] == "error"], events
        check = next(e for e in events if e["event"] == "check")
        assert check["problems"] == [], (n, check)
    final = next(e for e in read_events(tmp_path / f"r{last}.jsonl") if e["event"] == "final")
    assert final["problems"] == [] and final["other"] == 0 and final["orphans"] == 0, final
    assert final["ready"] == final["searchable"] == 40
    assert len(consistent(Settings.from_env())) == 40


class _OverlapsADelete:
    """A Chroma collection whose first ``failures`` queries meet a concurrent delete,
    as a Chroma server reports it."""

    def __init__(self, collection: object, failures: int) -> None:
        self.collection, self.failures, self.queries = collection, failures, 0

    def query(self, **kwargs: object) -> object:
        self.queries += 1
        if self.queries <= self.failures:
            raise RuntimeError("Error executing plan: Error finding id")
        return self.collection.query(**kwargs)  # type: ignore[attr-defined]


def test_a_vector_query_that_overlapped_a_delete_is_run_again(
        seeds_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ingest(seeds_copy)
    store = open_store(Settings.from_env())
    real = store._collection
    info = store.info()
    assert info is not None
    flaky = _OverlapsADelete(real(info), failures=1)
    monkeypatch.setattr(store, "_collection", lambda info: flaky)
    assert "Pakistan and China" in retrieve(SEED_QUESTION, k=1)[0].text
    assert flaky.queries == 2
    flaky.failures, flaky.queries = 5, 0  # a store that keeps failing is not hidden
    with pytest.raises(RuntimeError, match="Error finding id"):
        retrieve(SEED_QUESTION, k=1)
