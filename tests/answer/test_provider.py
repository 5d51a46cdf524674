"""A ``provider:model`` backend: an OpenAI-compatible llama.cpp server on loopback.

The server (the ``openai_server`` fixture in tests/conftest.py) serves the local
answer model, so the answer through ``openai:qwen`` is held to the seed's facts:
the January conference's guests were Pakistan and China, and every citation
quotes the passage that says so.
"""

from __future__ import annotations

import pytest

from qa import Answer, ask_stream
from qa.config import Settings

from .conftest import JANUARY, KABUL

pytestmark = [pytest.mark.llm, pytest.mark.slow]


@pytest.fixture
def remote(openai_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    return "openai:qwen"


def test_openai_compatible_backend_answers_with_citations(
    remote: str, seed_settings: Settings, seed_text: str
) -> None:
    *deltas, final = list(ask_stream(JANUARY, llm=remote, settings=seed_settings))
    assert isinstance(final, Answer) and final.backend == remote
    assert deltas and all(isinstance(d, str) for d in deltas)
    assert not final.refused, (final.text, final.flagged)
    assert "Pakistan" in final.text and "China" in final.text, final.text
    assert [c.n for c in final.citations] == list(range(1, len(final.citations) + 1))
    assert any("Pakistan and China" in c.quote for c in final.citations), final.citations
    for c in final.citations:
        assert c.quote in c.text and f"[{c.n}]" in final.text
        assert seed_text[c.start:c.end] == c.text  # the citation points into the document


def test_openai_compatible_backend_refuses_what_the_documents_do_not_say(
    remote: str, seed_settings: Settings
) -> None:
    *_, final = list(ask_stream(KABUL, llm=remote, settings=seed_settings))
    assert isinstance(final, Answer)
    assert final.refused and final.citations == [], final.text
