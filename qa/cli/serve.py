"""`qa serve`: the REST API and the OpenAI-compatible endpoint over HTTP."""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from qa.cli.index import settings_from

if TYPE_CHECKING:
    from qa.cli import Commands


def register(commands: Commands, parent: argparse.ArgumentParser) -> None:
    p = commands.add_parser(
        "serve", parents=[parent],
        help="serve a REST API and an OpenAI-compatible chat endpoint",
        description="Serve qa over HTTP: /v1/ingest, /v1/documents, /v1/search, /v1/ask "
                    "(and /v1/ask/stream), /v1/chat/completions and /v1/models; docs at /docs. "
                    "Binding to anything but loopback needs QA_API_TOKEN.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="TCP port (default 8080)")
    p.add_argument("--llm", default=None, metavar="NAME",
                   help="answer backend: extractive, local or provider:model "
                        "(default: QA_LLM or extractive)")
    p.set_defaults(handler=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.server import TOKEN_ENV, check_bind, serve

    settings = settings_from(args, llm=args.llm)
    check_bind(args.host, os.environ.get(TOKEN_ENV))
    print(f"qa: serving collection '{settings.collection}' on http://{args.host}:{args.port} "
          f"(docs at /docs, OpenAI base URL http://{args.host}:{args.port}/v1)",
          file=sys.stderr, flush=True)
    serve(settings, host=args.host, port=args.port)
    return 0
