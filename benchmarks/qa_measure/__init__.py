"""qa's measurement tools, a distribution of their own (``qa-benchmarks``) beside qa.

* :mod:`qa_measure.evaluation`: quality on real benchmarks (``qa eval retrieval|answers|chat``).
* :mod:`qa_measure.bench`: speed and resources against baselines, side by side in one run
  (``qa bench ingest|query|coldstart|memory|resume|api|firstrun|all``).
* :mod:`qa_measure.embed_speed`: the embedding backends compared
  (``python -m qa_measure.embed_speed``).

Both command groups reach ``qa`` through the ``qa.commands`` entry point group
(:mod:`qa.cli.plugins`); the code here uses qa's public API. Results worth keeping
are copied to ``benchmarks/results/``.
"""
