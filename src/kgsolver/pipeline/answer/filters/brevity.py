"""Brevity: keep the sentences that matter, within a token budget (counted with the embedder's tokenizer).

Sentences are ranked by similarity to the question; the best are kept until the budget is spent, then restored to
their original order within each passage. A passage's first sentence (usually naming its subject) gets a small bonus.
"""

from __future__ import annotations

import numpy as np
from langchain_core.documents import Document

from kgsolver.connectors.embedders import Embedder
from kgsolver.pipeline.answer.filters.base import FilterReport, FilterResult, Removed, doc_ref, with_text
from kgsolver.pipeline.config import FILTER_DEFAULTS
from kgsolver.pipeline.retrieval import passage_sentences, sentence_vectors


class BrevityFilter:
    name = "brevity"

    def __init__(self, embedder: Embedder, *, token_budget: int = FILTER_DEFAULTS.brevity_tokens,
                 first_sentence_bonus: float = FILTER_DEFAULTS.brevity_first_sentence_bonus) -> None:
        self.embedder = embedder
        self.token_budget = token_budget
        self.first_sentence_bonus = first_sentence_bonus

    def apply(self, question: str, documents: list[Document]) -> FilterResult:
        units = [(d, j, s) for d, doc in enumerate(documents)
                 for j, s in enumerate(passage_sentences(self.embedder, doc))]
        if not units:
            return FilterResult(documents, FilterReport(filter=self.name, kept=len(documents)))
        # A sentence is scored with its passage's title in front ("She was born in ..." keeps its subject), from the
        # vectors ingest stored.
        sentences = np.concatenate([sentence_vectors(self.embedder, doc, [s for dd, _, s in units if dd == d])
                                    for d, doc in enumerate(documents)])
        scores = sentences @ self.embedder.encode([question])[0]
        ranked = sorted(range(len(units)),
                        key=lambda i: -(scores[i] + (self.first_sentence_bonus if units[i][1] == 0 else 0)))
        chosen: set[int] = set()
        spent = 0
        for i in ranked:
            cost = self.embedder.count_tokens(units[i][2])
            if spent + cost <= self.token_budget or not chosen:
                chosen.add(i)
                spent += cost
        kept, removed = [], []
        for d, doc in enumerate(documents):
            mine = [i for i, u in enumerate(units) if u[0] == d]
            keep = [units[i][2] for i in mine if i in chosen]
            for i in mine:
                if i not in chosen:
                    removed.append(Removed(kind="sentence", ref=doc_ref(doc),
                                           reason=f"over the {self.token_budget}-token budget "
                                           f"(similarity {scores[i]:.2f})", detail=units[i][2][:160]))
            if keep:
                kept.append(with_text(doc, " ".join(keep)))
            elif mine:
                removed.append(Removed(ref=doc_ref(doc), reason="no sentence within the token budget"))
        report = FilterReport(filter=self.name, kept=len(kept), removed=removed)
        return FilterResult(kept, report)
