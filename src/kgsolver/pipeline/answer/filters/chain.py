"""A small composable chain of filters, each one's report kept for the trace, and the registry of filters a
configuration names."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.documents import Document

from kgsolver.connectors import Registry
from kgsolver.pipeline.answer.filters import FilterReport, KnowledgeFilter
from kgsolver.pipeline.config import FilterSettings

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder
    from kgsolver.connectors.llms.gateway import LLMSession
    from kgsolver.pipeline.answer import Tracer


@dataclass
class ChainResult:
    documents: list[Document]
    reports: list[FilterReport] = field(default_factory=list)


class FilterChain:
    def __init__(self, filters: list[KnowledgeFilter]) -> None:
        self.filters = list(filters)

    def run(self, question: str, documents: list[Document], tracer: Tracer | None = None) -> ChainResult:
        """Apply each filter in turn; with a `Tracer`, each filter's report becomes one trace step."""
        docs, reports = list(documents), []
        for step in self.filters:
            started = time.perf_counter()
            n_in = len(docs)
            result = step.apply(question, docs)
            docs = result.documents
            report = result.report or FilterReport(filter=step.name, kept=len(docs))
            reports.append(report)
            if tracer is not None:
                tracer.record(f"filter:{step.name}", {"documents": n_in},
                              [r.model_dump() for r in report.removed], decision=report.summary(), started=started)
        return ChainResult(docs, reports)


@dataclass
class FilterContext:
    """What the filters of one question are built from."""
    settings: FilterSettings
    embedder: Any
    session: Any = None
    user_facts: list[str] | None = None  # feed the consistency filter


# Each factory imports its filter's module when a chain first names it, so a chain imports only the modules of its
# configured steps.
def _instruction_guard(c: FilterContext) -> KnowledgeFilter:
    from kgsolver.pipeline.answer.filters.sentences import InstructionGuardFilter  # (lazy: see above)

    return InstructionGuardFilter()


def _dedup(c: FilterContext) -> KnowledgeFilter:
    from kgsolver.pipeline.answer.filters.passages import DedupFilter  # (lazy: see above)

    return DedupFilter(similarity=c.settings.dedup_similarity)


def _relevance(c: FilterContext) -> KnowledgeFilter:
    from kgsolver.pipeline.answer.filters.passages import RelevanceFilter  # (lazy: see above)

    s = c.settings
    return RelevanceFilter(
        c.embedder, threshold=s.relevance_threshold, session=c.session,
        llm_judge=s.llm_judge, judge_reserve_calls=s.judge_reserve_calls, cross_encoder_path=s.cross_encoder_path,
        cross_encoder_threshold=s.cross_encoder_threshold, keep_bridges=s.keep_bridges,
        keep_quoted=s.keep_quoted)


def _consistency(c: FilterContext) -> KnowledgeFilter:
    from kgsolver.pipeline.answer.filters.sentences import ConsistencyFilter  # (lazy: see above)

    s = c.settings
    return ConsistencyFilter(c.embedder, user_facts=c.user_facts, similarity=s.consistency_similarity,
                             user_similarity=s.user_fact_similarity)


def _brevity(c: FilterContext) -> KnowledgeFilter:
    from kgsolver.pipeline.answer.filters.sentences import BrevityFilter  # (lazy: see above)

    return BrevityFilter(c.embedder, token_budget=c.settings.brevity_tokens,
                         first_sentence_bonus=c.settings.brevity_first_sentence_bonus)


FILTERS: Registry[KnowledgeFilter] = Registry("filter", {
    "instruction_guard": _instruction_guard, "dedup": _dedup, "relevance": _relevance,
    "consistency": _consistency, "brevity": _brevity,
})


def build_filter_chain(settings: FilterSettings, embedder: Embedder, *, session: LLMSession | None = None,
                       user_facts: list[str] | None = None) -> FilterChain:
    """The configured chain for one question (user facts feed the consistency filter)."""
    if not settings.enabled:
        return FilterChain([])
    context = FilterContext(settings, embedder, session, user_facts)
    return FilterChain([FILTERS.get(step, context) for step in settings.steps])
