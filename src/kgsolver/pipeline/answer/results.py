"""The shape of an answer: what `kgsolver ask --json`, the Python API and the HTTP API return (keep fields stable),
the trace its steps are recorded on (`Tracer`), and the one way an LLM step fails soft onto that trace (`llm_step`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Literal, TypeVar

from langchain_core.documents import Document
from pydantic import BaseModel, Field

from kgsolver.connectors import LLMStepFailed
from kgsolver.connectors.llms.gateway import LLMSession, Usage


class Citation(BaseModel):
    doc_id: str
    title: str


class Evidence(BaseModel):
    doc_id: str
    title: str
    text: str
    score: float
    chunk_id: str | None = None
    source: str = "context"  # which retriever or tool produced it
    kept: bool = True  # False: the answer was not generated from it (`removed_by` says why)
    removed_by: str | None = None  # the filter that removed it, or "rank" when the mode ranked it below the answer cut

    @classmethod
    def from_document(cls, document: Document, *, kept: bool = True, removed_by: str | None = None) -> Evidence:
        meta = document.metadata
        return cls(doc_id=meta["doc_id"], title=meta.get("title", ""), text=document.page_content,
                   score=meta.get("score", 0.0), chunk_id=meta.get("chunk_id"), source=meta.get("retriever", "context"),
                   kept=kept, removed_by=removed_by)


class TraceStep(BaseModel):
    step: int
    tool: str
    input: Any = None
    output: Any = None
    decision: str | None = None
    tokens: int = 0  # prompt_tokens + completion_tokens
    seconds: float = 0.0
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Preference(BaseModel):
    """Which knowledge the answer came from and why (see pipeline/answer/preference/)."""

    policy: str
    source_used: Literal["user", "context", "parametric", "none"]
    conflict: bool = False
    parametric_answer: str | None = None
    context_answer: str | None = None
    user_answer: str | None = None
    reason: str = ""
    retrieval_skipped: bool = False


class AskResult(BaseModel):
    question: str
    mode: str
    answer: str
    abstained: bool = False
    # Where the answer comes from: the user's documents, the model's own knowledge (not from any document), facts the
    # user stated, or nowhere (abstained). `answer_source_note` says it in one plain sentence.
    answer_source: Literal["documents", "model_knowledge", "user", "none"] = "none"
    answer_source_note: str = ""
    citations: list[Citation] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    trace: list[TraceStep] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    preference: Preference | None = None


StepListener = Callable[[TraceStep], None]


class Tracer:
    """Collects trace steps with their timing and token cost, and hands each to `on_step` as it is recorded.

    With a session, a step's LLM cost is what the session's gateway counted since the previous step: every call of
    the question lands in exactly one step, so the steps add up to the session's usage (the gateway's count)."""

    def __init__(self, session: LLMSession | None = None, on_step: StepListener | None = None) -> None:
        self.steps: list[TraceStep] = []
        self._started = time.perf_counter()
        self._session, self._on_step = session, on_step
        self._counted = session.usage.model_copy() if session is not None else Usage()

    def record(self, tool: str, input: Any = None, output: Any = None, *, decision: str | None = None,
               tokens: int = 0, started: float | None = None) -> TraceStep:
        now = time.perf_counter()
        cost = {"tokens": tokens}
        if self._session is not None:  # the gateway's count wins over the caller's estimate
            used, before = self._session.usage, self._counted
            cost = {"llm_calls": used.llm_calls - before.llm_calls,
                    "prompt_tokens": used.prompt_tokens - before.prompt_tokens,
                    "completion_tokens": used.completion_tokens - before.completion_tokens}
            cost["tokens"] = cost["prompt_tokens"] + cost["completion_tokens"]
            self._counted = used.model_copy()
        step = TraceStep(step=len(self.steps) + 1, tool=tool, input=input, output=output, decision=decision,
                         seconds=round(now - (started if started is not None else now), 4), **cost)
        self.steps.append(step)
        if self._on_step is not None:
            self._on_step(step)
        return step


# The one way an LLM step fails soft: a spent budget or an unparsable reply (`LLMStepFailed`) becomes one trace step,
# and the caller's fallback stands in for the reply.

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
