"""qa.llm: spec parsing, GGUF assembly, the local model, an OpenAI-compatible server.

The ``llm`` tests run the real Qwen GGUF in process and in a real llama.cpp
OpenAI-compatible server on loopback, and check what it says against known answers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
from pathlib import Path

import pytest
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from qa.config import Settings
from qa.errors import ConfigError, MissingDependencyError
from qa.llm import (
    LlamaCppChatModel,
    LLMSpec,
    ModelIntegrityError,
    available_backends,
    ensure_local_model,
    get_chat_model,
    gguf,
    parse_spec,
)
from qa.llm.factory import local_available
from qa.llm.llama_chat import load_llama

CAPITAL = "What is the capital of France? Answer with one word."
COUNT = "Count from 1 to 5, separated by commas."
PLANETS = ("mercury", "venus", "earth", "mars", "jupiter", "saturn", "uranus", "neptune")


def counts_to_five(text: str) -> bool:
    """Whether ``text`` counts 1, 2, 3, 4, 5 in order (what COUNT asks for)."""
    return re.findall(r"\d+", text)[:5] == ["1", "2", "3", "4", "5"]


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", model_dir=tmp_path / "models")


# --- spec parsing and the factory -------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("local", LLMSpec("local")),
        (" extractive ", LLMSpec("extractive")),
        ("openai:gpt-4o-mini", LLMSpec("provider", "openai", "gpt-4o-mini")),
        ("OpenAI:gpt-4o", LLMSpec("provider", "openai", "gpt-4o")),
        ("ollama:llama3:8b", LLMSpec("provider", "ollama", "llama3:8b")),
    ],
)
def test_parse_spec(spec: str, expected: LLMSpec) -> None:
    assert parse_spec(spec) == expected


@pytest.mark.parametrize("spec", ["", "gpt4", "openai:", ":gpt-4o", "Local"])
def test_unknown_spec_names_value_and_choices(spec: str, settings: Settings) -> None:
    with pytest.raises(ConfigError) as err:
        get_chat_model(spec, settings)
    assert repr(spec) in str(err.value)
    assert "'extractive'" in str(err.value) and "provider:model" in str(err.value)


def test_extractive_has_no_model(settings: Settings) -> None:
    assert get_chat_model("extractive", settings) is None


def test_available_backends() -> None:
    backends = available_backends()
    assert backends[0] == "extractive"
    assert ("local" in backends) == local_available()


def test_unknown_provider(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="nope"):
        get_chat_model("nope:some-model", settings)


@pytest.mark.parametrize(
    ("spec", "package", "remedy"),
    [
        ("ollama:llama3", "langchain-ollama", "qa[ollama]"),
        ("groq:llama-3.1-8b", "langchain-groq", "pip install langchain-groq"),
    ],
)
def test_missing_provider_package(spec: str, package: str, remedy: str, settings: Settings) -> None:
    if importlib.util.find_spec(package.replace("-", "_")):
        pytest.skip(f"{package} is installed")
    with pytest.raises(MissingDependencyError) as err:
        get_chat_model(spec, settings)
    assert err.value.package == package
    assert remedy in str(err.value)


def test_openai_without_key_or_url(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        get_chat_model("openai:gpt-4o-mini", settings)


@pytest.mark.parametrize(
    ("key", "sent"), [(None, "not-needed"), ("sk-secret-123", "sk-secret-123")]
)
def test_openai_base_url_key(
    key: str | None,
    sent: str,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    if key is None:
        monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    else:
        monkeypatch.setenv("OPENAI_API_KEY", key)
    with caplog.at_level(logging.DEBUG, logger="qa"):
        chat = get_chat_model("openai:gpt-4o-mini", settings)
    assert chat.openai_api_key.get_secret_value() == sent  # type: ignore[union-attr]
    assert str(chat.root_client.base_url) == "http://127.0.0.1:9/v1/"  # type: ignore[union-attr]
    assert chat.temperature == 0  # type: ignore[union-attr]
    assert "sk-secret" not in caplog.text


def test_local_without_parts(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setattr(gguf, "PART_MODULE", "qa_test_no_such_part_{}")
    with pytest.raises(MissingDependencyError) as err:
        ensure_local_model(settings)
    assert err.value.extra == "local"
    assert "qa[local]" in str(err.value)


# --- GGUF assembly and verification (small fake files) ---------------------------------


@pytest.fixture
def fake_parts(tmp_path: Path) -> tuple[list[Path], bytes]:
    chunks = [b"GGUF" + bytes(range(256)) * 3, b"second part", b"x" * 5000]
    paths = []
    for i, data in enumerate(chunks, start=1):
        path = tmp_path / f"part{i:02d}.bin"
        path.write_bytes(data)
        paths.append(path)
    return paths, b"".join(chunks)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_assemble_joins_parts_in_order(
    fake_parts: tuple[list[Path], bytes], tmp_path: Path
) -> None:
    parts, whole = fake_parts
    dest = gguf.assemble(parts, tmp_path / "models" / "m.gguf", sha(whole))
    assert dest.read_bytes() == whole
    assert sorted(p.name for p in dest.parent.iterdir()) == ["m.gguf", "m.gguf.verified"]


def test_assemble_rejects_wrong_hash(fake_parts: tuple[list[Path], bytes], tmp_path: Path) -> None:
    parts, _ = fake_parts
    with pytest.raises(ModelIntegrityError, match="expected " + "0" * 64):
        gguf.assemble(parts, tmp_path / "models" / "m.gguf", "0" * 64)
    assert list((tmp_path / "models").iterdir()) == []  # no partial file left


def test_verify_sha256(fake_parts: tuple[list[Path], bytes]) -> None:
    parts, _ = fake_parts
    gguf.verify_sha256(parts[1], sha(b"second part"))
    with pytest.raises(ModelIntegrityError, match=str(parts[1])):
        gguf.verify_sha256(parts[1], sha(b"second part!"))


def test_ensure_local_model_rebuilds_corrupted_file(
    fake_parts: tuple[list[Path], bytes], monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    parts, whole = fake_parts
    monkeypatch.setattr(gguf, "part_paths", lambda: parts)
    path = ensure_local_model(settings, expected_sha256=sha(whole))
    assert path == gguf.local_model_path(settings, sha(whole))
    assert path.parent == settings.models_dir
    assert path.read_bytes() == whole

    def no_parts() -> list[Path]:
        raise AssertionError("a verified file must not be rebuilt")

    monkeypatch.setattr(gguf, "part_paths", no_parts)
    assert ensure_local_model(settings, expected_sha256=sha(whole)) == path

    path.write_bytes(whole[:-1] + b"!")  # same size, new mtime: hashed again, fails
    monkeypatch.setattr(gguf, "part_paths", lambda: parts)
    assert ensure_local_model(settings, expected_sha256=sha(whole)).read_bytes() == whole


# --- the real local model -----------------------------------------------------------------

needs_local = pytest.mark.skipif(not local_available(), reason="extra 'local' not installed")


@pytest.fixture(scope="session")
def local_chat(tmp_path_factory: pytest.TempPathFactory, model_dir: Path) -> LlamaCppChatModel:
    settings = Settings(data_dir=tmp_path_factory.mktemp("llm-data"), model_dir=model_dir)
    chat = get_chat_model("local", settings)  # assembles and verifies the real GGUF
    assert isinstance(chat, LlamaCppChatModel)
    return chat


@pytest.mark.llm
@needs_local
def test_local_invoke(local_chat: LlamaCppChatModel) -> None:
    reply = local_chat.invoke("Answer with one word: what color is the sky?", max_tokens=16)
    assert "blue" in reply.text.lower(), reply.text
    assert reply.usage_metadata is not None
    assert 0 < reply.usage_metadata["output_tokens"] <= 16


@pytest.mark.llm
@needs_local
def test_local_prompt_too_long(local_chat: LlamaCppChatModel) -> None:
    with pytest.raises(ConfigError, match="QA_K"):
        local_chat.invoke("word " * 3000, max_tokens=16)


@pytest.mark.llm
@needs_local
def test_local_stream_and_lcel(local_chat: LlamaCppChatModel) -> None:
    chunks = [c.text for c in local_chat.stream(COUNT, max_tokens=24) if c.text]
    assert len(chunks) > 1 and counts_to_five("".join(chunks)), chunks
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{q}")])
    text = (prompt | local_chat.bind(max_tokens=16) | StrOutputParser()).invoke(
        {"q": "Name one planet of the solar system."}
    )
    assert any(planet in text.lower() for planet in PLANETS), text


@pytest.mark.llm
@needs_local
def test_local_logprobs_and_prefix_cache(local_chat: LlamaCppChatModel) -> None:
    prompt = "Answer with one word: what color is the sky?"
    first = local_chat.bind(logprobs=True, top_logprobs=3).invoke(prompt, max_tokens=4)
    content = first.response_metadata["logprobs"]["content"]
    best = [t["logprob"] for t in content[0]["top_logprobs"]]
    assert len(best) == 3 and best == sorted(best, reverse=True)
    assert content[0]["logprob"] == best[0] <= 0  # greedy: the first token is the likeliest
    again = local_chat.invoke(prompt, max_tokens=4)
    assert again.text == first.text and "logprobs" not in again.response_metadata
    assert again.usage_metadata is not None
    assert again.usage_metadata["input_token_details"]["cache_read"] > 0  # prompt reused
    chunks = list(local_chat.stream(prompt, max_tokens=4, logprobs=True, top_logprobs=2))
    assert len(chunks[0].response_metadata["logprobs"]["content"][0]["top_logprobs"]) == 2


@pytest.mark.llm
@needs_local
def test_local_stop_string(local_chat: LlamaCppChatModel) -> None:
    text = local_chat.invoke("Count from 1 to 9, separated by commas.", max_tokens=30,
                             stop=["5"]).text
    assert "4" in text and "5" not in text


@pytest.mark.llm
@needs_local
def test_local_model_loads_once(local_chat: LlamaCppChatModel) -> None:
    path = local_chat.model_path
    assert load_llama(path).llama is load_llama(path).llama


# --- an OpenAI-compatible server on loopback (the openai_server fixture, tests/conftest.py) ---


@pytest.mark.llm
def test_openai_compatible_server(
    openai_server: str, monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", openai_server)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    chat = get_chat_model("openai:qwen", settings)
    assert chat is not None
    short = chat.bind(max_tokens=16)
    assert "paris" in short.invoke(CAPITAL).text.lower()
    chunks = [c.text for c in short.stream(COUNT) if c.text]
    assert len(chunks) > 1
    assert counts_to_five("".join(chunks))


@pytest.mark.llm
@needs_local
def test_prime_leaves_the_answer_prompt_start_read(local_chat: LlamaCppChatModel) -> None:
    from qa.answer import prime
    from qa.answer.prompts import ANSWER_PROMPT

    local_chat.invoke("Say hi.", max_tokens=2)  # something else in the context first
    prime(local_chat)
    messages = ANSWER_PROMPT.format_messages(
        passages="[1] (Talks) Moscow hosted talks in January.", question="Who hosted the talks?")
    reply = local_chat.invoke(messages, max_tokens=8)
    assert reply.usage_metadata is not None
    cached = reply.usage_metadata["input_token_details"]["cache_read"]
    assert cached >= 120, cached  # the system prompt and the human turn's opening
    assert "Moscow" in reply.text, reply.text


def test_prime_does_not_call_a_fast_model() -> None:
    from langchain_core.language_models.fake_chat_models import FakeListChatModel

    from qa.answer import prime

    remote = FakeListChatModel(responses=[])  # would raise if it were called
    prime(remote)


@pytest.mark.llm
@needs_local
def test_drafts_change_no_token_of_a_greedy_answer(local_chat: LlamaCppChatModel) -> None:
    from qa.llm.decoding import Outcome, decode

    model = load_llama(local_chat.model_path)
    passage = ("Helmand province is still under heavy fire despite being massively stationed "
               "by British forces in more than one-and-a-half decade long war.")
    prompts = [f"Repeat this sentence exactly: {passage}", "Count from 1 to 12, separated by "
               "commas.", "Name three colours of the rainbow."]
    for text in prompts:
        tokens = model.prompt_tokens([{"role": "user", "content": text}])
        runs = []
        for draft_tokens in (0, 4):
            outcome = Outcome()
            with model.lock:
                steps = list(decode(model.llama, tokens, 48, stop_tokens=model.stop_tokens,
                                    draft_tokens=draft_tokens, outcome=outcome))
            runs.append(([s.token for s in steps], outcome))
        (plain, no_drafts), (drafted, with_drafts) = runs
        assert drafted == plain, text
        assert no_drafts.drafted_tokens == 0
        if text.startswith("Repeat"):
            assert with_drafts.drafted_tokens > len(drafted) // 2, with_drafts
