"""The contract between the answer step and the modes: what a mode may use while answering one question
(QuestionContext, built by the Solver), what it hands back (Gathered), and the mode protocol (AnswerMode). It sits
below the modes, the multi-hop code and the Solver, which all import it; it imports none of them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from langchain_core.documents import Document

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder
    from kgsolver.connectors.llms.gateway import LLMSession
    from kgsolver.pipeline.answer.results import StepListener, Tracer
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
    from kgsolver.pipeline.retrieval.hybrid import HybridRetriever


@dataclass
class QuestionContext:
    """What a mode may use while answering one question."""

    kb: KnowledgeBase
    embedder: Embedder  # a QueryVectors: texts encoded once, stored chunk and sentence vectors reused
    retriever: HybridRetriever
    session: LLMSession
    config: KGSolverConfig
    assumptions: list[str] = field(default_factory=list)  # user-stated facts (`--assume`), outrank retrieved text
    policy: str | None = None  # preference policy name; None = config.preference.policy
    answer_calls: int = 2  # LLM calls the policy keeps for the answer (set by the answer step before gathering)
    on_step: StepListener | None = None  # gets each trace step as it is recorded (the API's /ask/stream)


@dataclass
class Gathered:
    """What a mode hands to the answer step."""

    documents: list[Document]  # the passages the answer is generated from, best first (the filters run on these)
    evidence: list[Document] = field(default_factory=list)  # what the result lists as evidence (the ranked pool)


class AnswerMode(Protocol):
    name: str

    def gather(self, question: str, ctx: QuestionContext, tracer: Tracer) -> Gathered: ...
