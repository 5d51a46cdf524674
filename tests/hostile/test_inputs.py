"""Hostile files through the real ``qa.ingestion``, in a batch with good files.

A hostile file either fails alone with one clear line that says what is wrong, or
is indexed whole; it never raises, never hangs, and the good files around it are
ingested. After the batch the index must be consistent (see ``check_index``).

All small cases go through one ``ingest`` call together (each file parse costs a
worker round trip, each ingest a worker start), then each case's outcome is its
own test. Cases that are big, or known to break a batch, get a batch of their own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from qa import ingest, retrieve
from qa.api import open_store
from qa.config import Settings
from qa.types import FileResult
from tests.hostile import helpers as h
from tests.hostile.cases import CASES, INDEXED, Case, write
from tests.hostile.conftest import REPORT

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("shared_model")]

GOOD = ("good-first.txt", "good-last.md")
LONGEST: list[tuple[int, int]] = []  # (characters, word pieces) of the longest chunk of each file
SHARED = [case for case in CASES if not case.alone]
ALONE = [case for case in CASES if case.alone]


def good_files(folder: Path) -> list[Path]:
    return [
        write(folder, GOOD[0], h.prose("mkgoodfirst", 4)),
        write(folder, GOOD[1], "# The last good file\n\n" + h.prose("mkgoodlast", 4)),
    ]


def of_case(results: list[FileResult], folder: Path) -> list[FileResult]:
    """The results of files under ``folder`` (paths as given, or resolved)."""
    prefixes = (str(folder) + os.sep, str(folder.resolve()) + os.sep)
    return [r for r in results if os.path.normpath(r.path).startswith(prefixes)]


@dataclass
class Batch:
    settings: Settings
    by_case: dict[str, list[FileResult]]
    usage: h.Usage


def run_batch(cases: list[Case], root: Path, settings: Settings, seconds: float) -> Batch:
    """Ingest every case's files between the two good files; results by case."""
    first, last = good_files(root)
    paths: list[Path] = []
    for case in cases:
        (root / case.id).mkdir()
        paths += case.make(root / case.id)
    with h.measured() as usage, h.deadline(seconds):
        report = ingest([first, *paths, last], settings=settings)
    by_case = {case.id: of_case(report.files, root / case.id) for case in cases}
    claimed = {id(r) for results in by_case.values() for r in results}
    goods = [(Path(r.path).name, r.status) for r in report.files if id(r) not in claimed]
    assert sorted(goods) == [(GOOD[0], "added"), (GOOD[1], "added")], report.files
    return Batch(settings, by_case, usage)


def check_message(result: FileResult) -> None:
    message = result.message
    assert "\n" not in message and "\r" not in message, f"not one line: {message!r}"
    assert "Traceback" not in message and len(message) <= 500, message
    assert not h.CONTROL.search(message), f"control characters in {message!r}"


def check_case(case: Case, results: list[FileResult], settings: Settings) -> None:
    """The case's files ended as expected, with clear messages and whole documents."""
    described = [(Path(r.path).name, r.status, r.message) for r in results]
    assert sorted(r.status for r in results) == sorted(case.expect), described
    for result in results:
        check_message(result)
        if result.status not in INDEXED:
            for word in case.keywords:
                assert word.lower() in result.message.lower(), (word, result.message)
    store = open_store(settings)
    info = store.info()
    assert info is not None
    for result in (r for r in results if r.status in INDEXED):
        assert result.doc_id and result.chunks > 0, result
        row = store.document(result.doc_id)
        stored = store.document_text(result.doc_id)
        assert row is not None and row.status == "ready" and stored is not None
        text = stored[0]
        chunks = [c.text for c in store.chunks_of(info, result.doc_id)]
        assert not h.CONTROL.search(row.title), f"title {row.title!r}"
        assert not h.CONTROL.search(text), "control characters in the indexed text"
        for wanted in case.contains:
            assert wanted in text, f"{wanted!r} not in the indexed text"
        for unwanted in case.absent:
            assert unwanted not in row.title, f"{unwanted!r} in the title {row.title!r}"
            assert unwanted not in text and not any(unwanted in c for c in chunks), unwanted
        check_chunk_sizes(row.title, store.chunks_of(info, result.doc_id), settings)
        hits = retrieve(case.marker, k=5, mode="keyword", settings=settings)
        assert any(p.doc_id == result.doc_id for p in hits), f"{case.marker} does not find it"


