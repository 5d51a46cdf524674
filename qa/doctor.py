# Over 400 lines: one procedure; each check reads best beside the repair of what it finds.
"""``qa doctor``: check that the registry, the vectors and the keyword index agree; repair.

The registry (SQLite) is the source of truth: it holds each document's state,
text and chunks. The keyword index (tantivy) and the vectors (Chroma) are made
from it, so both can be rebuilt: the keyword index from the registry's chunk
text, the vectors by embedding that text again. A registry that is gone or
damaged cannot be rebuilt from the other two (Chroma keeps vectors and ids, the
keyword index stores no text): the remedy is to ingest the files again, and a
repair clears what is left of the old index so that ingest starts clean.

What is checked, for one collection:

- the registry file opens and passes SQLite's ``quick_check``, and knows the
  collection when vectors or keyword entries of it exist;
- no document is left ``pending`` or ``deleting`` by an interrupted write;
- every ready document has its text and exactly its recorded chunks;
- Chroma holds exactly one vector per ready chunk, and none of anything else;
- the keyword index opens and holds exactly the ready chunks, per document.

Example::

    from qa import doctor

    report = doctor()               # check only; changes nothing
    print(report.summary())
    if not report.ok:
        report = doctor(repair=True)
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from qa.config import Settings
from qa.errors import StoreError, printable_path
from qa.index import CollectionInfo, Store
from qa.index import maintenance as files
from qa.ingestion.chunking import chunk_body
from qa.types import Chunk

log = logging.getLogger(__name__)

EMBED_BATCH = 256
EXAMPLES = 3  # sources named in one finding


@dataclass(frozen=True)
class Finding:
    """One way the stores disagree.

    Attributes:
        store: "registry", "vectors" or "keyword": where the problem is.
        problem: what differs, on one line.
        remedy: what ``repair`` does about it, or what the user has to do.
        repairable: whether ``doctor(repair=True)`` fixes it.
    """

    store: str
    problem: str
    remedy: str
    repairable: bool

    def __str__(self) -> str:
        return f"{self.store}: {self.problem}; {self.remedy}"


@dataclass
class DoctorReport:
    """What :func:`doctor` found, and what it repaired.

    ``findings`` is what the check found; after a repair, ``remaining`` is what a
    second check still finds (when not repairing it equals ``findings``).
    ``actions`` says what the repair did, one line each.
    """

    collection: str
    data_dir: str
    documents: int = 0
    chunks: int = 0
    vectors: int = 0
    keyword_entries: int = 0
    findings: list[Finding] = field(default_factory=list)
    remaining: list[Finding] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    repaired: bool = False

    @property
    def ok(self) -> bool:
        """Whether the stores agree (after the repair, if one ran)."""
        return not self.remaining

    def summary(self) -> str:
        """Several lines for a person: the counts, each finding, what was done."""
        head = (f"collection '{self.collection}' in {printable_path(self.data_dir)}: "
                f"{self.documents} documents, {self.chunks} chunks in the registry, "
                f"{self.vectors} vectors, {self.keyword_entries} keyword entries")
        lines = [head]
        if not self.findings:
            lines.append("ok: the registry, the vectors and the keyword index agree")
            return "\n".join(lines)
        lines += [f"problem: {f}" for f in self.findings]
        lines += [f"repaired: {a}" for a in self.actions]
        if self.repaired:
            lines += [f"still wrong: {f}" for f in self.remaining]
            if not self.remaining:
                lines.append("ok: the stores agree again")
        elif any(f.repairable for f in self.findings):
            lines.append("run `qa doctor --repair` to fix what can be rebuilt")
        return "\n".join(lines)


def doctor(
    *, repair: bool = False, collection: str | None = None, settings: Settings | None = None
) -> DoctorReport:
    """Check that the three stores of a collection agree; with ``repair``, rebuild
    what can be rebuilt (see the module docstring).

    The check takes the data directory's write lock, so it waits for a running
    ingest and sees no write half done. Run it while no other code of this process
    uses the collection: it closes the process's open stores of the data directory.

    Returns:
        A :class:`DoctorReport`.

    Raises:
        StoreError: the data directory cannot be read or written.
    """
    settings = (settings or Settings.from_env()).with_(collection=collection)
    report = DoctorReport(settings.collection, str(settings.data_dir))
    if not settings.data_dir.exists():
        return report
    _close_open_stores(settings)
    try:
        with files.write_lock(settings):
            report.findings = _examine(settings, report)
        report.remaining = report.findings
        if repair and report.findings:
            report.repaired = True
            _repair(settings, report)
            _close_open_stores(settings)
            again = DoctorReport(settings.collection, str(settings.data_dir))
            with files.write_lock(settings):
                report.remaining = _examine(settings, again)
            report.documents, report.chunks = again.documents, again.chunks
            report.vectors, report.keyword_entries = again.vectors, again.keyword_entries
    finally:
        _close_open_stores(settings)
    for finding in report.remaining:
        log.info("doctor: %s", finding)
    return report


# --- checking ------------------------------------------------------------------


def _examine(settings: Settings, report: DoctorReport) -> list[Finding]:
    registry_path = files.registry_path(settings)
    if not registry_path.exists():
        return _without_registry(settings, f"the registry {printable_path(registry_path)} "
                                           "is missing")
    damage = files.registry_damage(registry_path)
    if damage:
        return [Finding(
            "registry", f"the registry {printable_path(registry_path)} is damaged ({damage})",
            "it holds the documents' text and cannot be rebuilt from the vectors or the "
            "keyword index; `qa doctor --repair` moves it aside and clears the indexes, then "
            "ingest your files again (`qa ingest PATH`)", repairable=False)]
    info = files.recorded_collection(settings)
    if info is None:
        return _without_registry(
            settings, f"the registry has no record of collection '{settings.collection}'")
    findings: list[Finding] = []
    try:
        store = _store(settings, info)
    except StoreError as exc:
        return [_vectors_unreadable(settings, exc)]
    findings += _check_registry(store, info, report)
    findings += _check_vectors(store, info, report)
    findings += _check_keyword(store, info, report)
    if info.model != settings.embed_model:
        findings.append(Finding(
            "vectors", f"the collection was embedded with {info.model}, but the configured "
            f"model is {settings.embed_model}",
            f"run `qa reindex --collection {settings.collection}` to embed it again",
            repairable=False))
    return findings


def _without_registry(settings: Settings, what: str) -> list[Finding]:
    vectors, keyword = files.leftovers(settings)
    if not vectors and not keyword:
        return []  # nothing was ever indexed here: nothing disagrees
    held = " and ".join(x for x in (
        f"{sum(vectors.values())} vectors" if vectors else "",
        f"{len(keyword)} keyword index folder(s)" if keyword else "") if x)
    return [Finding(
        "registry", f"{what}, but {held} of that collection remain",
        "the registry held the documents' text, so it cannot be rebuilt from the vectors or "
        "the keyword index; ingest your files again (`qa ingest PATH`); `qa doctor --repair` "
        "first clears the leftovers", repairable=False)]


def _check_registry(store: Store, info: CollectionInfo, report: DoctorReport) -> list[Finding]:
    rows = store.documents(status=None)
    ready = [r for r in rows if r.status == "ready"]
    report.documents = len(ready)
    report.chunks = store.chunk_count(info)
    findings: list[Finding] = []
    unfinished = [r for r in rows if r.status != "ready"]
    if unfinished:
        findings.append(Finding(
            "registry", f"{len(unfinished)} document(s) left half-written by an interrupted "
            f"ingest or removal ({_names(r.source for r in unfinished)}); they are not "
            "searchable", "repair finishes rolling them back", repairable=True))
    broken = []
    for row in ready:
        idx = [c.index for c in store.chunks_of(info, row.id)]
        if idx != list(range(row.chunks)) or row.chunks == 0:
            broken.append(f"{printable_path(row.source)} ({row.chunks} recorded, {len(idx)} "
                          "held)")
        elif store.document_text(row.id) is None:
            broken.append(f"{printable_path(row.source)} (its text is missing)")
    if broken:
        findings.append(Finding(
            "registry", f"{len(broken)} document(s) do not hold the chunks or text they "
            f"record: {', '.join(broken[:EXAMPLES])}",
            "remove each (`qa remove PATH`) and ingest the file again", repairable=False))
    stale = store.stale_generations(info)
    if stale:
        findings.append(Finding(
            "registry", f"{len(stale)} older generation(s) of the collection were left by an "
            "interrupted reindex", "repair deletes them", repairable=True))
    return findings


def _vectors_unreadable(settings: Settings, exc: Exception) -> Finding:
    if settings.server_mode:
        return Finding("vectors", f"cannot read the vectors: {exc}",
                       "check that the Chroma server at QA_CHROMA_HOST/QA_CHROMA_PORT is "
                       "running, then run `qa doctor` again", repairable=False)
    return Finding("vectors", f"cannot read the vectors: {exc}",
                   "repair moves the damaged vector store aside and embeds every document "
                   "again from the registry's text", repairable=True)


def _check_vectors(store: Store, info: CollectionInfo, report: DoctorReport) -> list[Finding]:
    try:
        by_doc = store.vector_ids(info)
    except Exception as exc:  # noqa: BLE001 - any failure to read is the finding
        return [_vectors_unreadable(store.settings, exc)]
    report.vectors = sum(len(v) for v in by_doc.values())
    ready = {r.id: r for r in store.documents()}
    missing = {doc_id: row.chunks - len(by_doc.get(doc_id, set())
                                        & {f"{doc_id}:{i}" for i in range(row.chunks)})
               for doc_id, row in ready.items()}
    missing = {d: n for d, n in missing.items() if n}
    extra = sum(len(ids) for d, ids in by_doc.items() if d not in ready)
    extra += sum(len(ids - {f"{d}:{i}" for i in range(ready[d].chunks)})
                 for d, ids in by_doc.items() if d in ready)
    findings = []
    if missing:
        findings.append(Finding(
            "vectors", f"{len(missing)} document(s) lack {sum(missing.values())} of their "
            f"vectors ({_names(ready[d].source for d in missing)})",
            "repair embeds their chunk text from the registry again", repairable=True))
    if extra:
        findings.append(Finding(
            "vectors", f"{extra} vector(s) belong to no searchable chunk",
            "repair deletes them", repairable=True))
    return findings


def _check_keyword(store: Store, info: CollectionInfo, report: DoctorReport) -> list[Finding]:
    try:
        total = store.keyword_count(info)
    except (StoreError, ValueError) as exc:
        return [Finding("keyword", f"cannot read the keyword index: {exc}",
                        "repair rebuilds it from the registry's chunk text", repairable=True)]
    report.keyword_entries = total
    ready = store.documents()
    differ = [r for r in ready if store.keyword_count(info, r.id) != r.chunks]
    if total == report.chunks and not differ:
        return []
    detail = f" ({len(differ)} document(s) differ: {_names(r.source for r in differ)})" \
        if differ else ""
    return [Finding("keyword", f"the keyword index holds {total} entries for "
                               f"{report.chunks} chunks{detail}",
                    "repair rebuilds it from the registry's chunk text", repairable=True)]


# --- repairing -----------------------------------------------------------------


def _repair(settings: Settings, report: DoctorReport) -> None:
    if any(f.store == "registry" and not f.repairable for f in report.findings) \
            and not _registry_usable(settings):
        with files.write_lock(settings):
            _clear_without_registry(settings, report)
        return
    vectors_unreadable = any(f.store == "vectors" and f.problem.startswith("cannot read")
                             for f in report.findings)
    if vectors_unreadable and not settings.server_mode:
        with files.write_lock(settings):
            _move_vectors_aside(settings, report)
    info = files.recorded_collection(settings)
    if info is None:  # only leftovers of a collection the registry does not know
        with files.write_lock(settings):
            _clear_without_registry(settings, report)
        return
    store = _store(settings, info)
    stores = {f.store for f in report.findings if f.repairable}
    if "keyword" in stores:
        with files.write_lock(settings):
            store.discard_unreadable_keyword_index(info)
    # The store's own recovery (on entering its write block) rolls back half-written
    # documents, drops stale generations and rebuilds a keyword index whose size is off.
    with store.writing() as info:
        if "registry" in stores:
            report.actions.append("rolled back what interrupted writes left")
        if store.keyword_count(info) != store.chunk_count(info) or any(
                store.keyword_count(info, r.id) != r.chunks for r in store.documents()):
            store.rebuild_keyword_index(info)
        if "keyword" in stores:
            report.actions.append(f"rebuilt the keyword index from the registry "
                                  f"({store.keyword_count(info)} entries)")
        if "vectors" in stores:
            embedded, deleted = _repair_vectors(settings, store, info)
            if embedded:
                report.actions.append(f"embedded {embedded} chunk(s) again from the registry")
            if deleted:
                report.actions.append(f"deleted {deleted} vector(s) of no searchable chunk")
        store.mark_changed()  # other processes reload their indexes


def _repair_vectors(settings: Settings, store: Store, info: CollectionInfo) -> tuple[int, int]:
    by_doc = store.vector_ids(info)
    ready = {r.id: r for r in store.documents()}
    stray = [i for d, ids in by_doc.items() for i in ids
             if d not in ready or i not in {f"{d}:{n}" for n in range(ready[d].chunks)}]
    store.delete_vectors(info, stray)
    todo: list[tuple[Chunk, str]] = []
    for doc_id, row in ready.items():
        have = by_doc.get(doc_id, set())
        for c in store.chunks_of(info, doc_id):
            if c.chunk_id not in have:
                todo.append((c, chunk_body(row.title, c.section, c.text)))
    if todo:
        from qa.embedding import get_embedder

        embedder = get_embedder(settings)
        if embedder.name != info.model or embedder.dim != info.dim:
            raise StoreError(
                f"collection '{store.name}' was embedded with {info.model}, but the configured "
                f"model is {embedder.name}; run `qa reindex --collection {store.name}` instead")
        for start in range(0, len(todo), EMBED_BATCH):
            part = todo[start : start + EMBED_BATCH]
            vectors = embedder.embed_documents([body for _, body in part])
            store.write_vectors(info, [c for c, _ in part], vectors)
    return len(todo), len(stray)


def _move_vectors_aside(settings: Settings, report: DoctorReport) -> None:
    aside = files.move_vectors_aside(settings)
    if aside is not None:
        report.actions.append(
            f"moved the unreadable vector store to {printable_path(aside)}; other collections "
            "of this data directory need `qa doctor --repair --collection NAME` too")


def _registry_usable(settings: Settings) -> bool:
    path = files.registry_path(settings)
    return path.exists() and not files.registry_damage(path)


def _clear_without_registry(settings: Settings, report: DoctorReport) -> None:
    """With the registry gone: move a damaged one aside and clear the collection's leftovers."""
    aside = files.move_registry_aside(settings)
    if aside is not None:
        report.actions.append(f"moved the damaged registry aside ({aside})")
    # A damaged registry served every collection of this data directory.
    vectors, keyword = files.leftovers(settings, every=aside is not None)
    files.clear_leftovers(settings, vectors, keyword)
    if vectors or keyword:
        report.actions.append(
            f"cleared {sum(vectors.values())} leftover vectors and {len(keyword)} keyword index "
            "folder(s)")
    report.actions.append("nothing is indexed now: ingest your files again (`qa ingest PATH`)")


# --- plumbing ------------------------------------------------------------------


def _store(settings: Settings, info: CollectionInfo) -> Store:
    return Store(settings, info.model, info.dim).load()


def _close_open_stores(settings: Settings) -> None:
    """Close this process's stores of the data directory, so the next use reopens them."""
    from qa.workspace import release_stores

    release_stores(settings.data_dir)
    files.close_data_dir(settings)


def _names(sources: Iterable[str]) -> str:
    items = [printable_path(s) for s in sources]
    more = f" and {len(items) - EXAMPLES} more" if len(items) > EXAMPLES else ""
    return ", ".join(items[:EXAMPLES]) + more
