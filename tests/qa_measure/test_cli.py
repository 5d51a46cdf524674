"""`qa bench` and `qa eval` reach `qa` through the `qa.commands` entry points."""

from __future__ import annotations

import pytest

from qa.cli import main
from qa.cli.plugins import extra_commands


def test_the_distribution_declares_both_groups() -> None:
    points = extra_commands()
    assert points["bench"].value == "qa_measure.bench.cli:register"
    assert points["eval"].value == "qa_measure.evaluation.cli:register"


@pytest.mark.parametrize(("argv", "expected"), [
    (["bench", "--help"], "usage: qa bench [-h] [--collection COLLECTION]"),
    (["eval", "retrieval", "--help"], "usage: qa eval retrieval [-h]"),
    (["eval", "chat", "--help"], "--baseline-cache FILE"),
])
def test_help_of_the_registered_commands(argv: list[str], expected: str,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(argv)
    assert done.value.code == 0
    assert expected in capsys.readouterr().out
