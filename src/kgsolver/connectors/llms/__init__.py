"""LLM backends. Every backend is a LangChain chat model; `gateway.LLMGateway` is the one place that calls them.

The per-question LLM budget (`Budget`), a plain settings model, is defined here rather than beside the gateway, so
that reading the configuration (`kgsolver --help`, pipeline/config.py) does not import LangChain."""

from __future__ import annotations

from pydantic import BaseModel


class Budget(BaseModel):
    """Hard per-question limits; None means unlimited."""

    max_llm_calls: int | None = 6
    max_tokens: int | None = 20_000
    max_seconds: float | None = 300.0
