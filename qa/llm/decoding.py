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
) -> Iterator[Step]:
    """Generate up to ``max_tokens`` tokens after ``prompt``, one :class:`Step` each.

    Stops before a token of ``stop_tokens`` (end of turn). ``top_logprobs`` > 0
    fills each step's ``top`` with that many best alternatives. ``outcome``, if
    given, is filled in as the run goes. ``logit_bias`` (token id -> added
    logit, as OpenAI's; -100 bans a token) steers the choice of tokens; the
    reported log-probabilities are the model's own, before the bias.

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
    for _ in range(max_tokens):
        logits = _logits(llama)
        steered = logits.copy()
        if len(bias_ids):
            steered[bias_ids] += bias_values
        if temperature > 0:
            probs = np.exp(_log_softmax(steered / temperature))
            token = int(rng.choice(len(probs), p=probs))
        else:
            token = int(np.argmax(steered))
        if token in stop_tokens:
            outcome.finish_reason = "stop"
            return
        logprobs = _log_softmax(logits)
        top: list[tuple[str, float]] = []
        if top_logprobs > 0:
            best = np.argpartition(-logprobs, top_logprobs)[:top_logprobs]
            best = best[np.argsort(-logprobs[best])]
            top = [(piece(llama, int(t)), float(logprobs[t])) for t in best]
        outcome.completion_tokens += 1
        yield Step(text_of.decode(llama.detokenize([token], special=False)), token,
                   float(logprobs[token]), top)
        llama.eval([token])
    outcome.finish_reason = "length"


def piece(llama: Llama, token: int) -> str:
    """The text of one token on its own (a partial character shows as U+FFFD)."""
    return llama.detokenize([token], special=False).decode("utf-8", errors="replace")
