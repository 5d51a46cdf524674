"""`qa eval retrieval|answers|chat`: the quality measurements, registered with `qa` through
the ``qa.commands`` entry point ``eval`` (see :mod:`qa.cli.plugins`)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

from qa.cli.answers import backend_options
from qa.cli.index import settings_from

if TYPE_CHECKING:
    from qa.cli import Commands


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    """`qa eval` and its subcommands."""
    p = commands.add_parser("eval", help="measure quality on benchmark data")
    sub = p.add_subparsers(dest="eval_command", required=True, metavar="WHAT")
    r = sub.add_parser("retrieval", parents=[parent],
                       help="SQuAD-open hit@k or SciFact nDCG@10, hybrid/dense/keyword")
    r.add_argument("--dataset", choices=["squad", "squad2", "scifact"], required=True)
    r.add_argument("--data", type=Path, default=None,
                   help="benchmark folder (default ../shared/data)")
    r.add_argument("--limit", type=int, default=None, help="first N questions only")
    r.add_argument("--split", choices=["test", "train"], default="test",
                   help="SciFact claims to use (tune on train, report test)")
    r.add_argument("--chunk-tokens", type=int, default=None)
    r.add_argument("--chunk-overlap", type=int, default=None)
    r.add_argument("--embed-backend", choices=["torch", "onnx-int8"], default=None)
    r.add_argument("--json", action="store_true", help="print one JSON report")
    r.set_defaults(handler=cmd_eval_retrieval)
    register_answers(sub, parent)
    register_chat(sub, parent)


def register_answers(sub: Commands, parent: argparse.ArgumentParser) -> None:
    """`qa eval answers`."""
    p = sub.add_parser("answers", parents=[parent],
                       help="SQuAD answer quality, citation precision, refusals, latency")
    p.add_argument("--dataset", choices=["squad", "squad2"], required=True)
    p.add_argument("--data", type=Path, default=None,
                   help="benchmark folder (default ../shared/data)")
    p.add_argument("--limit", type=int, default=None, help="N stride-sampled questions")
    p.add_argument("--slice", choices=["report", "tune"], default="report", dest="slice_",
                   help="question set: 'tune' lies between the 'report' questions")
    p.add_argument("--details", type=Path, default=None, metavar="FILE",
                   help="write one JSON line per question to FILE")
    backend_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON report")
    p.set_defaults(handler=cmd_eval_answers)


def register_chat(sub: Commands, parent: argparse.ArgumentParser) -> None:
    """`qa eval chat`."""
    p = sub.add_parser("chat", parents=[parent],
                       help="MTRAG conversations: follow-up retrieval, answers, refusals, "
                            "latency, against a naive LangChain chain")
    p.add_argument("--dataset", choices=["mtrag"], required=True)
    p.add_argument("--data", type=Path, default=None,
                   help="benchmark folder (default ../shared/data)")
    p.add_argument("--domain", choices=["clapnq", "cloud", "fiqa", "govt"], default=None,
                   help="one domain only (default: all four)")
    p.add_argument("--limit", type=int, default=None,
                   help="the first N tasks of the fixed sample (a stratified prefix)")
    p.add_argument("--baseline", action=argparse.BooleanOptionalAction, default=True,
                   help="also ask the naive LangChain chain (default: yes, when the backend "
                        "has a model)")
    p.add_argument("--retrieval-only", action="store_true",
                   help="only measure retrieval for the last turn, qa's rewrite and the human one")
    p.add_argument("--details", type=Path, default=None, metavar="FILE",
                   help="write one JSON line per task to FILE")
    p.add_argument("--baseline-cache", type=Path, default=None, metavar="FILE",
                   help="reuse the naive chain's answers kept in FILE and add new ones to it "
                        "(they do not depend on qa's code; keyed by model and setup)")
    p.add_argument("--baseline-only", action="store_true",
                   help="ask only the naive chain (to fill --baseline-cache)")
    p.add_argument("--report-from", type=Path, default=None, metavar="FILE",
                   help="print the report of a --details FILE (also of an unfinished run)")
    backend_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON report")
    p.set_defaults(handler=cmd_eval_chat)


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from qa_measure.evaluation.retrieval import DEFAULT_DATA, eval_scifact, eval_squad

    settings = settings_from(args, chunk_tokens=args.chunk_tokens,
                             chunk_overlap=args.chunk_overlap, embed_backend=args.embed_backend)
    data = args.data or DEFAULT_DATA
    if args.dataset == "scifact":
        report = eval_scifact(settings, data, args.limit, args.split)
    else:
        version = "v1.1" if args.dataset == "squad" else "v2.0"
        report = eval_squad(settings, data, args.limit, version)
    if args.json:
        json.dump(asdict(report), sys.stdout, indent=2)
        print()
    else:
        print(report.table())
    return 0


def cmd_eval_answers(args: argparse.Namespace) -> int:
    from qa_measure.evaluation.answers import eval_answers, report_json
    from qa_measure.evaluation.retrieval import DEFAULT_DATA

    report = eval_answers(settings_from(args), args.data or DEFAULT_DATA, args.dataset,
                          args.limit, args.llm, args.k, args.slice_, args.details)
    print(report_json(report) if args.json else report.table())
    return 0


def cmd_eval_chat(args: argparse.Namespace) -> int:
    from qa_measure.evaluation.chat import eval_chat
    from qa_measure.evaluation.chat_report import report_from_details, report_json
    from qa_measure.evaluation.retrieval import DEFAULT_DATA

    if args.report_from is not None:
        report = report_from_details(args.report_from, args.llm or "")
    else:
        report = eval_chat(settings_from(args), args.data or DEFAULT_DATA, args.domain,
                           args.limit, args.llm, args.baseline, args.retrieval_only,
                           args.details, args.k, _tasks_done if sys.stderr.isatty() else None,
                           args.baseline_cache, args.baseline_only)
    print(report_json(report) if args.json else report.table())
    return 0


def _tasks_done(n: int, total: int) -> None:
    print(f"\r{n}/{total} tasks", end="" if n < total else "\n", file=sys.stderr, flush=True)
