"""Knowledge filters (CooK's relevance, brevity, factuality, plus dedup and an instruction guard) behind the
`KnowledgeFilter` protocol, reusable by every answering mode. Here: the interface (question + Documents in, kept
Documents + a report of what was removed and why), the chain that runs the configured filters in turn, each one's
report kept for the trace, and the registry of filters a configuration names (`FILTERS`, `build_filter_chain`). The
filters: `passages` (dedup, relevance: which passages) and `sentences` (the instruction guard, consistency, brevity:
which sentences of the kept passages); each module also says how the chain builds its filters from the settings.

Filters never call a model directly: the relevance filter's optional LLM judgement goes through the `LLMSession`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from langchain_core.documents import Document
from pydantic import BaseModel, Field

from kgsolver.connectors import Registry, lazy, lazy_exports
from kgsolver.pipeline.config import FilterSettings

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder
    from kgsolver.connectors.llms.gateway import LLMSession
    from kgsolver.pipeline.answer import Tracer


class Removed(BaseModel):
    """One item a filter dropped, or, with kind `kept_flagged`, kept but marked (a passage that contradicts another,
    a bridge kept below the relevance threshold), so the trace says why it is there."""

    kind: str = "document"  # document | sentence | kept_flagged
    ref: str  # doc_id / chunk_id
    reason: str
    detail: str = ""


class FilterReport(BaseModel):
    filter: str
    kept: int
    removed: list[Removed] = Field(default_factory=list)
    llm_calls: int = 0

    def summary(self) -> str:
        if not self.removed:
            return f"{self.filter}: kept all {self.kept}"
        flagged = sum(r.kind == "kept_flagged" for r in self.removed)
        parts = [f"kept {self.kept}"] + ([f"removed {len(self.removed) - flagged}"] if len(self.removed) > flagged
                                         else []) + ([f"flagged {flagged} (kept)"] if flagged else [])
        return f"{self.filter}: " + ", ".join(parts)


@dataclass
class FilterResult:
    documents: list[Document]
    report: FilterReport | None = None


@runtime_checkable
class KnowledgeFilter(Protocol):
    name: str

    def apply(self, question: str, documents: list[Document]) -> FilterResult: ...


def doc_ref(document: Document) -> str:
    meta = document.metadata
    return str(meta.get("chunk_id") or meta.get("doc_id") or meta.get("title") or document.page_content[:40])


def with_text(document: Document, text: str, **extra: Any) -> Document:
    return Document(page_content=text, metadata={**document.metadata, **extra})


# The chain: the configured filters in turn, each one's report kept for the trace.


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


# A filter's module is imported when a chain first names it: a chain imports only the modules of its configured steps.
FILTERS: Registry[KnowledgeFilter] = Registry("filter", {
    "instruction_guard": lazy("kgsolver.pipeline.answer.filters.sentences", "instruction_guard_filter"),
    "dedup": lazy("kgsolver.pipeline.answer.filters.passages", "dedup_filter"),
    "relevance": lazy("kgsolver.pipeline.answer.filters.passages", "relevance_filter"),
    "consistency": lazy("kgsolver.pipeline.answer.filters.sentences", "consistency_filter"),
    "brevity": lazy("kgsolver.pipeline.answer.filters.sentences", "brevity_filter"),
})


def build_filter_chain(settings: FilterSettings, embedder: Embedder, *, session: LLMSession | None = None,
                       user_facts: list[str] | None = None) -> FilterChain:
    """The configured chain for one question (user facts feed the consistency filter)."""
    if not settings.enabled:
        return FilterChain([])
    context = FilterContext(settings, embedder, session, user_facts)
    return FilterChain([FILTERS.get(step, context) for step in settings.steps])


# The filters, imported on first use (PEP 562): a caller that wants the interface or one filter does not load them all.
_LAZY = {"DedupFilter": "passages", "RelevanceFilter": "passages", "InstructionGuardFilter": "sentences",
         "ConsistencyFilter": "sentences", "BrevityFilter": "sentences"}
__getattr__ = lazy_exports(__name__, _LAZY)
