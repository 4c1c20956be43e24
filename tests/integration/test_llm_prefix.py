"""Prompt-head KV reuse (connectors/llms/llama_prefix.py) with the real 0.5B: the head is evaluated once and restored
after, and a reply is the same whatever the process answered before, with a JSON schema or without."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from kgsolver.connectors.llms.factory import build_chat_backend
from kgsolver.connectors.llms.llama_prefix import PrefixCache
from kgsolver.connectors.llms.llamacpp_chat import _PREFIXES

SYSTEM = ("You answer questions about animals in one short sentence. Reply in JSON with the key \"answer\". "
          "Be exact and brief; say \"unknown\" when you do not know.")
OTHER_SYSTEM = "You translate English words into French. Reply with the French word only."
SCHEMA = {"type": "json_object", "schema": {"type": "object", "properties": {"answer": {"type": "string"}},
                                            "required": ["answer"]}}
QUESTIONS = ["Which animal is the largest mammal?", "How many legs does a spider have?", "What do pandas eat?"]


def chat(system: str, question: str) -> list:
    return [SystemMessage(system), HumanMessage(question)]


@pytest.fixture(scope="module")
def models(config):
    """The same loaded context behind two chat models: prefix cache off and on."""
    off = build_chat_backend(config.llm.model_copy(update={"prefix_cache_mb": 0}), config.cache_dir).model
    on = build_chat_backend(config.llm.model_copy(update={"prefix_cache_mb": 16}), config.cache_dir).model
    assert off._client()[0] is on._client()[0]  # one context per process: what one call leaves, the next finds
    return off, on


def reply(model, messages, **kwargs) -> str:
    return str(model.invoke(messages, **kwargs).content)


@pytest.mark.llm
def test_a_reply_does_not_depend_on_what_the_process_answered_before(models):
    off, on = models
    cache = _PREFIXES.setdefault(id(on._client()[0]), PrefixCache())
    cache._states.clear()
    first = {q: reply(on, chat(SYSTEM, q), response_format=SCHEMA) for q in QUESTIONS}  # head evaluated, then restored
    assert cache.misses >= 1 and cache.hits >= len(QUESTIONS) - 1
    reply(off, chat(OTHER_SYSTEM, "cat"))  # another head and a context left full by a call without the cache
    reply(on, chat(OTHER_SYSTEM, "dog"))
    again = {q: reply(on, chat(SYSTEM, q), response_format=SCHEMA) for q in reversed(QUESTIONS)}
    assert again == first
    cache._states.clear()  # a process that never saw the head: evaluates it, and replies the same
    assert reply(on, chat(SYSTEM, QUESTIONS[1]), response_format=SCHEMA) == first[QUESTIONS[1]]


@pytest.mark.llm
def test_the_head_is_the_system_turn_and_the_rest_is_evaluated_per_call(models, monkeypatch):
    _, on = models
    client = on._client()[0]
    cache = _PREFIXES.setdefault(id(client), PrefixCache())
    cache._states.clear()
    reply(on, chat(SYSTEM, QUESTIONS[0]), max_tokens=4)
    (head,) = cache._states  # one head kept: the system turn, ending at a line end, short of the user's turn
    text = client.detokenize(list(head), special=True).decode()
    assert text.startswith("<|im_start|>system\n" + SYSTEM) and text.endswith("<|im_end|>\n")
    assert QUESTIONS[0] not in text
    evaluated: list[int] = []  # the prompt tokens decoded by the next call: its own, never the head's again
    original = client.eval
    monkeypatch.setattr(client, "eval", lambda tokens: (evaluated.append(len(tokens)), original(tokens))[1])
    out = on.invoke(chat(SYSTEM, QUESTIONS[1]), max_tokens=1)
    assert 0 < evaluated[0] == out.usage_metadata["input_tokens"] - len(head)
    single = [HumanMessage(QUESTIONS[0])]  # no turn before the last: nothing to keep
    reply(on, single, max_tokens=4)
    assert len(cache._states) == 1
