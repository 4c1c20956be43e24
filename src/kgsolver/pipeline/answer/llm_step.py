"""The one way an LLM step fails soft: a spent budget or an unparsable reply (`LLMStepFailed`) becomes one trace step,
and the caller's fallback stands in for the reply."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from kgsolver.connectors.errors import LLMStepFailed

if TYPE_CHECKING:
    from kgsolver.pipeline.answer.results import Tracer

T = TypeVar("T")
F = TypeVar("F")


def llm_step(call: Callable[[], T], fallback: F, *, tracer: Tracer | None = None, tool: str = "llm",
             input: Any = None, failure: str = "failed", started: float | None = None) -> T | F:
    """`call()`, or `fallback` when it raises `LLMStepFailed`; the failure is traced as `tool` with the decision
    "<failure>: <why>" (a tracer of None records nothing)."""
    started = time.perf_counter() if started is None else started
    try:
        return call()
    except LLMStepFailed as exc:
        if tracer is not None:
            tracer.record(tool, input, None, decision=f"{failure}: {exc}", started=started)
        return fallback
