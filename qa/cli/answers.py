"""`qa ask` and `qa chat`."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from qa.cli.index import settings_from
from qa.errors import printable_path

if TYPE_CHECKING:
    from qa.cli import Commands
    from qa.types import Answer


def backend_options(p: argparse.ArgumentParser) -> None:
    """The ``--llm`` and ``-k`` options of the commands that answer."""
    p.add_argument("--llm", default=None, metavar="NAME",
                   help="answer backend: extractive, local or provider:model "
                        "(default: QA_LLM or extractive)")
    p.add_argument("-k", type=int, default=None, help="passages to retrieve (default: QA_K or 5)")


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    p = commands.add_parser("ask", parents=[parent],
                            help="answer a question from the documents, with sources")
    p.add_argument("question", metavar="QUESTION")
    backend_options(p)
    p.add_argument("--json", action="store_true", help="print one JSON answer")
    p.set_defaults(handler=cmd_ask)

    p = commands.add_parser("chat", parents=[parent],
                            help="ask questions one per line; follow-ups use the history")
    backend_options(p)
    p.set_defaults(handler=cmd_chat)


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
        from qa.api import workspace
        from qa.llm.llama_chat import BackgroundLoad

        # The answer model loads, and reads its prompt's fixed start, while the first
        # question is typed (as in the web app).
        BackgroundLoad(lambda: workspace(settings).prepare_chat(args.llm), name="answer model")
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
