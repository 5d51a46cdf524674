"""Command groups of other distributions (the `qa.commands` entry points), and what
`qa bench` / `qa eval` say when the measurement tools are not installed."""

from __future__ import annotations

import argparse
from importlib.metadata import EntryPoint

import pytest

from qa.cli import Commands, build_parser, main
from qa.cli import plugins as plugins_module


def register_hello(commands: Commands, parent: argparse.ArgumentParser) -> None:
    p = commands.add_parser("hello", parents=[parent], help="say hello")
    p.add_argument("--name", default="world")
    p.set_defaults(handler=lambda args: print(f"hello {args.name}") or 0)


def point(name: str, value: str) -> EntryPoint:
    return EntryPoint(name=name, value=value, group=plugins_module.ENTRY_POINT_GROUP)


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch) -> list[EntryPoint]:
    """The entry points `qa` finds: none, unless a test adds some."""
    found: list[EntryPoint] = []
    monkeypatch.setattr(plugins_module, "entry_points", lambda group: list(found))
    return found


@pytest.mark.parametrize("argv", [["bench", "ingest", "--quick"], ["bench", "--help"],
                                  ["eval", "retrieval", "--dataset", "squad"], ["eval"]])
def test_missing_measurement_tools_say_what_to_install(
    installed: list[EntryPoint], argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"qa: error: `qa {argv[0]}` is not available: install the measurement "
                   "tools with `pip install -e benchmarks/` (or `scripts/setup.sh` with the "
                   "`bench` or `test` extra)")


def test_help_lists_the_missing_groups(installed: list[EntryPoint],
                                       capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "measure quality on benchmark data (not installed)" in out
    assert out.index("serve") < out.index("eval") < out.index("bench")


def test_a_registered_group_runs(installed: list[EntryPoint],
                                 capsys: pytest.CaptureFixture[str]) -> None:
    installed.append(point("hello", f"{__name__}:register_hello"))
    assert main(["hello", "--name", "qa"]) == 0
    assert capsys.readouterr().out == "hello qa\n"


def test_a_group_cannot_replace_a_command_of_qa(installed: list[EntryPoint]) -> None:
    installed.append(point("search", f"{__name__}:no_such_function"))
    parser = build_parser()
    assert parser.parse_args(["search", "x"]).handler.__module__ == "qa.cli.index"


def test_a_group_that_does_not_import_says_so(installed: list[EntryPoint],
                                              capsys: pytest.CaptureFixture[str]) -> None:
    installed.append(point("bench", "qa_no_such_module.cli:register"))
    assert main(["bench", "query"]) == 2
    err = capsys.readouterr().err
    assert "installed but does not import" in err and "qa_no_such_module" in err
    assert "pip install -e benchmarks/" in err


def test_own_commands_do_not_look_up_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(group: str) -> list[EntryPoint]:
        raise AssertionError("entry points were read")

    monkeypatch.setattr(plugins_module, "entry_points", fail)
    assert build_parser("search").parse_args(["search", "x"]).query == "x"
    with pytest.raises(AssertionError):
        build_parser("bench")
