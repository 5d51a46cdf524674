"""A ``provider:model`` backend: an OpenAI-compatible llama.cpp server on loopback.

The server fixture is the llm engineer's (tests/test_llm.py): SmolLM2-135M, too
small to answer well, so this checks the plumbing: streaming through
``init_chat_model``'s client, and that whatever it says has passed the check.
"""

from __future__ import annotations

import pytest

from qa import Answer, ask_stream
from qa.config import Settings
from tests.test_llm import openai_server  # noqa: F401  (a fixture)

from .conftest import JANUARY

pytestmark = [pytest.mark.llm, pytest.mark.slow]


def test_openai_compatible_backend(openai_server: str, seed_settings: Settings,  # noqa: F811
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    *deltas, final = list(ask_stream(JANUARY, llm="openai:smollm2", settings=seed_settings))
    assert isinstance(final, Answer) and final.backend == "openai:smollm2"
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert final.passages
    if not final.refused:
        assert [c.n for c in final.citations] == list(range(1, len(final.citations) + 1))
        for c in final.citations:
            assert c.quote in c.text and f"[{c.n}]" in final.text
