"""Ingest: from a path to documents in the index (sources and hashing, the isolated
parser, chunking, progress, the pipeline, reindex).

Named ``ingestion`` because ``qa.ingest`` is the public function. It imports
nothing: the parse worker starts from here before its memory limit is set, and
the index uses the chunking module without loading the pipeline above it.
"""
