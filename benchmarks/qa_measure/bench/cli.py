"""`qa bench ingest|query|coldstart|memory|resume|api|firstrun|webapp|all`: speed and memory, side by
side; registered with `qa` through the ``qa.commands`` entry point ``bench`` (see
:mod:`qa.cli.plugins`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from qa.cli.index import settings_from

if TYPE_CHECKING:
    from qa.cli import Commands

WHAT = ("ingest", "query", "coldstart", "memory", "resume", "api", "firstrun", "webapp")


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    """`qa bench`."""
    p = commands.add_parser(
        "bench", parents=[parent],
        help="benchmark ingest speed, query latency, cold start, memory, kill -9 resume "
             "and the HTTP API; the first run as whole processes (firstrun) and in the "
             "browser (webapp)",
        description="Measure qa against baselines in one run and print tables of ratios. "
                    "Work files go to <data-dir>/bench; full runs also write a JSON result.",
    )
    p.add_argument("what", choices=[*WHAT, "all"], help="which benchmark ('all' runs each)")
    p.add_argument("--quick", action="store_true", help="tiny sizes (a smoke test, not a measure)")
    p.add_argument("--json", action="store_true", help="print one JSON document, no tables")
    p.add_argument("--out", type=Path, default=None,
                   help="write the JSON result here (default for full runs: "
                        "<data-dir>/bench/results/<what>-<time>.json)")
    p.add_argument("--data", type=Path, default=None,
                   help="benchmark data folder holding scifact/ (default ../shared/data)")
    p.add_argument("--embed-backend", choices=["torch", "onnx-int8"], default=None,
                   help="backend of the query, cold-start, memory and resume runs")
    p.add_argument("--rounds", type=int, default=None,
                   help="ingest, firstrun, webapp: timed rounds (default 3)")
    p.add_argument("--scifact-docs", type=int, default=None,
                   help="ingest, firstrun: SciFact abstracts to ingest (default 1000)")
    p.add_argument("--text-mb", type=float, default=None,
                   help="ingest: size of the generated text corpus in MB (default 2)")
    p.add_argument("--sizes", type=int, nargs="+", default=None, metavar="N",
                   help="query: index sizes in chunks (default 10000 100000)")
    p.add_argument("--queries", type=int, default=None, help="query: timed queries (default 200)")
    p.add_argument("--corpus-mb", type=float, nargs="+", default=None, metavar="MB",
                   help="memory: corpus sizes for the bounded-memory runs (default 10 50 200)")
    p.add_argument("--real-mb", type=float, nargs="*", default=None, metavar="MB",
                   help="memory: corpus sizes ingested with the real model (default 2)")
    p.add_argument("--big-file-mb", type=float, default=None,
                   help="memory: size of the single large file (default 200; 0 skips)")
    p.add_argument("--server-mb", type=float, nargs="*", default=None, metavar="MB",
                   help="memory: corpus sizes ingested into a Chroma server (default 200)")
    p.set_defaults(handler=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> int:
    from qa_measure.bench import BenchOptions, run
    from qa_measure.bench.report import write_json
    from qa_measure.evaluation.retrieval import DEFAULT_DATA

    settings = settings_from(args, embed_backend=args.embed_backend)
    options = BenchOptions.create(
        settings, args.data or DEFAULT_DATA, quick=args.quick, rounds=args.rounds,
        scifact_docs=args.scifact_docs, text_mb=args.text_mb,
        sizes=tuple(args.sizes) if args.sizes else None, queries=args.queries,
        corpus_mb=tuple(args.corpus_mb) if args.corpus_mb else None,
        real_mb=tuple(args.real_mb) if args.real_mb is not None else None,
        big_file_mb=args.big_file_mb,
        server_mb=tuple(args.server_mb) if args.server_mb is not None else None,
    )
    names = list(WHAT) if args.what == "all" else [args.what]
    results = []
    for name in names:
        result = run(name, options)
        results.append(result)
        if not args.json:
            print(result.text() + "\n", flush=True)
    out = args.out
    if out is None and not args.quick:
        out = options.work_dir / "results" / f"{args.what}-{time.strftime('%Y%m%d-%H%M%S')}.json"
    if out is not None:
        write_json(results, out, options.describe())
        print(f"wrote {out}", file=sys.stderr)
    if args.json:
        json.dump({"options": options.describe(), "results": [r.to_dict() for r in results]},
                  sys.stdout, indent=1, default=str)
        print()
    return 0
