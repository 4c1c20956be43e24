"""A small composable chain of filters, each one's report kept for the trace."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from langchain_core.documents import Document

from kgsolver.pipeline.filters.base import FilterReport, KnowledgeFilter
from kgsolver.pipeline.filters.brevity import BrevityFilter
from kgsolver.pipeline.filters.consistency import ConsistencyFilter
from kgsolver.pipeline.filters.dedup import DedupFilter
from kgsolver.pipeline.filters.instructions import InstructionGuardFilter
from kgsolver.pipeline.filters.relevance import RelevanceFilter
from kgsolver.pipeline.filters.settings import FilterSettings


@dataclass
class ChainResult:
    documents: list[Document]
    triples: list[Any]
    reports: list[FilterReport] = field(default_factory=list)


class FilterChain:
    def __init__(self, filters: list[KnowledgeFilter]):
        self.filters = list(filters)

    def run(self, question: str, documents: list[Document], triples: list[Any] | None = None,
            tracer=None) -> ChainResult:
        """Apply each filter in turn; with a `Tracer`, each filter's report becomes one trace step."""
        docs, kept_triples, reports = list(documents), list(triples or []), []
        for step in self.filters:
            started = time.perf_counter()
            n_in = len(docs)
            result = step.apply(question, docs, kept_triples)
            docs, kept_triples = result.documents, result.triples
            report = result.report or FilterReport(filter=step.name, kept=len(docs))
            reports.append(report)
            if tracer is not None:
                tracer.record(f"filter:{step.name}", {"documents": n_in},
                              [r.model_dump() for r in report.removed], decision=report.summary(), started=started)
        return ChainResult(docs, kept_triples, reports)


def build_filter_chain(settings: FilterSettings, embedder, *, session=None,
                       user_facts: list[str] | None = None) -> FilterChain:
    """The configured chain for one question (user facts feed the consistency filter)."""
    if not settings.enabled:
        return FilterChain([])
    makers = {
        "instruction_guard": lambda: InstructionGuardFilter(),
        "dedup": lambda: DedupFilter(similarity=settings.dedup_similarity),
        "relevance": lambda: RelevanceFilter(
            embedder, threshold=settings.relevance_threshold, triple_threshold=settings.triple_threshold,
            session=session, llm_judge=settings.llm_judge, judge_reserve_calls=settings.judge_reserve_calls,
            cross_encoder_path=settings.cross_encoder_path, cross_encoder_threshold=settings.cross_encoder_threshold,
            keep_bridges=settings.keep_bridges),
        "consistency": lambda: ConsistencyFilter(
            embedder, user_facts=user_facts, similarity=settings.consistency_similarity,
            user_similarity=settings.user_fact_similarity, drop_contradicted_by_kg=settings.drop_contradicted_by_kg),
        "brevity": lambda: BrevityFilter(embedder, token_budget=settings.brevity_tokens),
    }
    unknown = [s for s in settings.steps if s not in makers]
    if unknown:
        raise ValueError(f"unknown filter(s) {unknown}; available: {', '.join(makers)}")
    return FilterChain([makers[s]() for s in settings.steps])
