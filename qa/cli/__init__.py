"""The `qa` command line.

Each subcommand lives in a module of this package with a ``register`` function
(a :class:`Register`) that adds its parser; other distributions add command groups
the same way, through the ``qa.commands`` entry point group (:mod:`qa.cli.plugins`:
``qa bench`` and ``qa eval`` come from ``benchmarks/``). ``main`` turns
:class:`QAError` into a one-line message.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol, TypeAlias

from qa.config import apply_process_defaults
from qa.errors import QAError

# What ``register`` functions add their subcommands to (with ``add_parser``).
if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]
else:
    Commands: TypeAlias = argparse._SubParsersAction


class Register(Protocol):
    """Adds subcommands to ``commands``; each takes ``parent``'s common options and sets
    ``handler``, which gets the parsed arguments and returns the exit code."""

    def __call__(self, commands: Commands, parent: argparse.ArgumentParser) -> None: ...


# Modules that register qa's own subcommands, in the order `qa --help` lists them; the
# command groups of other distributions follow.
COMMAND_MODULES = ["qa.cli.index", "qa.cli.doctor", "qa.cli.answers", "qa.cli.serve"]


def common_options() -> argparse.ArgumentParser:
    """Options every subcommand accepts."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument("--collection", help="collection name (default: QA_COLLECTION or 'default')")
    parent.add_argument("--data-dir", help="index folder (default: QA_DATA_DIR or ./qa_data)")
    parent.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    return parent


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `qa` parser: qa's own commands, then those other distributions add.

    Args:
        command: the command about to be parsed; when it is one of qa's own, the
            command groups of other distributions are not looked up (that reads the
            metadata of every installed package, a cost each `qa search` would pay).
    """
    parser = argparse.ArgumentParser(
        prog="qa", description="Question answering over your own documents, with citations."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    parent = common_options()
    for name in COMMAND_MODULES:
        register: Register = importlib.import_module(name).register
        register(commands, parent)
    if command not in commands.choices:
        from qa.cli.plugins import add_extra_commands

        add_extra_commands(commands, parent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    apply_process_defaults()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
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
