"""Turning a follow-up question into a standalone one, with or without a model.

With a chat model the question and the recent history go through
:data:`~qa.answer.prompts.CONDENSE_PROMPT`. Without one (the extractive
backend, or when the model's rewrite is unusable) a rule does it: a question
that leans on the conversation (it starts with "and"/"what about", has a
pronoun, or has fewer than two content words) gets the salient words of the
previous user question appended (its probable names and nouns: capitalised words,
words after a determiner, numbers), except words of a kind the follow-up
replaces (its own month, year or number).

>>> condense_rule_based("And which countries were invited in February?",
...     [{"role": "user", "content": "Which countries took part in the conference "
...       "Moscow hosted in January?"}])
'And which countries were invited in February? (conference Moscow)'
"""

from __future__ import annotations

import logging
import re

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser

from qa.answer.prompts import CONDENSE_PROMPT, SMALL_BUDGET, budget_for, condense_context
from qa.answer.text import word_kind
from qa.llm.traits import traits_of
from qa.text.words import QUESTION_WORDS, STOPWORDS, content_words, stem

log = logging.getLogger(__name__)

_WORD = re.compile(r"[\w'-]+")
_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|so|then|what about|how about|and what about|same for)\b", re.I
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PRONOUNS = _words(
    "it its they them their theirs he him his she her this that these those there "
    "former latter one ones"
)
_SMALL_TALK = _words(
    "hi hello hey thanks thank you thx ok okay cool great nice good bye goodbye see ya yes no "
    "sure fine all right alright wow omg awesome perfect got it cheers please help me can"
)
_CONTEXT = re.compile(r"^(.*\S)\s+\(([^()]*)\)$", re.S)
_DETERMINERS = _words("the a an this that these those its their his her our")


def needs_history(question: str) -> bool:
    """Whether ``question`` probably refers to earlier turns.

    >>> needs_history("What about February?"), needs_history("Who founded the Normans?")
    (True, False)
    """
    return _refers_back(question) or len(content_words(question, question=True)) < 2


def _refers_back(question: str) -> bool:
    """Whether ``question`` opens like a follow-up or holds a pronoun."""
    words = [w.lower() for w in _WORD.findall(question)]
    return bool(_FOLLOW_UP_START.search(question)) or any(w in _PRONOUNS for w in words)


def is_small_talk(question: str) -> bool:
    """Whether ``question`` is talk rather than a request: "thanks", "ok bye", "hi".

    >>> is_small_talk("Thank you!"), is_small_talk("ok bye"), is_small_talk("Why is it so?")
    (True, True, False)
    """
    words = [w.lower() for w in _WORD.findall(question)]
    return not words or (len(words) <= 6 and all(w in _SMALL_TALK for w in words))


def needs_clarification(question: str, history: list[dict[str, str]]) -> bool:
    """Whether ``question`` is too vague to search with: it leans on a conversation
    that is not there, or says nothing to look for.

    >>> needs_clarification("What about the other one?", [])
    True
    >>> needs_clarification("What about the other one?", [{"role": "user", "content": "x"}])
    False
    >>> needs_clarification("Who founded the Normans?", [])
    False
    """
    if is_small_talk(question):
        return True
    if any(m.get("role") == "user" for m in history):
        return False
    return _refers_back(question) and len(content_words(question, question=True)) < 2


def split_context(standalone: str) -> tuple[str, str]:
    """A rule-condensed question split into the user's words and the carried-over ones.

    >>> split_context("And in February? (conference Moscow)")
    ('And in February?', 'conference Moscow')
    """
    found = _CONTEXT.match(standalone)
    return (found.group(1), found.group(2)) if found else (standalone, "")


