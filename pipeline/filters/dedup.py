"""Deduplication: drop passages whose text repeats an earlier (higher-ranked) one, exactly or nearly."""

from __future__ import annotations

from typing import Any

from langchain_core.documents import Document
from rapidfuzz import fuzz

from kgsolver.pipeline.filters.base import FilterReport, FilterResult, Removed, doc_ref, normal, triple_text


class DedupFilter:
    name = "dedup"

    def __init__(self, similarity: float = 92.0):
        self.similarity = similarity  # rapidfuzz token_set_ratio, 0-100

    def apply(self, question: str, documents: list[Document], triples: list[Any] | None = None) -> FilterResult:
        kept: list[Document] = []
        kept_norm: list[str] = []
        removed: list[Removed] = []
        for doc in documents:
            text = normal(doc.page_content)
            duplicate_of = None
            for earlier, earlier_text in zip(kept, kept_norm):
                if text == earlier_text:
                    duplicate_of, how = earlier, "exact duplicate"
                    break
                score = fuzz.token_set_ratio(text, earlier_text)
                if score >= self.similarity and min(len(text), len(earlier_text)) > 0.8 * max(len(text), len(earlier_text)):
                    duplicate_of, how = earlier, f"near duplicate ({score:.0f}%)"
                    break
            if duplicate_of is not None:
                removed.append(Removed(ref=doc_ref(doc), reason=how, detail=f"of {doc_ref(duplicate_of)}"))
            else:
                kept.append(doc)
                kept_norm.append(text)
        kept_triples, seen = [], set()
        for triple in triples or []:
            key = normal(triple_text(triple))
            if key in seen:
                removed.append(Removed(kind="triple", ref=triple_text(triple), reason="exact duplicate"))
            else:
                seen.add(key)
                kept_triples.append(triple)
        return FilterResult(kept, kept_triples, FilterReport(filter=self.name, kept=len(kept), removed=removed))
