"""Command groups that other distributions add to `qa`, found through entry points.

A distribution declares, in its ``pyproject.toml``::

    [project.entry-points."qa.commands"]
    bench = "qa_measure.bench.cli:register"

and ``qa`` calls that ``register(commands, parent)`` as it calls its own command
modules' (see :class:`qa.cli.Register`); the entry point's name is the command it
adds. The measurement tools (``qa bench``, ``qa eval``) come this way from the
``qa-benchmarks`` distribution in ``benchmarks/``, so the ``qa`` wheel does not
ship them. When they are not installed, their commands still parse, and say what
to install.
"""

from __future__ import annotations

import argparse
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING

from qa.errors import QAError

if TYPE_CHECKING:
    from qa.cli import Commands

ENTRY_POINT_GROUP = "qa.commands"
MEASUREMENT_INSTALL = ("install the measurement tools with `pip install -e benchmarks/` "
                       "(or `scripts/setup.sh` with the `bench` or `test` extra)")
# Command groups qa expects from another distribution: their help, and how to get them.
EXPECTED = {
    "eval": ("measure quality on benchmark data", MEASUREMENT_INSTALL),
    "bench": ("benchmark ingest speed, query latency, cold start, memory, kill -9 resume "
              "and the HTTP API; the first run as whole processes (firstrun)",
              MEASUREMENT_INSTALL),
}


def extra_commands() -> dict[str, EntryPoint]:
    """The entry points of the ``qa.commands`` group by command name (the first of a name)."""
    found: dict[str, EntryPoint] = {}
    for point in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(point.name, point)
    return found


def add_extra_commands(commands: Commands, parent: argparse.ArgumentParser) -> None:
    """Add the command groups other distributions register (the expected ones first), and a
    stand-in for each expected one that is missing; a name qa already has is left to qa."""
    points = extra_commands()
    for name in [*EXPECTED, *sorted(points.keys() - EXPECTED.keys())]:
        if name in commands.choices:
            continue
        install = EXPECTED[name][1] if name in EXPECTED else "reinstall it"
        point = points.get(name)
        if point is None:
            _add_missing(commands, name, install)
            continue
        try:
            register = point.load()
        except ImportError as exc:
            _add_missing(commands, name,
                         f"its package is installed but does not import ({exc}); {install}")
            continue
        register(commands, parent)


def _add_missing(commands: Commands, name: str, remedy: str) -> None:
    """A `qa NAME ...` that takes any arguments and fails with ``remedy``."""
    summary = EXPECTED[name][0] + " " if name in EXPECTED else ""
    # No option prefix: every argument after NAME (--help too) is taken as it comes.
    p = commands.add_parser(name, help=f"{summary}(not installed)", add_help=False,
                            prefix_chars="\0")
    p.add_argument("arguments", nargs=argparse.REMAINDER)

    def missing(args: argparse.Namespace) -> int:
        raise QAError(f"`qa {name}` is not available: {remedy}")

    p.set_defaults(handler=missing, verbose=False)
