"""The LLM gateway over real local models: counting, caching, budgets, schema-constrained JSON."""

import time

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from kgsolver.connectors import BudgetExceeded
from kgsolver.connectors.llms.gateway import Budget, parse_json_reply

pytestmark = pytest.mark.llm


class Capital(BaseModel):
    country: str
    capital: str


def test_counts_tokens_and_caches_by_content(smollm):
    session = smollm.session(Budget(max_llm_calls=5))
    messages = [HumanMessage(f"Say hello. ({time.time_ns()})")]
    first = session.chat(messages, purpose="smoke", max_tokens=8)
    second = session.chat(messages, purpose="smoke", max_tokens=8)
    assert first.usage.prompt_tokens > 5 and 0 < first.usage.completion_tokens <= 8
    assert (first.usage.cache_hits, second.usage.cache_hits) == (0, 1)
    assert second.text == first.text
    assert session.usage.llm_calls == 2
    assert session.usage.prompt_tokens == 2 * first.usage.prompt_tokens


def test_call_budget_is_enforced_before_the_call(smollm):
    session = smollm.session(Budget(max_llm_calls=1))
    session.chat([HumanMessage("Count to three.")], purpose="one", max_tokens=8)
    with pytest.raises(BudgetExceeded, match="LLM call budget of 1"):
        session.chat([HumanMessage("Count to four.")], purpose="two", max_tokens=8)
    assert session.usage.llm_calls == 1


def test_token_and_time_budgets(smollm):
    session = smollm.session(Budget(max_llm_calls=None, max_tokens=10))
    session.chat([HumanMessage("Name a colour.")], purpose="tokens", max_tokens=8)
    with pytest.raises(BudgetExceeded, match="token budget"):
        session.chat([HumanMessage("Name a fruit.")], purpose="tokens", max_tokens=8)
    slow = smollm.session(Budget(max_seconds=0.0))
    with pytest.raises(BudgetExceeded, match="time budget"):
        slow.chat([HumanMessage("Hi")], purpose="time")


def test_schema_constrained_json_from_the_small_qwen(qwen05):
    session = qwen05.session()
    reply, raw = session.chat_json(
        [SystemMessage("Reply in JSON."), HumanMessage("What is the capital of France?")], Capital, purpose="json",
        max_tokens=40)
    assert reply.capital.lower() == "paris"
    assert raw.usage.llm_calls == 1


def test_defensive_parser_accepts_fenced_and_embedded_json():
    assert parse_json_reply('```json\n{"country": "Peru", "capital": "Lima"}\n```', Capital).capital == "Lima"
    chatty = 'Sure! {"country": "Chad", "capital": "N\'Djamena"} hope it helps'
    assert parse_json_reply(chatty, Capital).country == "Chad"
    with pytest.raises(ValueError):
        parse_json_reply("no json here", Capital)


@pytest.mark.parametrize("schema", [None, Capital], ids=["text", "json-schema"])
def test_streamed_reply_counts_like_an_invoked_one_and_a_cached_one_streams_whole(qwen05, schema):
    """`on_token` streams the reply as llama.cpp generates it: several pieces, the same text and the same token
    counts as the non-streamed call; the cached reply then arrives as one piece and is still counted."""
    messages = [HumanMessage(f"Name the capital of France and one sight there. ({time.time_ns()})")]
    json_schema = schema.model_json_schema() if schema else None
    invoked = qwen05.backend.model.invoke(messages, max_tokens=40, **(
        {"response_format": qwen05._response_format(json_schema)} if schema else {}))
    pieces: list[tuple[str, str]] = []
    session = qwen05.session(on_token=lambda purpose, text: pieces.append((purpose, text)))
    before = qwen05.total.model_copy()
    reply = session.chat(messages, purpose="streamed", max_tokens=40, schema=json_schema)
    assert len(pieces) > 1 and {p for p, _ in pieces} == {"streamed"}
    assert "".join(t for _, t in pieces) == reply.text == invoked.content
    meta = invoked.usage_metadata
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (meta["input_tokens"], meta["output_tokens"])
    assert reply.usage.cache_hits == 0 and qwen05.total.llm_calls == before.llm_calls + 1
    assert qwen05.total.completion_tokens == before.completion_tokens + meta["output_tokens"]
    pieces.clear()
    again = session.chat(messages, purpose="streamed", max_tokens=40, schema=json_schema)
    assert pieces == [("streamed", reply.text)] and again.usage.cache_hits == 1
    assert again.usage.completion_tokens == reply.usage.completion_tokens and session.usage.llm_calls == 2
