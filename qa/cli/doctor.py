"""`qa doctor [--repair]`: check that the registry, vectors and keyword index agree."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

from qa.cli.index import settings_from

if TYPE_CHECKING:
    from qa.cli import Commands


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "doctor", parents=[parent],
        help="check that the registry, vectors and keyword index agree; --repair rebuilds",
    )
    p.add_argument("--repair", action="store_true",
                   help="rebuild the keyword index and vectors from the registry, roll back "
                        "half-written documents, clear leftovers of a lost registry")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.set_defaults(handler=cmd_doctor)


def cmd_doctor(args: argparse.Namespace) -> int:
    """Exit 0 when the stores agree (after the repair, with --repair), else 1."""
    from qa.doctor import doctor

    report = doctor(repair=args.repair, settings=settings_from(args))
    if args.json:
        data = asdict(report)
        data["ok"] = report.ok
        json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(report.summary())
    return 0 if report.ok else 1
