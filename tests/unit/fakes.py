"""The one fake LLM of the unit tests: a small chat model behind the real gateway (`LLMGateway`), so a test exercises
the same counting, budgets and JSON parsing as a real question, with replies the test writes.

    session = fake_session(lambda messages: '{"answer": "Paris", "passages": [1]}')
    session = fake_session(replies("first reply", {"answer": "second"}))          # in turn

A reply rule gets the messages of a call and returns the reply's text (JSON where the caller asks for a schema, which
the backend is given as a constrained-output backend is: `Call.schema`); every call is recorded in `FakeChat.calls`, and
its purpose in `FakeGateway.purposes`. Each reply counts 10 prompt and 5 completion tokens.

`HashingEmbedder` is the fake at the embedding seam: no model to load, vectors close where texts share words."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from pydantic import ConfigDict, Field

from kgsolver.connectors.llms import Budget
from kgsolver.connectors.llms.gateway import LLMGateway, LLMReply, LLMSession

Reply = Callable[[list[BaseMessage]], str]
PROMPT_TOKENS, COMPLETION_TOKENS = 10, 5


@dataclass
class Call:
    messages: list[BaseMessage]
    max_tokens: int | None
    schema: dict | None  # the JSON schema the reply was constrained to (a chat_json call)
    reply: str


class FakeChat(BaseChatModel):
    """Replies by the test's rule (messages -> text) and records each call."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    rule: Any  # Reply (a callable; pydantic keeps it as is)
    calls: list[Call] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "fake-chat"

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None, run_manager: Any = None,
                  **kwargs: Any) -> ChatResult:
        text = self.rule(messages)
        schema = (kwargs.get("response_format") or {}).get("json_schema", {}).get("schema")
        self.calls.append(Call(list(messages), kwargs.get("max_tokens"), schema, text))
        usage = {"input_tokens": PROMPT_TOKENS, "output_tokens": COMPLETION_TOKENS,
                 "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS}
        return ChatResult(generations=[ChatGeneration(message=AIMessage(text, usage_metadata=usage))])


def replies(*texts: str | dict) -> Reply:
    """The replies in turn (a dict is sent as its JSON); a call past the last one fails the test."""
    queue: Iterator[str | dict] = iter(texts)

    def rule(messages: list[BaseMessage]) -> str:
        reply = next(queue)
        return reply if isinstance(reply, str) else json.dumps(reply)

    return rule


def always(reply: str | dict) -> Reply:
    """The same reply to every call (a dict is sent as its JSON)."""
    text = reply if isinstance(reply, str) else json.dumps(reply)
    return lambda messages: text


class FakeGateway(LLMGateway):
    """The real gateway (no response cache) over a FakeChat that answers by `rule`; it also lists each call's
    purpose, in order."""

    def __init__(self, rule: Reply) -> None:
        from kgsolver.connectors.llms.factory import ChatBackend  # not on import: test_modes_e2e counts imports

        super().__init__(ChatBackend(FakeChat(rule=rule), "fake-chat", "openai-schema"), None)
        self.purposes: list[str] = []

    def call(self, messages: list[BaseMessage], *, purpose: str, **kwargs: Any) -> LLMReply:
        self.purposes.append(purpose)
        return super().call(messages, purpose=purpose, **kwargs)


def fake_gateway(rule: Reply) -> FakeGateway:
    return FakeGateway(rule)


def fake_session(rule: Reply, budget: Budget | None = None) -> LLMSession:
    return fake_gateway(rule).session(budget or Budget(max_llm_calls=None, max_tokens=None, max_seconds=None))


def chat_of(session: LLMSession) -> FakeChat:
    model = session.gateway.backend.model
    assert isinstance(model, FakeChat)
    return model


def purposes(session: LLMSession) -> list[str]:
    """The purposes of the calls made through the session's fake gateway, in order."""
    assert isinstance(session.gateway, FakeGateway)
    return session.gateway.purposes


class HashingEmbedder:
    """Bag of lower-cased words hashed into 64 dimensions, normalised: shared words make vectors close."""

    name, dimensions = "test-hashing-64", 64

    def encode(self, texts: Sequence[str], *, batch_size: int | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimensions] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)

    def count_tokens(self, text: str) -> int:
        return len(text.split())
