"""Token counting: exact whatever the batching, bounded memory on huge texts."""

from __future__ import annotations

import pytest

import qa.embedding.base as base
from qa.embedding.base import TokenCounter, resolve_model_path


@pytest.fixture(scope="module")
def counter() -> TokenCounter:
    return TokenCounter(resolve_model_path("all-MiniLM-L6-v2"))


def test_counts_do_not_depend_on_the_batch_size(counter: TokenCounter,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    texts = ["Moscow hosted Pakistan and China.", "", "x " * 5000,
             "Ünïcödé naïve café, 1,234.5 km²!\n" * 300]
    whole = counter.count(texts)
    monkeypatch.setattr(base, "COUNT_BATCH_CHARS", 64)
    assert counter.count(texts) == whole
    assert whole[0] == 6 and whole[1] == 0 and whole[2] == 5000
    # A run without whitespace longer than a batch is cut inside the "word": its
    # count can only grow (the model reads one [UNK]), which errs on the safe side.
    assert counter.count(["a" * 3000]) >= [1]


def test_a_huge_text_is_counted_in_pieces(counter: TokenCounter,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []
    encode = counter.tokenizer.encode_batch

    class Spy:
        def encode_batch(self, texts: list[str], **kwargs: object) -> list[object]:
            seen.append(sum(map(len, texts)))
            return encode(texts, **kwargs)

    monkeypatch.setattr(base, "COUNT_BATCH_CHARS", 10_000)
    monkeypatch.setitem(counter.__dict__, "tokenizer", Spy())
    assert counter.count(["word " * 20_000]) == [20_000]
    assert len(seen) >= 10 and max(seen) <= 10_000 + 5
