"""Tests of the measurement tools (``benchmarks/qa_measure``, the ``qa-benchmarks``
distribution). They are collected only where the tools are installed: ``scripts/setup.sh``
installs them with the ``test`` extra, ``pip install -e benchmarks/`` by hand."""

from __future__ import annotations

import importlib.util

if importlib.util.find_spec("qa_measure") is None:
    collect_ignore_glob = ["*"]
