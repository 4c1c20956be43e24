"""Greedy grammar-constrained decoding that asks the grammar about the chosen token only.

llama-cpp-python puts a reply's JSON-schema grammar in its sampler chain, and the chain runs the grammar over every
token of the vocabulary (151,936 for Qwen) at every step. With greedy decoding the constrained choice is the
unconstrained argmax whenever the grammar accepts that token (the first maximum of the whole vocabulary is the first
maximum of any subset holding it), so the grammar need only check that one token, and constrain the whole vocabulary
only when it refuses it. llama.cpp's own sampler (`common_sampler_sample`) does the same. The reply is the same,
token for token; `tests/integration/test_llm_grammar.py` checks it.
"""

from __future__ import annotations

import ctypes
import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

# "chosen": the grammar checks the greedy choice (this module); "vocabulary": llama-cpp-python's own chain.
GrammarCheck = Literal["chosen", "vocabulary"]


def _greedy(options: dict[str, Any]) -> bool:
    """Whether the chain llama-cpp-python builds from these sampling options picks the argmax of the raw logits."""
    return (options.get("temp") == 0.0 and options.get("repeat_penalty", 1.0) == 1.0
            and options.get("frequency_penalty", 0.0) == 0.0 and options.get("presence_penalty", 0.0) == 0.0
            and options.get("logits_processor") is None)


@contextmanager
def lazy_grammar(client: Any) -> Iterator[None]:
    """For the calls made inside, a greedy completion's grammar checks the chosen token only (the whole vocabulary is
    constrained where it refuses it). Sampling other than greedy keeps llama-cpp-python's own path. The caller holds
    the context's lock."""
    import llama_cpp

    grammars: list[Any] = []  # the current completion's grammar sampler, when its chain is greedy

    def free_grammars() -> None:
        for grammar in grammars:
            llama_cpp.llama_sampler_free(grammar)
        grammars.clear()

    init_sampler, sample = client._init_sampler, client.sample

    def lazy_init_sampler(*args: Any, grammar: Any = None, **options: Any) -> Any:
        free_grammars()  # a new completion: the last one's sampler is done
        if grammar is not None and _greedy(options):
            grammars.append(llama_cpp.llama_sampler_init_grammar(
                client._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")))
            grammar = None  # the chain: (neutral) penalties and greedy only
        return init_sampler(*args, grammar=grammar, **options)

    def lazy_sample(*args: Any, idx: int | None = None, **options: Any) -> int:
        token: int = sample(*args, idx=idx, **options)
        if not grammars:
            return token
        if not _accepts(grammars[0], token):
            token = _constrained_argmax(client, grammars[0], -1 if idx is None else idx - client.n_tokens)
        llama_cpp.llama_sampler_accept(grammars[0], token)
        return token

    client._init_sampler, client.sample = lazy_init_sampler, lazy_sample
    try:
        yield
    finally:
        del client._init_sampler, client.sample  # the class's methods again
        free_grammars()


def _accepts(grammar: Any, token: int) -> bool:
    import llama_cpp

    single = llama_cpp.llama_token_data(token, 1.0, 0.0)
    candidates = llama_cpp.llama_token_data_array(ctypes.pointer(single), 1, -1, False)
    llama_cpp.llama_sampler_apply(grammar, ctypes.byref(candidates))
    return not math.isinf(single.logit)


def _constrained_argmax(client: Any, grammar: Any, row: int) -> int:
    """The grammar applied to the whole vocabulary at logits row `row` (negative: from the last), then the argmax:
    what the chain with the grammar in it returns."""
    import llama_cpp
    import numpy as np

    n_vocab = client.n_vocab()
    logits = np.ctypeslib.as_array(client._ctx.get_logits_ith(row), shape=(n_vocab,))
    data = (llama_cpp.llama_token_data * n_vocab)()
    view = np.ctypeslib.as_array(data)
    view["id"], view["logit"], view["p"] = np.arange(n_vocab), logits, 0.0
    candidates = llama_cpp.llama_token_data_array(data, n_vocab, -1, False)
    llama_cpp.llama_sampler_apply(grammar, ctypes.byref(candidates))
    return int(view["id"][int(np.argmax(view["logit"]))])
