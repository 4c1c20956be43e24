"""The LLM gateway over real local models: counting, caching, budgets, schema-constrained JSON."""

import time

import pytest
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel

from kgsolver.connectors.errors import BudgetExceeded
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
    assert parse_json_reply('Sure! {"country": "Chad", "capital": "N\'Djamena"} hope it helps', Capital).country == "Chad"
    with pytest.raises(ValueError):
        parse_json_reply("no json here", Capital)
