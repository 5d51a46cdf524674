"""The index of a collection: one :class:`Store` over the registry (SQLite, the
source of truth), the Chroma vectors and the tantivy keyword index.

Callers use the store and the records it returns; the registry, the keyword index,
the Chroma client and the locks are its own parts.
"""

from qa.index.chroma import import_chromadb_in_background, storage_error
from qa.index.keyword import query_words
from qa.index.records import CollectionInfo, DocRow
from qa.index.store import Store

__all__ = ["CollectionInfo", "DocRow", "Store", "import_chromadb_in_background", "query_words",
           "storage_error"]
