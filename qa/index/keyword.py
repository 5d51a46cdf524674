"""The keyword index: BM25 over chunk text with tantivy, one index per collection generation.

Each chunk is one tantivy document with three fields: ``doc`` (the document id,
for deleting and filtering), ``chunk`` (its chunk id, stored) and ``body`` (the
title line and text that are also embedded, analysed by :data:`ANALYZER`:
words split on non-alphanumerics, lower-cased, ASCII-folded and stemmed with
the English Snowball stemmer). Scores are tantivy's BM25 (k1 1.2, b 0.75).

Why tantivy and not SQLite FTS5: FTS5 computes ``bm25()`` for every row that
matches any query word, so its cost grows with the collection. Measured on the
same 100,000 chunks and 200 SciFact claims (2 cores), FTS5 took 110 ms per query
(p50) and tantivy, which skips documents that cannot reach the top k
(block-max WAND), 1.8 ms.

The index follows the registry, never leads it: a chunk counts only when the
registry holds it (see :mod:`qa.index.store`), so entries of a document that is
still being written, or that a crash left behind, are never returned as
passages, and recovery deletes them. Only the process holding the data
directory's write lock writes; :meth:`KeywordIndex.close_writer` releases
tantivy's own writer lock at the end of each write.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from qa.errors import StoreError
from qa.text.words import STOPWORDS, WORD, keyword_analyzer
from qa.types import Chunk

if TYPE_CHECKING:
    import tantivy

log = logging.getLogger(__name__)

ANALYZER = "qa_english"
WRITER_HEAP_BYTES = 64_000_000
MAX_QUERY_TERMS = 64


def query_words(query: str) -> list[str]:
    """The words of ``query`` a keyword search looks for: lower-cased, stop words
    left out (unless that leaves nothing), each once, at most :data:`MAX_QUERY_TERMS`.

    >>> query_words("Which countries attended the Moscow conference?")
    ['countries', 'attended', 'moscow', 'conference']
    """
    words = [w.lower() for w in WORD.findall(query)]
    content = [w for w in words if w not in STOPWORDS] or words
    return list(dict.fromkeys(content))[:MAX_QUERY_TERMS]


def _schema() -> tantivy.Schema:
    import tantivy

    builder = tantivy.SchemaBuilder()
    builder.add_text_field("doc", tokenizer_name="raw", stored=False, index_option="basic")
    builder.add_text_field("chunk", tokenizer_name="raw", stored=True, index_option="basic")
    builder.add_text_field("body", tokenizer_name=ANALYZER, stored=False, index_option="freq")
    return builder.build()


class KeywordIndex:
    """A tantivy BM25 index of one collection generation, in ``folder``.

    Reads are safe from any thread; writes happen under the store's write lock.

    Raises:
        StoreError: the folder cannot be created or holds an unreadable index.
    """

    def __init__(self, folder: Path) -> None:
        import tantivy

        self.folder = folder
        self._schema = _schema()
        self._analyzer = keyword_analyzer()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self._index = tantivy.Index(self._schema, path=str(folder), reuse=True)
        except (OSError, ValueError) as exc:
            raise StoreError(
                f"cannot open the keyword index at {folder} ({exc}); make the data directory "
                "writable, or run `qa doctor --repair` to rebuild it from the registry"
            ) from exc
        self._index.register_tokenizer(ANALYZER, self._analyzer)
        self._index.config_reader(reload_policy="Manual")
        self._writer: tantivy.IndexWriter | None = None
        self._dirty = False
        self._lock = threading.Lock()

    # --- reading ---------------------------------------------------------------

    def search(
        self, query: str, limit: int, doc_ids: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """``(chunk_id, bm25)`` pairs, best first; ``doc_ids`` restricts to those documents."""
        import tantivy

        tokens = list(dict.fromkeys(
            t for word in query_words(query) for t in self._analyzer.analyze(word)))
        if not tokens or limit < 1 or (doc_ids is not None and not doc_ids):
            return []
        words = tantivy.Query.boolean_query([
            (tantivy.Occur.Should, tantivy.Query.term_query(self._schema, "body", t))
            for t in tokens
        ])
        if doc_ids is not None:
            only = tantivy.Query.term_set_query(self._schema, "doc", list(doc_ids))
            words = tantivy.Query.boolean_query([
                (tantivy.Occur.Must, words),
                (tantivy.Occur.Must, tantivy.Query.const_score_query(only, 0.0)),
            ])
        searcher: tantivy.Searcher = self._index.searcher()
        hits = searcher.search(words, limit, count=False).hits
        return [(searcher.doc(address)["chunk"][0], float(score)) for score, address in hits]

    def count(self, doc_id: str | None = None) -> int:
        """Entries in the index (committed, not deleted), of one document or of all."""
        import tantivy

        searcher = self._index.searcher()
        if doc_id is None:
            return int(searcher.num_docs)
        query = tantivy.Query.term_query(self._schema, "doc", doc_id)
        return int(getattr(searcher.search(query, 1, count=True), "count", 0) or 0)

    def reload(self) -> None:
        """See what the last commit (of this or another process) wrote."""
        self._index.reload()

    # --- writing ---------------------------------------------------------------

    def add(self, chunks: Iterable[Chunk], bodies: Iterable[str]) -> None:
        """Queue chunks for the next :meth:`commit` (``bodies``: their indexed text)."""
        import tantivy

        with self._lock:
            writer = self._writer_()
            for chunk, body in zip(chunks, bodies, strict=True):
                writer.add_document(
                    tantivy.Document(doc=chunk.doc_id, chunk=chunk.chunk_id, body=body))
                self._dirty = True

    def delete(self, doc_id: str) -> None:
        """Queue the deletion of every entry of a document for the next :meth:`commit`."""
        with self._lock:
            self._writer_().delete_documents_by_term("doc", doc_id)
            self._dirty = True

    def commit(self) -> None:
        """Make queued additions and deletions durable and searchable (no-op if none)."""
        with self._lock:
            if self._writer is None or not self._dirty:
                return
            self._writer.commit()
            self._dirty = False
            self._index.reload()

    def close_writer(self) -> None:
        """Commit, wait for segment merges, and release tantivy's writer lock."""
        self.commit()
        with self._lock:
            writer, self._writer = self._writer, None
            if writer is not None:
                writer.wait_merging_threads()

    def rollback(self) -> None:
        """Drop what was queued since the last commit and release the writer."""
        with self._lock:
            writer, self._writer = self._writer, None
            self._dirty = False
            if writer is not None:
                writer.rollback()
                writer.wait_merging_threads()

    def _writer_(self) -> tantivy.IndexWriter:
        if self._writer is None:
            try:
                self._writer = self._index.writer(heap_size=WRITER_HEAP_BYTES, num_threads=1)
            except ValueError as exc:
                raise StoreError(
                    f"cannot write the keyword index at {self.folder} ({exc}); is another "
                    "qa process writing this data directory?"
                ) from exc
            # A writer killed mid-commit leaves files no commit names (a segment's
            # "<id>.<opstamp>.del"); the next commit with that opstamp would fail with
            # FileAlreadyExists. Delete them before writing.
            try:
                self._writer.garbage_collect_files()
            except ValueError as exc:
                log.warning("could not clean up the keyword index at %s: %s", self.folder, exc)
        return self._writer


def remove_index(folder: Path) -> None:
    """Delete a generation's keyword index folder, if there is one."""
    shutil.rmtree(folder, ignore_errors=True)
