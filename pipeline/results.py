"""The shape of an answer: what `kgsolver ask --json`, the Python API and the HTTP API return. Keep fields stable."""

from __future__ import annotations

import time
from typing import Any, Literal

from langchain_core.documents import Document
from pydantic import BaseModel, Field

from kgsolver.connectors.llms.gateway import Usage


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

    @classmethod
    def from_document(cls, document: Document) -> "Evidence":
        meta = document.metadata
        return cls(doc_id=meta["doc_id"], title=meta.get("title", ""), text=document.page_content,
                   score=meta.get("score", 0.0), chunk_id=meta.get("chunk_id"), source=meta.get("retriever", "context"))


class TraceStep(BaseModel):
    step: int
    tool: str
    input: Any = None
    output: Any = None
    decision: str | None = None
    tokens: int = 0
    seconds: float = 0.0


class Preference(BaseModel):
    """Which knowledge the answer came from and why (see pipeline/preference/)."""

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


class Tracer:
    """Collects trace steps with their timing and token cost."""

    def __init__(self) -> None:
        self.steps: list[TraceStep] = []
        self._started = time.perf_counter()

    def record(self, tool: str, input: Any = None, output: Any = None, *, decision: str | None = None,
               tokens: int = 0, started: float | None = None) -> TraceStep:
        now = time.perf_counter()
        step = TraceStep(step=len(self.steps) + 1, tool=tool, input=input, output=output, decision=decision,
                         tokens=tokens, seconds=round(now - (started if started is not None else now), 4))
        self.steps.append(step)
        return step
