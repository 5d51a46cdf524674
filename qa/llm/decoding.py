"""Token-by-token decoding on a loaded ``llama_cpp.Llama``, with log-probabilities.

llama-cpp-python only returns log-probabilities when the model keeps the logits
of every prompt position (``logits_all=True``: 151,936 floats per token of
context, over 1 GB at 2,048 tokens, and slower prompt processing). The answer
chain needs them only for the tokens it generates, so :func:`decode` runs the
loop itself: it feeds the prompt, reads the last position's logits after each
step, picks the next token (greedy, or sampled at a temperature) and reports
each token's log-probability and its top alternatives, in the shape OpenAI's
``logprobs`` use (``{"token", "logprob", "top_logprobs": [...]}``).

Like ``Llama.generate`` it reuses the longest token prefix the context already
holds from the previous call, so a fixed system prompt, or a second question
about the same passages, costs only the tokens that differ.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from llama_cpp import Llama


@dataclass
class Step:
    """One generated piece: its text (possibly "" while a character is incomplete)."""

    text: str
    token: int
    logprob: float
    top: list[tuple[str, float]] = field(default_factory=list)

    def logprob_entry(self) -> dict[str, Any]:
        """This step in OpenAI's ``logprobs.content[i]`` shape."""
        return {
            "token": self.text,
            "logprob": self.logprob,
            "top_logprobs": [{"token": t, "logprob": lp} for t, lp in self.top],
        }


@dataclass
class Outcome:
    """How a :func:`decode` run ended: ``finish_reason`` is "stop" or "length"."""

    prompt_tokens: int = 0
    cached_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "length"
    #: Of the completion tokens, how many came from accepted drafts (see :func:`decode`).
    drafted_tokens: int = 0


def reuse_prefix(llama: Llama, tokens: Sequence[int]) -> int:
    """Keep the longest prefix of ``tokens`` already in the context; return its length.

    At least one token is always left to evaluate, so there are fresh logits to read.
    """
    cached = llama.input_ids[: llama.n_tokens]
    limit = min(len(cached), len(tokens) - 1)
    same = 0
    while same < limit and cached[same] == tokens[same]:
        same += 1
    if same < llama.n_tokens and not llama._ctx.kv_cache_seq_rm(-1, same, -1):
        same = 0  # this context cannot drop a suffix: start over
        llama.reset()
    llama.n_tokens = same
    return same


def _logits(llama: Llama) -> np.ndarray:
    ptr = llama._ctx.get_logits_ith(-1)
    return np.ctypeslib.as_array(ptr, shape=(llama.n_vocab(),)).astype(np.float64)


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    return shifted - np.log(np.exp(shifted).sum())


#: The most tokens a draft proposes (see :func:`draft`). Checking a few proposed
#: tokens in one batch costs less than generating them one by one, and a wrong guess
#: costs its share of the batch: drafts start short, double while all their tokens are
#: kept and shrink to what was kept after a miss.
DRAFT_TOKENS = 4
#: The n-grams a draft is looked up by, longest first.
DRAFT_NGRAMS = (3, 2)


