"""`qa ask`, `qa chat`, `qa eval answers` and `qa eval chat`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from qa.cli.index import settings_from
from qa.errors import printable_path

if TYPE_CHECKING:
    from qa.types import Answer


def _backend_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm", default=None, metavar="NAME",
                   help="answer backend: extractive, local or provider:model "
                        "(default: QA_LLM or extractive)")
    p.add_argument("-k", type=int, default=None, help="passages to retrieve (default: QA_K or 5)")


def register(commands: Any, parent: argparse.ArgumentParser) -> None:
    p = commands.add_parser("ask", parents=[parent],
                            help="answer a question from the documents, with sources")
    p.add_argument("question", metavar="QUESTION")
    _backend_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON answer")
    p.set_defaults(handler=cmd_ask)

    p = commands.add_parser("chat", parents=[parent],
                            help="ask questions one per line; follow-ups use the history")
    _backend_options(p)
    p.set_defaults(handler=cmd_chat)


def register_eval(sub: Any, parent: argparse.ArgumentParser) -> None:
    """The `qa eval answers` subcommand (a hook of ``qa.cli.evaluate.EVAL_SUBCOMMANDS``)."""
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
    _backend_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON report")
    p.set_defaults(handler=cmd_eval_answers)


def register_eval_chat(sub: Any, parent: argparse.ArgumentParser) -> None:
    """The `qa eval chat` subcommand (a hook of ``qa.cli.evaluate.EVAL_SUBCOMMANDS``)."""
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
    _backend_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON report")
    p.set_defaults(handler=cmd_eval_chat)


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.api import ask, ask_stream

    settings = settings_from(args)
    if args.json:
        answer = ask(args.question, llm=args.llm, k=args.k, settings=settings)
        json.dump(answer.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    _show(ask_stream(args.question, llm=args.llm, k=args.k, settings=settings,
                     progress=_progress), sys.stdout)
    return 0


def _progress(line: str) -> None:
    print(f"({line} ...)", file=sys.stderr, flush=True)


def cmd_chat(args: argparse.Namespace) -> int:
    from qa.api import ask_stream

    settings = settings_from(args)
    interactive = sys.stdin.isatty()
    history: list[dict[str, str]] = []
    if interactive:
        print("Ask about your documents; 'exit' or Ctrl-D ends.", file=sys.stderr)
    while True:
        if interactive:
            print("> ", end="", file=sys.stderr, flush=True)
        line = sys.stdin.readline()
        if not line:
            break
        question = line.strip()
        if not question:
            continue
        if question.lower() in ("exit", "quit"):
            break
        if not interactive:
            print(f"> {question}")
        answer = _show(ask_stream(question, history, llm=args.llm, k=args.k, settings=settings,
                                  progress=_progress), sys.stdout)
        history += [{"role": "user", "content": question},
                    {"role": "assistant", "content": answer.text}]
        print()
    return 0


def _show(stream: Any, out: TextIO) -> Answer:
    """Print the streamed text, then the checked answer if it differs, then the sources."""
    from qa.types import Answer

    streamed = ""
    final: Answer | None = None
    for item in stream:
        if isinstance(item, Answer):
            final = item
        else:
            streamed += item
            out.write(item)
            out.flush()
    assert final is not None
    if _shape(streamed) != _shape(final.text):
        out.write(("\n" if streamed else "") + f"\nChecked answer: {final.text}")
    out.write("\n")
    if final.standalone_question and final.standalone_question != final.question:
        out.write(f"(searched for: {final.standalone_question})\n")
    if final.clarifying:
        pass  # a question back: no sources to list
    elif final.refused:
        out.write("\nClosest passages:\n")
        for i, p in enumerate(final.passages[:3], 1):
            out.write(f"  {i}. {_where(p.title, p.source, p.page, p.section)}\n")
            out.write(f"     {' '.join(p.text.split())[:240]}\n")
    else:
        out.write("\nSources:\n")
        for c in final.citations:
            out.write(f"  [{c.n}] {_where(c.title, c.source, c.page, c.section)}, "
                      f"characters {c.quote_start}-{c.quote_end}\n")
            out.write(f"      \"{' '.join(c.quote.split())}\"\n")
    for note in final.flagged:
        out.write(f"  note: {note}\n")
    out.flush()
    return final


def _shape(text: str) -> tuple[str, list[int]]:
    """Text and markers, ignoring where a marker sits around a full stop."""
    from qa.text.markers import markers, strip_citations

    return " ".join(strip_citations(text).replace(" .", ".").split()), markers(text)


def _where(title: str, source: str, page: int | None, section: str) -> str:
    extra = "; ".join(x for x in (f"page {page}" if page else "", section) if x and x != title)
    return f"{title} ({printable_path(source)}{'; ' + extra if extra else ''})"


def cmd_eval_answers(args: argparse.Namespace) -> int:
    from qa.evaluation.answers import eval_answers, report_json
    from qa.evaluation.retrieval import DEFAULT_DATA

    report = eval_answers(settings_from(args), args.data or DEFAULT_DATA, args.dataset,
                          args.limit, args.llm, args.k, args.slice_, args.details)
    print(report_json(report) if args.json else report.table())
    return 0


def cmd_eval_chat(args: argparse.Namespace) -> int:
    from qa.evaluation.chat import eval_chat, report_from_details, report_json
    from qa.evaluation.retrieval import DEFAULT_DATA

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
