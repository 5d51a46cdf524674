"""`qa eval retrieval` (and, when available, `qa eval answers` and `qa eval chat`)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from qa.cli.answers import register_eval, register_eval_chat
from qa.cli.index import settings_from

EVAL_SUBCOMMANDS: list[Any] = [register_eval, register_eval_chat]  # register(eval_commands, parent) hooks


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
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
    for hook in EVAL_SUBCOMMANDS:
        hook(sub, parent)


def cmd_eval_retrieval(args: argparse.Namespace) -> int:
    from qa.evaluation.retrieval import DEFAULT_DATA, eval_scifact, eval_squad

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
