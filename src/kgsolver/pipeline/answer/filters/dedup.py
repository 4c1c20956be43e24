"""Deduplication: drop passages whose text repeats an earlier (higher-ranked) one, exactly or nearly."""

from __future__ import annotations

from langchain_core.documents import Document
from rapidfuzz import fuzz

from kgsolver.pipeline.answer.filters.base import FilterReport, FilterResult, Removed, doc_ref, normal
from kgsolver.pipeline.config import FILTER_DEFAULTS


class DedupFilter:
    name = "dedup"

    def __init__(self, similarity: float = FILTER_DEFAULTS.dedup_similarity):
        self.similarity = similarity  # rapidfuzz token_set_ratio, 0-100

    def apply(self, question: str, documents: list[Document]) -> FilterResult:
        kept: list[Document] = []
        kept_norm: list[str] = []
        removed: list[Removed] = []
        for doc in documents:
            text = normal(doc.page_content)
            duplicate_of = None
            for earlier, earlier_text in zip(kept, kept_norm, strict=True):
                if text == earlier_text:
                    duplicate_of, how = earlier, "exact duplicate"
                    break
                score = fuzz.token_set_ratio(text, earlier_text)
                shorter, longer = sorted((len(text), len(earlier_text)))
                if score >= self.similarity and shorter > 0.8 * longer:
                    duplicate_of, how = earlier, f"near duplicate ({score:.0f}%)"
                    break
            if duplicate_of is not None:
                removed.append(Removed(ref=doc_ref(doc), reason=how, detail=f"of {doc_ref(duplicate_of)}"))
            else:
                kept.append(doc)
                kept_norm.append(text)
        return FilterResult(kept, FilterReport(filter=self.name, kept=len(kept), removed=removed))
