"""Chunking: spans are exact, structure is followed, nothing exceeds the model's limit."""

from __future__ import annotations

import pytest

from qa.config import Settings
from qa.ingestion.chunking import chunk_body, chunk_document
from qa.types import Block, LoadedDocument

DEFAULTS = Settings()


def words(texts: list[str]) -> list[int]:
    """A stand-in tokenizer for logic tests: one word piece per word."""
    return [len(t.split()) for t in texts]


def doc_of(paragraphs: list[tuple[str, str, int | None, str]], title: str = "T") -> LoadedDocument:
    text, blocks = "", []
    for kind, para, page, section in paragraphs:
        if text:
            text += "\n\n"
        blocks.append(Block(len(text), len(text) + len(para), page, section, kind))
        text += para
    return LoadedDocument("mem", title, text, blocks, "h")


def test_small_paragraphs_are_packed_together() -> None:
    doc = doc_of([("text", "one two three", None, ""), ("text", "four five", None, "")])
    chunks = chunk_document(doc, "d", words, chunk_tokens=20, overlap=0, max_tokens=50)
    assert [c.text for c in chunks] == ["one two three\n\nfour five"]


def test_spans_are_exact_and_ids_follow_order() -> None:
    paras = [("text", f"Sentence {i} is here. Another one follows it.", None, "") for i in range(30)]
    doc = doc_of(paras)
    chunks = chunk_document(doc, "d", words, chunk_tokens=20, overlap=0, max_tokens=50)
    assert len(chunks) > 5
    for i, c in enumerate(chunks):
        assert doc.text[c.start : c.end] == c.text
        assert c.index == i and c.chunk_id == f"d:{i}"


def test_sections_and_pages_are_never_mixed() -> None:
    doc = doc_of([
        ("heading", "Intro", 1, "Intro"), ("text", "alpha beta", 1, "Intro"),
        ("text", "gamma delta", 2, "Intro"), ("heading", "Method", 2, "Method"),
        ("text", "epsilon", 2, "Method"),
    ])
    chunks = chunk_document(doc, "d", words, chunk_tokens=50, overlap=0, max_tokens=60)
    assert [(c.text, c.page, c.section) for c in chunks] == [
        ("Intro\n\nalpha beta", 1, "Intro"),
        ("gamma delta", 2, "Intro"),
        ("Method\n\nepsilon", 2, "Method"),
    ]


def test_long_paragraph_splits_at_sentences_with_overlap() -> None:
    sentences = [f"Sentence number {i} has six words." for i in range(12)]
    doc = doc_of([("text", " ".join(sentences), None, "")])
    chunks = chunk_document(doc, "d", words, chunk_tokens=20, overlap=6, max_tokens=60)
    assert len(chunks) >= 4
    for c in chunks:
        assert c.text.startswith("Sentence") and c.text.endswith(".")
        assert len(c.text.split()) <= 20
    # The last sentence of one chunk opens the next.
    assert chunks[1].text.startswith(chunks[0].text.split(". ")[-1].rstrip("."))


@pytest.mark.parametrize("text", ["word " * 600, "x" * 5000, "supercalifragilistic" * 300])
def test_text_without_sentences_is_cut_to_fit(text: str, embedder) -> None:  # type: ignore[no-untyped-def]
    doc = doc_of([("text", text.strip(), None, "")], title="A title")
    chunks = chunk_document(doc, "d", embedder.count_tokens, chunk_tokens=200, overlap=0,
                            max_tokens=embedder.max_tokens)
    bodies = [chunk_body(doc.title, c.section, c.text) for c in chunks]
    assert max(embedder.count_tokens(bodies)) <= embedder.max_tokens
    assert "".join(c.text for c in chunks).replace(" ", "") == text.replace(" ", "")


@pytest.mark.slow
def test_seed_chunks_fit_the_model(embedder) -> None:  # type: ignore[no-untyped-def]
    from qa.loaders import load
    from tests.conftest import SEEDS

    doc = load(next(SEEDS.glob("*.txt")))
    chunks = chunk_document(doc, "d", embedder.count_tokens, chunk_tokens=DEFAULTS.chunk_tokens,
                            overlap=DEFAULTS.chunk_overlap, max_tokens=embedder.max_tokens)
    bodies = [chunk_body(doc.title, c.section, c.text) for c in chunks]
    assert max(embedder.count_tokens(bodies)) <= embedder.max_tokens
    assert any("Pakistan and China" in c.text for c in chunks)
    assert not any("<u>" in c.text for c in chunks)


def test_a_run_without_whitespace_is_hard_split_every_100_characters() -> None:
    """The rule of the module docstring, with a tokenizer of one piece per 10 characters."""
    from qa.ingestion.chunking import MAX_WORD_CHARS, honest_counter

    def tens(texts: list[str]) -> list[int]:  # a word over 100 characters is one piece
        return [sum(1 if len(w) > 100 else -(-len(w) // 10) for w in t.split()) for t in texts]

    assert tens(["x" * 5000]) == [1]
    assert honest_counter(tens)(["x" * 5000, "ab " * 3]) == [500, 3]
    run = "".join(chr(ord("a") + i % 26) for i in range(5000))
    doc = doc_of([("text", run, None, "")])
    chunks = chunk_document(doc, "d", tens, chunk_tokens=30, overlap=0, max_tokens=40)
    # 30 pieces of budget = three 100-character cuts (10 pieces each) per chunk.
    assert [len(c.text) for c in chunks] == [300] * 16 + [200]
    assert all(c.text == run[c.start : c.end] for c in chunks)
    assert "".join(c.text for c in chunks) == run
    assert MAX_WORD_CHARS == 100


@pytest.mark.slow
def test_a_3_mb_word_fits_the_model(embedder) -> None:  # type: ignore[no-untyped-def]
    """3 MB of words run together: every chunk fits, none is longer than the rule allows."""
    import random

    from qa.ingestion.chunking import MAX_WORD_CHARS, honest_counter

    rng = random.Random(3)
    syllables = ["river", "stone", "lantern", "orbit", "meadow", "copper", "violet", "harbor"]
    text = "".join(rng.choice(syllables) for _ in range(600_000))[: 3 * 2**20]
    doc = doc_of([("text", text, None, "")], title="A title")
    chunks = chunk_document(doc, "d", embedder.count_tokens, chunk_tokens=DEFAULTS.chunk_tokens,
                            overlap=DEFAULTS.chunk_overlap, max_tokens=embedder.max_tokens)
    bodies = [chunk_body(doc.title, c.section, c.text) for c in chunks]
    assert max(honest_counter(embedder.count_tokens)(bodies)) <= embedder.max_tokens
    assert max(len(c.text) for c in chunks) <= 200 * MAX_WORD_CHARS
    assert len(chunks) > 3 * 2**20 // (200 * MAX_WORD_CHARS)
    assert "".join(c.text for c in chunks) == text