def condense_rule_based(question: str, history: list[dict[str, str]]) -> str:
    """``question`` with the previous user question's salient words appended, if it needs them."""
    previous = [m["content"] for m in history if m.get("role") == "user" and m.get("content")]
    if not previous or not needs_history(question):
        return question
    asked = _WORD.findall(question)
    have = {stem(w) for w in asked}
    replaced = {word_kind(w) for w in asked} - {""}
    salient: list[str] = []
    words = _WORD.findall(previous[-1])
    for i, word in enumerate(words):
        low = word.lower()
        if (low in STOPWORDS or low in QUESTION_WORDS or low in _PRONOUNS or stem(low) in have
                or word_kind(word) in replaced or word in salient):
            continue
        # Without a tagger, keep what is probably a name or a noun: capitalised
        # words past the first, words after a determiner, numbers.
        after_determiner = i > 0 and words[i - 1].lower() in _DETERMINERS
        if (i > 0 and word[0].isupper()) or after_determiner or word[0].isdigit():
            salient.append(word)
    if not salient:
        return question
    return f"{question} ({' '.join(salient)})"


def standalone_question(
    question: str, history: list[dict[str, str]], chat: BaseChatModel | None
) -> str:
    """The question to search with: ``question`` made standalone from ``history``.

    A model with a large context rewrites it (:func:`condense_with_model`). The
    rule does it without a model, and for a small local model too: a rewrite costs
    the local model about 3 s before the answer can start, and on MTRAG's
    follow-up turns the rule's query retrieves as well as people's own rewrites
    (R@5 0.598 against 0.585, ``qa eval chat --retrieval-only``).
    """
    if not history:
        return question
    if chat is None or budget_for(chat) is SMALL_BUDGET:
        return condense_rule_based(question, history)
    return condense_with_model(question, history, chat)


def condense_with_model(
    question: str, history: list[dict[str, str]], chat: BaseChatModel
) -> str:
    """The model's standalone rewrite of ``question``; the rule's when the rewrite is unusable.

    The model sees the earlier user questions and the last answer, cut short
    (:func:`~qa.answer.prompts.condense_context`), so the rewrite costs little
    time. A rewrite keeps every word the user typed: content words it dropped are
    appended. An error of the model is not hidden: it is raised, as the answer
    would fail the same way.
    """
    if not any(m.get("role") == "user" for m in history):
        return question
    chain = CONDENSE_PROMPT | _bounded(chat) | StrOutputParser()
    raw = chain.invoke({"history": condense_context(history), "question": question})
    lines = [ln.strip() for ln in raw.strip().splitlines() if ln.strip()]
    rewrite = re.sub(r"^(rewritten question|question|standalone question)\s*:\s*", "",
                     lines[0] if lines else "", flags=re.I).strip().strip('"')
    if not rewrite or len(rewrite) > 3 * len(question) + 200 or _adds_nothing(question, rewrite):
        log.info("unusable rewrite %r of %r; using the rule", rewrite, question)
        return condense_rule_based(question, history)
    rewrite = keep_user_words(question, rewrite)
    log.info("condensed %r -> %r", question, rewrite)
    return rewrite


def keep_user_words(question: str, rewrite: str) -> str:
    """``rewrite`` with the content words of ``question`` it lost appended.

    >>> keep_user_words("And the Roth IRA limits?", "What are the contribution limits?")
    'What are the contribution limits? (Roth IRA)'
    """
    have = {_root(w) for w in content_words(rewrite)}
    lost = [w for w in _WORD.findall(question)
            if _root(stem(w)) not in have and content_words(w, question=True)]
    lost = list(dict.fromkeys(lost))
    return f"{rewrite} ({' '.join(lost)})" if lost else rewrite


def _root(stemmed: str) -> str:
    """A stem without a final "e", so "invite" and "invited" ("invit") meet."""
    return stemmed[:-1] if len(stemmed) > 4 and stemmed.endswith("e") else stemmed


def _adds_nothing(question: str, rewrite: str) -> bool:
    """Whether a rewrite of a follow-up only repeats it (the model echoed the question).

    >>> _adds_nothing("And in February?", "And in February?")
    True
    >>> _adds_nothing("And in February?", "Which countries attended the Moscow talks in February?")
    False
    >>> _adds_nothing("Who founded the Normans?", "Who founded the Normans?")
    False
    """
    if not needs_history(question):
        return False
    own = {stem(w) for w in content_words(question, question=True)}
    return {stem(w) for w in content_words(rewrite, question=True)} <= own


def _bounded(chat: BaseChatModel) -> BaseChatModel:
    if traits_of(chat).speed == "slow":  # a rewritten question needs no more on a slow model
        return chat.bind(max_tokens=60)  # type: ignore[return-value]
    return chat
