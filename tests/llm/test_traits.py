"""Model traits: what the answer chain asks of a chat model instead of testing its class."""

from __future__ import annotations

from langchain_core.language_models.fake_chat_models import FakeListChatModel

from qa.llm import LlamaCppChatModel, ModelTraits, traits_of


def test_the_local_model_declares_a_small_context_and_is_slow() -> None:
    traits = traits_of(LlamaCppChatModel(model_path="model.gguf"))  # nothing is loaded
    assert traits == ModelTraits(context_tokens=2048, takes_max_tokens=True, speed="slow")
    assert traits.small_context


def test_other_models_show_their_traits_in_their_fields() -> None:
    class Small:
        n_ctx = 4096

    class Large:
        n_ctx = 32768

    assert traits_of(Small()) == ModelTraits(context_tokens=4096, takes_max_tokens=True)
    assert traits_of(Small()).small_context and not traits_of(Large()).small_context
    fake = traits_of(FakeListChatModel(responses=["x"]))
    assert fake == ModelTraits() and not fake.small_context and fake.speed == "fast"


def test_a_model_may_declare_its_own() -> None:
    class Declares:
        def traits(self) -> ModelTraits:
            return ModelTraits(context_tokens=100_000, speed="slow")

    assert traits_of(Declares()).speed == "slow"
