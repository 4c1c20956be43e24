"""The contract between the answer step and the modes: what the Solver hands the answer step for one question
(QuestionInputs), the question analysed once (QuestionAnalysis), the LLM budget split stated before gathering
(BudgetSplit), what a mode may use while gathering (QuestionContext, built by the answer step and frozen), what it
hands back (Gathered), and the mode protocol (AnswerMode). It sits below the modes, the multi-hop code and the Solver,
which all import it; it imports none of them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from langchain_core.documents import Document

from kgsolver.connectors.text import quoted_phrases
from kgsolver.pipeline.answer.answer_form import AnswerForm, detect_form

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder
    from kgsolver.connectors.llms import Budget
    from kgsolver.connectors.llms.gateway import LLMSession
    from kgsolver.graphs.linking import EntityLinker, Link
    from kgsolver.pipeline.answer.results import StepListener, Tracer, TraceStep
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
    from kgsolver.pipeline.retrieval import HybridRetriever


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
    Gathering may spend the rest (`pipeline/multihop/evidence.py::spare_calls`)."""

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