def decode(
    llama: Llama,
    prompt: Sequence[int],
    max_tokens: int,
    *,
    stop_tokens: frozenset[int] = frozenset(),
    temperature: float = 0.0,
    top_logprobs: int = 0,
    outcome: Outcome | None = None,
    seed: int | None = None,
    logit_bias: dict[int, float] | None = None,
    draft_tokens: int = DRAFT_TOKENS,
) -> Iterator[Step]:
    """Generate up to ``max_tokens`` tokens after ``prompt``, one :class:`Step` each.

    Stops before a token of ``stop_tokens`` (end of turn). ``top_logprobs`` > 0
    fills each step's ``top`` with that many best alternatives. ``outcome``, if
    given, is filled in as the run goes. ``logit_bias`` (token id -> added
    logit, as OpenAI's; -100 bans a token) steers the choice of tokens; the
    reported log-probabilities are the model's own, before the bias.

    Greedy decoding (``temperature`` 0) speculates: after each token it checks up
    to ``draft_tokens`` tokens that followed the same words earlier in the prompt
    or the answer (:func:`draft`) in one batch, and keeps those the model would
    have chosen itself. Answers quote their passages, so many are kept; the
    tokens are the model's own choices either way.

    Raises:
        ValueError: the prompt and ``max_tokens`` do not fit the context
            ("... exceeds context window ...", as llama-cpp-python says).
    """
    outcome = outcome if outcome is not None else Outcome()
    outcome.prompt_tokens = len(prompt)
    if not prompt:
        raise ValueError("the prompt is empty")
    if len(prompt) + max_tokens > llama.n_ctx():
        raise ValueError(
            f"Requested tokens ({len(prompt)} + {max_tokens}) exceed context window of "
            f"{llama.n_ctx()}"
        )
    outcome.cached_tokens = reuse_prefix(llama, prompt)
    llama.eval(list(prompt[outcome.cached_tokens:]))
    rng = np.random.default_rng(seed)
    text_of = codecs.getincrementaldecoder("utf-8")(errors="replace")
    bias_ids = np.array(list((logit_bias or {}).keys()), dtype=np.int64)
    bias_values = np.array(list((logit_bias or {}).values()), dtype=np.float64)
    speculate = temperature <= 0 and draft_tokens > 0

    def choose(logits: np.ndarray) -> int:
        steered = logits
        if len(bias_ids):
            steered = logits.copy()
            steered[bias_ids] += bias_values
        if temperature > 0:
            probs = np.exp(_log_softmax(steered / temperature))
            return int(rng.choice(len(probs), p=probs))
        return int(np.argmax(steered))

    def step(token: int, logits: np.ndarray) -> Step:
        logprobs = _log_softmax(logits)
        top: list[tuple[str, float]] = []
        if top_logprobs > 0:
            best = np.argpartition(-logprobs, top_logprobs)[:top_logprobs]
            best = best[np.argsort(-logprobs[best])]
            top = [(piece(llama, int(t)), float(logprobs[t])) for t in best]
        outcome.completion_tokens += 1
        return Step(text_of.decode(llama.detokenize([token], special=False)), token,
                    float(logprobs[token]), top)

    history = list(prompt)
    logits = _logits(llama)
    size = min(2, draft_tokens)
    while outcome.completion_tokens < max_tokens:
        token = choose(logits)
        if token in stop_tokens:
            outcome.finish_reason = "stop"
            return
        yield step(token, logits)
        history.append(token)
        left = max_tokens - outcome.completion_tokens
        proposed = draft(history, min(size, left)) if speculate and left else []
        start = llama.n_tokens
        rows = _eval_rows(llama, [token, *proposed])
        kept = 0
        for guess, row in zip(proposed, rows, strict=False):
            if choose(row) != guess:
                break
            if guess in stop_tokens:
                _truncate(llama, start + 1 + kept)
                outcome.finish_reason = "stop"
                return
            kept += 1
            outcome.drafted_tokens += 1
            yield step(guess, row)
            history.append(guess)
        _truncate(llama, start + 1 + kept)
        logits = rows[kept]
        if proposed:
            size = min(draft_tokens, 2 * size) if kept == len(proposed) else max(1, kept)
    outcome.finish_reason = "length"


def draft(history: Sequence[int], limit: int, ngrams: Sequence[int] = DRAFT_NGRAMS,
          ) -> list[int]:
    """Up to ``limit`` tokens that followed the latest earlier occurrence of the last
    few tokens of ``history`` (prompt lookup decoding).

    >>> draft([5, 6, 7, 8, 9, 1, 5, 6, 7], 3)
    [8, 9, 1]
    >>> draft([1, 2, 3], 3)
    []
    """
    for n in ngrams:
        if len(history) <= n:
            continue
        tail = list(history[-n:])
        for at in range(len(history) - n - 1, -1, -1):
            if history[at] == tail[0] and list(history[at:at + n]) == tail:
                return list(history[at + n:at + n + limit])
    return []


def _eval_rows(llama: Llama, tokens: list[int]) -> np.ndarray:
    """Evaluate ``tokens`` in one batch; the logits after each of them, one row each."""
    start = llama.n_tokens
    llama._ctx.kv_cache_seq_rm(-1, start, -1)
    llama._batch.set_batch(batch=tokens, n_past=start, logits_all=True)
    llama._ctx.decode(llama._batch)
    llama.input_ids[start:start + len(tokens)] = tokens
    llama.n_tokens = start + len(tokens)
    out = np.ctypeslib.as_array(llama._ctx.get_logits(), shape=(len(tokens), llama.n_vocab()))
    return out.astype(np.float64)


def _truncate(llama: Llama, n_tokens: int) -> None:
    """Forget what the context holds after its first ``n_tokens`` tokens."""
    if n_tokens < llama.n_tokens:
        llama._ctx.kv_cache_seq_rm(-1, n_tokens, -1)
        llama.n_tokens = n_tokens


def piece(llama: Llama, token: int) -> str:
    """The text of one token on its own (a partial character shows as U+FFFD)."""
    return llama.detokenize([token], special=False).decode("utf-8", errors="replace")
