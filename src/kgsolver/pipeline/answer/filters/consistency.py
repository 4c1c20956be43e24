"""Factuality / consistency: cross-check evidence sentences against each other and against facts the user stated,
and mark contradictions.

Cheap, no LLM: two statements contradict when they are about the same thing (embedding similarity above a threshold)
but each names a value the other does not (numbers, years, capitalised names). Passage-vs-passage contradictions are
marked on the Documents (`metadata["contradictions"]`) and reported; sentences that contradict a user-stated fact are
removed (the user's knowledge outranks retrieved text). KG facts arrive as passages (the KG-walk tools), so they are
cross-checked like any other passage.
"""

from __future__ import annotations

import re

import numpy as np
from langchain_core.documents import Document

from kgsolver.connectors.embedders import Embedder
from kgsolver.pipeline.answer.filters.base import FilterReport, FilterResult, Removed, doc_ref, normal, with_text
from kgsolver.pipeline.config import FILTER_DEFAULTS
from kgsolver.pipeline.retrieval import passage_sentences, sentence_vectors

_VALUE = re.compile(r"\b\d[\d,.]*\b|\b[A-Z][\w'’-]*(?:\s+(?:of|de|the|von|van|[A-Z][\w'’-]*))*")
_STOP_CAPS = {"the", "a", "an", "in", "on", "it", "he", "she", "they", "this", "that", "his", "her", "its", "there"}


def values(text: str) -> set[str]:
    found = set()
    for match in _VALUE.findall(text):
        value = normal(match)
        if value and value not in _STOP_CAPS:
            found.add(value)
    return found


def conflicting_values(a: str, b: str) -> tuple[set[str], set[str]] | None:
    """The values only `a` names and only `b` names, when both are non-empty (a contradiction candidate)."""
    va, vb = values(a), values(b)
    na, nb = normal(a), normal(b)
    only_a = {v for v in va - vb if v not in nb}
    only_b = {v for v in vb - va if v not in na}
    return (only_a, only_b) if only_a and only_b else None


class ConsistencyFilter:
    name = "consistency"

    def __init__(self, embedder: Embedder, *, user_facts: list[str] | None = None,
                 similarity: float = FILTER_DEFAULTS.consistency_similarity,
                 user_similarity: float = FILTER_DEFAULTS.user_fact_similarity) -> None:
        self.embedder = embedder
        self.user_facts = [f for f in (user_facts or []) if f.strip()]
        self.similarity = similarity
        self.user_similarity = user_similarity

    def apply(self, question: str, documents: list[Document]) -> FilterResult:
        units = [(d, s) for d, doc in enumerate(documents) for s in passage_sentences(self.embedder, doc)]
        if not units:
            return FilterResult(documents, FilterReport(filter=self.name, kept=len(documents)))
        # Sentences carry their passage title ("She was born in ..." keeps its subject); ingest stored their vectors.
        sent_vecs = np.concatenate([sentence_vectors(self.embedder, doc, [s for dd, s in units if dd == d])
                                    for d, doc in enumerate(documents)])
        fact_vecs: np.ndarray | list[np.ndarray] = self.embedder.encode(self.user_facts) if self.user_facts else []
        removed: list[Removed] = []
        dropped: set[int] = set()
        marks: dict[int, list[str]] = {}
        for fact, fact_vec in zip(self.user_facts, fact_vecs, strict=True):
            sims = sent_vecs @ fact_vec
            for i, (d, sentence) in enumerate(units):
                if sims[i] < self.user_similarity or not (diff := conflicting_values(sentence, fact)):
                    continue
                dropped.add(i)
                removed.append(Removed(kind="sentence", ref=doc_ref(documents[d]),
                                       reason="contradicts a user-stated fact",
                                       detail=f"{sentence[:160]!r} vs user {fact[:160]!r}: {sorted(diff[0])} vs "
                                              f"{sorted(diff[1])}"))
                marks.setdefault(d, []).append(f"user: {fact[:120]}")
        sims = sent_vecs @ sent_vecs.T
        for i in range(len(units)):
            for j in range(i + 1, len(units)):
                di, dj = units[i][0], units[j][0]
                if di == dj or sims[i, j] < self.similarity or i in dropped or j in dropped:
                    continue
                if diff := conflicting_values(units[i][1], units[j][1]):
                    removed.append(Removed(kind="kept_flagged", ref=doc_ref(documents[di]),
                                           reason=f"contradicts passage {doc_ref(documents[dj])} (both kept, marked)",
                                           detail=f"{sorted(diff[0])} vs {sorted(diff[1])}"))
                    marks.setdefault(di, []).append(f"passage {doc_ref(documents[dj])}")
                    marks.setdefault(dj, []).append(f"passage {doc_ref(documents[di])}")
        kept = []
        for d, doc in enumerate(documents):
            sentences = [s for i, (dd, s) in enumerate(units) if dd == d and i not in dropped]
            if not sentences:
                removed.append(Removed(ref=doc_ref(doc), reason="every sentence contradicts a higher-ranked source"))
                continue
            extra = {"contradictions": marks[d]} if d in marks else {}
            changed = any(i in dropped for i, (dd, _) in enumerate(units) if dd == d)
            kept.append(with_text(doc, " ".join(sentences), **extra) if changed or extra else doc)
        return FilterResult(kept, FilterReport(filter=self.name, kept=len(kept), removed=removed))
