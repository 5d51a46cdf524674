"""Answers with cited passages: the LCEL chain, its prompts and the citation check.

The chain is built from a retriever and a chat model that its caller hands in
(:class:`qa.workspace.Workspace` does; ``qa.ask`` goes through one):

>>> from qa.answer import build_chain, stream_answer  # doctest: +SKIP
>>> chain = build_chain(retriever, chat, k=5)  # doctest: +SKIP
"""

from qa.answer.ask import check_history, check_question, rewrite, stream_answer
from qa.answer.chain import AnswerChunk, build_chain, prime

__all__ = ["AnswerChunk", "build_chain", "check_history", "check_question", "prime", "rewrite",
           "stream_answer"]
