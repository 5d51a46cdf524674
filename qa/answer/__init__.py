"""Answers with cited passages: the LCEL chain, its prompts and the citation check.

>>> from qa.answer import ask, ask_stream  # doctest: +SKIP
"""

from qa.answer.ask import answer_chain, ask, ask_stream, rewrite
from qa.answer.chain import AnswerChunk, build_chain

__all__ = ["AnswerChunk", "answer_chain", "ask", "ask_stream", "build_chain", "rewrite"]
