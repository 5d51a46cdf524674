"""`qa ingest`, `qa watch`, `qa search`, `qa docs`, `qa remove`, `qa reindex`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from qa.config import Settings
from qa.errors import printable_path

if TYPE_CHECKING:
    from qa.cli import Commands


def settings_from(args: argparse.Namespace, **extra: Any) -> Settings:
    return Settings.from_env(collection=args.collection, data_dir=args.data_dir, **extra)


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    p = commands.add_parser("ingest", parents=[parent], help="index files and folders")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or folders")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--sync", action="store_true",
                   help="also remove documents whose files under PATH are gone (for cron)")
    p.set_defaults(handler=cmd_ingest)

    p = commands.add_parser("watch", parents=[parent],
                            help="keep folders indexed: sync now, then on every change")
    p.add_argument("paths", nargs="+", metavar="PATH", help="folders (or files) to follow")
    p.add_argument("--debounce", type=float, default=2.0, metavar="SECONDS",
                   help="wait until no file changed for this long before a pass (default 2)")
    p.set_defaults(handler=cmd_watch)

    p = commands.add_parser("search", parents=[parent], help="find passages for a query")
    p.add_argument("query", metavar="QUERY")
    p.add_argument("-k", type=int, default=None, help="how many passages (default 5)")
    p.add_argument("--mode", choices=["hybrid", "dense", "keyword"], default=None)
    p.add_argument("--doc", action="append", dest="documents", metavar="DOC",
                   help="only search this document (id or path); repeatable")
    p.add_argument("--json", action="store_true", help="print one JSON list of passages")
    p.set_defaults(handler=cmd_search)

    p = commands.add_parser("docs", parents=[parent], help="list documents with chunk counts")
    p.add_argument("--json", action="store_true", help="print one JSON list of documents")
    p.set_defaults(handler=cmd_docs)

    p = commands.add_parser("remove", parents=[parent], help="delete a document from the index")
    p.add_argument("doc", metavar="DOC", help="document id (or unique prefix) or source path")
    p.set_defaults(handler=cmd_remove)

    p = commands.add_parser("reindex", parents=[parent],
                            help="re-chunk and re-embed a collection with the current model")
    p.set_defaults(handler=cmd_reindex)


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from qa.api import ingest
    from qa.ingestion.progress import IngestProgress

    bar: tqdm | None = None
    quiet = args.no_progress or not sys.stderr.isatty()

    def progress(p: IngestProgress) -> None:
        nonlocal bar
        if p.last is not None and p.last.status == "failed":
            line = f"failed: {printable_path(p.last.path)}: {p.last.message}"
            (bar.write if bar else print)(line, file=sys.stderr)
        if quiet:
            return
        if bar is None:
            bar = tqdm(total=p.files_total or None, unit="file", file=sys.stderr)
        bar.n = p.files_done
        bar.set_postfix(chunks=p.chunks_done, rate=f"{p.chunks_per_second:.1f}/s")
        bar.refresh()

    if args.sync:
        from qa.sync import sync

        synced = sync(args.paths, settings=settings_from(args), progress=progress)
        report = synced.ingest
        for doc in synced.removed:
            print(f"removed: {printable_path(doc.source)} (the file is gone)", file=sys.stderr)
        summary = synced.summary()
    else:
        report = ingest(args.paths, settings=settings_from(args), progress=progress)
        summary = report.summary()
    if bar is not None:
        bar.close()
    print(summary)
    return 1 if report.failed else 0


def cmd_watch(args: argparse.Namespace) -> int:
    from qa.sync import SyncReport
    from qa.watch import Watcher

    def show(report: SyncReport) -> None:
        for result in report.ingest.failed:
            print(f"failed: {printable_path(result.path)}: {result.message}", file=sys.stderr)
        for doc in report.removed:
            print(f"removed: {printable_path(doc.source)}", file=sys.stderr)
        print(report.summary(), flush=True)

    watcher = Watcher(args.paths, settings=settings_from(args), debounce=args.debounce,
                      on_pass=show)
    print(f"watching {', '.join(printable_path(p) for p in watcher.roots)}; Ctrl-C stops",
          flush=True)
    try:
        watcher.run()
    except KeyboardInterrupt:
        print("stopped watching", file=sys.stderr)
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from qa.api import retrieve

    settings = settings_from(args)
    passages = retrieve(args.query, k=args.k or settings.k, documents=args.documents,
                        mode=args.mode, settings=settings)
    if args.json:
        json.dump([p.to_dict() for p in passages], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not passages:
        print("no matching passages")
    for i, p in enumerate(passages, 1):
        where = ", ".join(x for x in (f"page {p.page}" if p.page else "", p.section) if x)
        print(f"[{i}] {p.title} ({printable_path(p.source)}{'; ' + where if where else ''})  "
              f"score {p.score:.4f}")
        print("    " + " ".join(p.text.split())[:400])
    return 0


def cmd_docs(args: argparse.Namespace) -> int:
    from qa.api import documents

    docs = documents(settings=settings_from(args))
    if args.json:
        json.dump([d.to_dict() for d in docs], sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    if not docs:
        print("no documents; add some with `qa ingest PATH`")
    for d in docs:
        print(f"{d.id}  {d.chunks:6d} chunks  {d.title}  ({printable_path(d.source)})")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from qa.api import remove

    doc = remove(args.doc, settings=settings_from(args))
    print(f"removed {doc.title} ({printable_path(doc.source)}, {doc.chunks} chunks)")
    return 0


def cmd_reindex(args: argparse.Namespace) -> int:
    from qa.api import reindex

    n = reindex(settings=settings_from(args))
    print(f"reindexed: {n} chunks embedded")
    return 0
