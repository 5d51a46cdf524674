"""Fixtures of the evaluation tests: the seed's text, as the answer tests have it."""

from tests.answer.conftest import seed_text

__all__ = ["seed_text"]
