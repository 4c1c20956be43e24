"""The answer step and what it uses: the filter chain, the preference policies, generation, the answer form and
comparisons, the reader prompt. Every mode ends here (step.py).

Here, the package's two contracts, which the modes, the multi-hop code, the Solver and the APIs import (it imports
none of them):
- **In: between the answer step and the modes.** What the Solver hands the answer step for one question
  (QuestionInputs), the question analysed once (QuestionAnalysis), the LLM budget split stated before gathering
  (BudgetSplit), what a mode may use while gathering (QuestionContext, built by the answer step and frozen), what it
  hands back (Gathered), and the mode protocol (AnswerMode).
- **Out: the shape of an answer.** What `kgsolver ask --json`, the Python API and the HTTP API return (keep fields
  stable), the trace its steps are recorded on (`Tracer`), and the one way an LLM step fails soft onto that trace
  (`llm_step`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from langchain_core.documents import Document
from pydantic import BaseModel, Field

from kgsolver.connectors import LLMStepFailed
from kgsolver.connectors.llms.gateway import LLMSession, Usage
from kgsolver.connectors.text import quoted_phrases
from kgsolver.pipeline.answer.answer_form import AnswerForm, detect_form

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder
    from kgsolver.connectors.llms import Budget
    from kgsolver.graphs.linking import EntityLinker, Link
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
    from kgsolver.pipeline.retrieval import HybridRetriever


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


@dataclass(frozen=True)
class QuestionInputs:
    """What the Solver hands the answer step for one question: one knowledge-base generation, the LLM session and the
    caller's options. The hybrid retriever is built only when a mode asks for it (`QuestionContext.retriever`)."""

    kb: KnowledgeBase
    embedder: Embedder  # a QueryVectors: texts encoded once, stored chunk and sentence vectors reused
    session: LLMSession
    config: KGSolverConfig
    make_retriever: Callable[[], HybridRetriever]
    assumptions: tuple[str, ...] = ()  # user-stated facts (`--assume`), outrank retrieved text
    policy: str | None = None  # preference policy name; None = config.preference.policy
    on_step: StepListener | None = None  # gets each trace step as it is recorded (the API's /ask/stream)


class QuestionAnalysis:
    """The question analysed once, for every consumer: the answer form it asks for (the reader, the closed-book answer
    and the policy's call count read it), the phrases it quotes, and its entity links per linker and options (the
    anchors, PageRank seeds and the KG walk's start read them). Its vector is the embedder's: QueryVectors encodes each
    text once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._links: dict[tuple[int, bool, bool, int], list[Link]] = {}

    @cached_property
    def form(self) -> AnswerForm:
        return detect_form(self.text)

    @cached_property
    def quoted(self) -> tuple[str, ...]:
        return tuple(quoted_phrases(self.text))

    def links(self, linker: EntityLinker, *, fuzzy: bool = True, embedding: bool = True, top: int = 10) -> list[Link]:
        """`linker.link(question, ...)`, asked once per linker and options (a linker lives as long as its KB
        generation's resources, longer than the question)."""
        key = (id(linker), fuzzy, embedding, top)
        if key not in self._links:
            self._links[key] = linker.link(self.text, fuzzy=fuzzy, embedding=embedding, top=top)
        return list(self._links[key])


def linked(linker: EntityLinker, text: str, question: QuestionAnalysis | None, *, fuzzy: bool = True,
           embedding: bool = True, top: int = 10) -> list[Link]:
    """`linker.link(text, ...)`; from the question's analysis when `text` is the question (a tool also runs on
    sub-questions, which are linked as they come)."""
    if question is not None and question.text == text:
        return question.links(linker, fuzzy=fuzzy, embedding=embedding, top=top)
    return linker.link(text, fuzzy=fuzzy, embedding=embedding, top=top)


@dataclass(frozen=True)
class BudgetSplit:
    """The question's LLM budget, stated once by the answer step before gathering: the session's limits (the caller's,
    tightened by the mode's own: `AnswerMode.limits`) and the calls the preference policy keeps for the answer.
    Gathering may spend the rest (`pipeline/multihop/__init__.py::spare_calls`)."""

    limits: Budget
    answer_calls: int


@dataclass(frozen=True)
class QuestionContext:
    """What a mode may use while gathering evidence for one question; nothing in it is reassigned while it runs."""

    inputs: QuestionInputs
    question: QuestionAnalysis
    split: BudgetSplit

    @property
    def kb(self) -> KnowledgeBase:
        return self.inputs.kb

    @property
    def embedder(self) -> Embedder:
        return self.inputs.embedder

    @property
    def session(self) -> LLMSession:
        return self.inputs.session

    @property
    def config(self) -> KGSolverConfig:
        return self.inputs.config

    @cached_property
    def retriever(self) -> HybridRetriever:
        """Built on first use: only naive searches through it."""
        return self.inputs.make_retriever()


@dataclass(frozen=True)
class Gathered:
    """What a mode hands to the answer step."""

    documents: list[Document]  # the passages the answer is generated from, best first (the filters run on these)
    evidence: list[Document] = field(default_factory=list)  # what the result lists as evidence (the ranked pool)
    trace: list[TraceStep] = field(default_factory=list)  # the gathering's steps (set by `answer.step.gather`)

    @property
    def listed(self) -> list[Document]:
        """The evidence a result lists: the ranked pool, or the passages themselves when the mode ranked no pool."""
        return self.evidence or self.documents


class AnswerMode(Protocol):
    name: str

    def limits(self, budget: Budget, config: KGSolverConfig) -> Budget:
        """The LLM limits this mode answers under, given the caller's (the multi-hop modes add the agent block's)."""
        ...

    def gather(self, question: str, ctx: QuestionContext, tracer: Tracer) -> Gathered: ...
