"""Greedy JSON-schema replies with the grammar checking the chosen token only (connectors/llms/llama_grammar.py),
with the real 0.5B: the same reply, token for token, as llama-cpp-python's own chain that runs the grammar over the
whole vocabulary at every step, including replies where the grammar refuses the model's first choice."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage, SystemMessage

from kgsolver.connectors.llms import llama_grammar
from kgsolver.connectors.llms.factory import build_chat_backend

SCHEMA = {"type": "json_object", "schema": {
    "type": "object", "properties": {"answer": {"type": "string"}, "confidence": {"type": "integer"},
                                     "sources": {"type": "array", "items": {"type": "integer"}}},
    "required": ["answer", "confidence", "sources"]}}
# The last two ask for prose and for another key order: the model's own first tokens break the schema, and the
# grammar has to constrain the whole vocabulary there.
CHATS = [
    ("Reply in JSON with the keys answer, confidence (1-5) and sources (passage numbers).",
     "[1] Paris is the capital of France. [2] Lyon is in France.\nWhat is the capital of France?"),
    ("Reply in JSON with the keys answer, confidence (1-5) and sources (passage numbers).",
     "[1] The Nile flows north.\nWhich river is longest in Europe?"),
    ("You are a poet. Write a short poem.", "Write four lines about the sea."),
    ("Reply in JSON with the keys sources first, then answer.", "[3] Water boils at 100 C.\nWhen does water boil?"),
]


@pytest.fixture(scope="module")
def models(config):
    """The same loaded context behind two chat models: the grammar over the vocabulary, and on the chosen token."""
    settings = config.llm.model_copy(update={"prefix_cache_mb": 0})
    vocabulary = build_chat_backend(settings.model_copy(update={"grammar_check": "vocabulary"}),
                                    config.cache_dir).model
    chosen = build_chat_backend(settings.model_copy(update={"grammar_check": "chosen"}), config.cache_dir).model
    return vocabulary, chosen


def reply(model, system: str, question: str, stream: bool = False) -> str:
    messages = [SystemMessage(system), HumanMessage(question)]
    if stream:
        return "".join(str(chunk.content) for chunk in model.stream(messages, response_format=SCHEMA, max_tokens=40))
    return str(model.invoke(messages, response_format=SCHEMA, max_tokens=40).content)


@pytest.mark.llm
def test_a_reply_is_the_same_as_with_the_grammar_over_the_whole_vocabulary(models, monkeypatch):
    vocabulary, chosen = models
    calls = {"checked": 0, "constrained": 0}

    def counting(name, function):
        def counted(*args):
            calls[name] += 1
            return function(*args)
        return counted

    monkeypatch.setattr(llama_grammar, "_accepts", counting("checked", llama_grammar._accepts))
    monkeypatch.setattr(llama_grammar, "_constrained_argmax",
                        counting("constrained", llama_grammar._constrained_argmax))
    for number, (system, question) in enumerate(CHATS):
        before = calls["checked"]
        expected = reply(vocabulary, system, question)
        assert calls["checked"] == before  # the library's own chain
        assert reply(chosen, system, question, stream=number == 0) == expected  # invoke, and stream once
    # both paths taken: the model's choice accepted, and refused (then the whole vocabulary constrained)
    assert calls["checked"] > 0 and 0 < calls["constrained"] < calls["checked"]