def check_chunk_sizes(title: str, chunks: list, settings: Settings) -> None:  # type: ignore[type-arg]
    """No chunk, with its title line, exceeds the model's word-piece limit.

    Counted as the chunker's rule has it (``honest_counter``: a run without spaces
    counts as cut every 100 characters, as WordPiece would read it as one unknown
    piece); the longest chunk is recorded for the closing report.
    """
    from qa.embedding import get_embedder
    from qa.ingestion.chunking import MAX_WORD_CHARS, chunk_body, honest_counter

    embedder = get_embedder(settings)
    bodies = [chunk_body(title, c.section, c.text) for c in chunks]
    counts = honest_counter(embedder.count_tokens)(bodies)
    assert max(counts) <= embedder.max_tokens, (max(counts), embedder.max_tokens)
    longest = max(len(c.text) for c in chunks)
    assert longest <= settings.chunk_tokens * MAX_WORD_CHARS, longest
    LONGEST.append((longest, max(counts)))


@pytest.fixture(scope="module")
def shared_batch(embedder, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Batch]:  # type: ignore[no-untyped-def]
    """Every small case and the two good files, ingested in one call."""
    from qa.embedding import _cache

    root = tmp_path_factory.mktemp("hostile-batch")
    settings = Settings.from_env(data_dir=root / "qa_data")
    key = (settings.embed_model, settings.embed_backend, str(settings.models_dir))
    _cache[key] = embedder  # the session's model; see conftest.shared_model
    batch = run_batch(SHARED, root / "in", settings, seconds=600)
    failed = sum(r.status == "failed" for rs in batch.by_case.values() for r in rs)
    REPORT.append(
        f"shared batch: {len(SHARED)} cases, {sum(map(len, batch.by_case.values()))} files "
        f"({failed} failed cleanly) + 2 good files in {batch.usage.seconds:.1f}s"
    )
    yield batch
    if LONGEST:
        REPORT.append(
            f"chunks of {len(LONGEST)} indexed files: longest {max(LONGEST)[0]} characters; "
            f"at most {max(n for _, n in LONGEST)} word pieces with the title line"
        )
    _cache.pop(key, None)


@pytest.mark.parametrize("case", [case.param() for case in SHARED])
def test_case_in_shared_batch(case: Case, shared_batch: Batch) -> None:
    check_case(case, shared_batch.by_case[case.id], shared_batch.settings)


def test_shared_batch_leaves_a_consistent_index(shared_batch: Batch) -> None:
    docs = h.check_index(shared_batch.settings)
    indexed = {r.doc_id for rs in shared_batch.by_case.values() for r in rs if r.status in INDEXED}
    goods = {d for d, row in docs.items() if Path(row.source).name in GOOD}
    assert len(goods) == 2 and set(docs) == indexed | goods


@pytest.mark.parametrize("case", [case.param() for case in ALONE])
def test_case_in_a_batch_of_its_own(case: Case, tmp_path: Path, data_dir: Path) -> None:
    batch = run_batch([case], tmp_path / "in", Settings.from_env(), case.seconds)
    results = batch.by_case[case.id]
    check_case(case, results, batch.settings)
    docs = h.check_index(batch.settings)
    assert len(docs) == 2 + len({r.doc_id for r in results if r.status in INDEXED})
    if case.big:
        usage = batch.usage
        REPORT.append(
            f"{case.id}: {usage.seconds:.1f}s; peak RSS during the ingest: test process "
            f"{usage.peak_self_mb:.0f} MB ({usage.start_self_mb:.0f} MB before it), parse "
            f"worker {usage.peak_children_mb:.0f} MB; "
            + "; ".join(f"{r.status}: {r.message or f'{r.chunks} chunks'}" for r in results)
        )
