"""Factuality / consistency: cross-check evidence sentences against each other, against KG triples and against facts
the user stated, and mark contradictions.

Cheap, no LLM: two statements contradict when they are about the same thing (embedding similarity above a threshold)
but each names a value the other does not (numbers, years, capitalised names). Passage-vs-passage and passage-vs-KG
contradictions are marked on the Documents (`metadata["contradictions"]`) and reported; sentences that contradict a
user-stated fact are removed (the user's knowledge outranks retrieved text), and so, when `drop_contradicted_by_kg`
is set, are sentences that contradict a KG triple.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
from langchain_core.documents import Document

from kgsolver.pipeline.filters.base import (FilterReport, FilterResult, Removed, doc_ref, normal, split_sentences,
                                            triple_text, with_text)
from kgsolver.pipeline.vectors import sentence_vectors

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

    def __init__(self, embedder, *, user_facts: list[str] | None = None, similarity: float = 0.8,
                 user_similarity: float = 0.6, drop_contradicted_by_kg: bool = False):
        self.embedder = embedder
        self.user_facts = [f for f in (user_facts or []) if f.strip()]
        self.similarity = similarity
        self.user_similarity = user_similarity
        self.drop_contradicted_by_kg = drop_contradicted_by_kg

    def apply(self, question: str, documents: list[Document], triples: list[Any] | None = None) -> FilterResult:
        triples = list(triples or [])
        units = [(d, s) for d, doc in enumerate(documents) for s in split_sentences(doc.page_content)]
        references = [("user", f, None) for f in self.user_facts] + [("kg", triple_text(t), t) for t in triples]
        if not units:
            return FilterResult(documents, triples, FilterReport(filter=self.name, kept=len(documents)))
        # Sentences carry their passage title ("She was born in ..." keeps its subject); ingest stored their vectors.
        sent_vecs = np.concatenate([sentence_vectors(self.embedder, doc, [s for dd, s in units if dd == d])
                                    for d, doc in enumerate(documents)])
        ref_vecs = self.embedder.encode([text for _, text, _ in references])
        removed: list[Removed] = []
        dropped: set[int] = set()
        marks: dict[int, list[str]] = {}
        for r, (kind, ref_text, _) in enumerate(references):
            sims = sent_vecs @ ref_vecs[r]
            for i, (d, sentence) in enumerate(units):
                limit = self.user_similarity if kind == "user" else self.similarity
                if sims[i] < limit or not (diff := conflicting_values(sentence, ref_text)):
                    continue
                drop = kind == "user" or self.drop_contradicted_by_kg
                detail = f"{sentence[:160]!r} vs {kind} {ref_text[:160]!r}: {sorted(diff[0])} vs {sorted(diff[1])}"
                if drop:
                    dropped.add(i)
                removed.append(Removed(kind="sentence" if drop else "flag", ref=doc_ref(documents[d]),
                                       reason=f"contradicts a {'user-stated fact' if kind == 'user' else 'KG triple'}"
                                       + ("" if drop else " (kept, marked)"), detail=detail))
                marks.setdefault(d, []).append(f"{kind}: {ref_text[:120]}")
        sims = sent_vecs @ sent_vecs.T
        for i in range(len(units)):
            for j in range(i + 1, len(units)):
                di, dj = units[i][0], units[j][0]
                if di == dj or sims[i, j] < self.similarity or i in dropped or j in dropped:
                    continue
                if diff := conflicting_values(units[i][1], units[j][1]):
                    removed.append(Removed(kind="flag", ref=doc_ref(documents[di]),
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
        return FilterResult(kept, triples, FilterReport(filter=self.name, kept=len(kept), removed=removed))
