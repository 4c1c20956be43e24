"""Knowledge filters (CooK's relevance, brevity, factuality, plus dedup and an instruction guard) behind the
`KnowledgeFilter` protocol, reusable by every answering mode. Here: the interface (question + Documents in, kept
Documents + a report of what was removed and why). `chain` composes the configured filters, each one's report kept for
the trace. The filters: `passages` (dedup, relevance: which passages) and `sentences` (the instruction guard,
consistency, brevity: which sentences of the kept passages).

Filters never call a model directly: the relevance filter's optional LLM judgement goes through the `LLMSession`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from langchain_core.documents import Document
from pydantic import BaseModel, Field

from kgsolver.connectors import lazy_exports


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


# The chain and the filters, imported on first use (PEP 562): a caller that wants the interface or one filter does
# not load them all.
_LAZY = {"ChainResult": "chain", "FilterChain": "chain", "build_filter_chain": "chain", "DedupFilter": "passages",
         "RelevanceFilter": "passages", "InstructionGuardFilter": "sentences", "ConsistencyFilter": "sentences",
         "BrevityFilter": "sentences"}
__getattr__ = lazy_exports(__name__, _LAZY)
