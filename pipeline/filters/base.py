"""The filter interface: question + Documents in, kept Documents + a report of what was removed and why.

Filters never call a model directly: the relevance filter's optional LLM judgement goes through the `LLMSession`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from langchain_core.documents import Document
from pydantic import BaseModel, Field

from kgsolver.connectors.text import normal, split_sentences, title_name  # noqa: F401  (re-exported for the filters)


class Removed(BaseModel):
    """One item a filter dropped (or, for the consistency filter, flagged)."""

    kind: str = "document"  # document | sentence | flag
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
        return f"{self.filter}: kept {self.kept}, removed/flagged {len(self.removed)}"


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
