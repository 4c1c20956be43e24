"""Prompt heads evaluated once per process: llama.cpp KV reuse across the calls of a question and across questions.

A call's head is the part of its prompt that other calls of the same kind share: the chat-template tokens of every
message before the last one (the system prompt, fixed example turns), cut back to a line end. The head's KV cells are
computed once, kept as llama.cpp's per-sequence state bytes, and restored before each later call with that head; only
the rest of the prompt is evaluated.

A reply must not depend on what the process answered before. So a head is always evaluated alone into an empty
context, and restored into an empty context: either way the cells the call's own tokens attend to hold the same bytes
in the same places, and the reply is the one a fresh process gives (tests/integration/test_llm_prefix.py checks it).
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any


class PrefixCache:
    """The KV state of recent prompt heads of one llama.cpp context, least recently used evicted first."""

    def __init__(self) -> None:
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @property
    def bytes(self) -> int:
        return sum(len(state) for state in self._states.values())

    def prime(self, client: Any, head: Sequence[int], max_bytes: int) -> None:
        """Leave exactly `head` evaluated in the context of `client` (a llama_cpp.Llama): restored when cached, else
        evaluated from an empty context and kept. llama-cpp-python's `generate` then finds the head as the prompt's
        cached prefix and evaluates the rest only."""
        import llama_cpp

        client.reset()
        _clear(client)  # an empty context: the head's cells are placed from the first one, both ways
        if not head:
            return
        key = tuple(head)
        state = self._states.get(key)
        ctx = client._ctx.ctx
        if state is not None:
            buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
            if llama_cpp.llama_state_seq_set_data(ctx, buffer, len(state), 0) == len(state):
                self._states.move_to_end(key)
                self.hits += 1
                client.input_ids[: len(head)] = head
                client.n_tokens = len(head)
                client._requires_eval = True  # sample only after the rest of the prompt is decoded
                return
            _clear(client)  # a state this context cannot take: evaluate the head instead
            del self._states[key]
        self.misses += 1
        client.eval(list(head))
        size = llama_cpp.llama_state_seq_get_size(ctx, 0)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(ctx, buffer, size, 0)
        if 0 < written <= max_bytes:
            self._states[key] = bytes(buffer)[:written]
            while self.bytes > max_bytes:
                self._states.popitem(last=False)


def _clear(client: Any) -> None:
    """Every cell free, and the next ones placed from the first. The cells' bytes stay (clearing them would write the
    whole cache, 117 MB for the 1.5B at 4096): a free cell is masked out of attention, so what it holds adds nothing."""
    import llama_cpp

    memory = llama_cpp.llama_get_memory(client._ctx.ctx)
    if memory is not None:
        llama_cpp.llama_memory_clear(memory, False)

