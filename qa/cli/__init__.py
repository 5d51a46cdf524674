"""The `qa` command line.

Each subcommand lives in a module of this package with a ``register`` function
that adds its parser; ``main`` turns :class:`QAError` into a one-line message.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from qa.config import apply_process_defaults
from qa.errors import QAError

# Modules that register subcommands, in the order `qa --help` lists them.
COMMAND_MODULES = ["qa.cli.index", "qa.cli.doctor", "qa.cli.evaluate"]
OPTIONAL_COMMAND_MODULES = ["qa.cli.answers", "qa.cli.bench", "qa.cli.serve"]


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--collection", help="collection name (default: QA_COLLECTION or 'default')")
    parent.add_argument("--data-dir", help="index folder (default: QA_DATA_DIR or ./qa_data)")
    parent.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    return parent


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa", description="Question answering over your own documents, with citations."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parent = common_options()
    for name in COMMAND_MODULES + OPTIONAL_COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if name in OPTIONAL_COMMAND_MODULES and exc.name == name:
                continue
            raise
        module.register(commands, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    apply_process_defaults()
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("chromadb", "httpx", "sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    try:
        return int(args.handler(args) or 0)
    except QAError as exc:
        print(f"qa: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qa: interrupted; rerun the command to finish", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader stopped reading (`qa search ... | head`): not an error. Point stdout
        # at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
