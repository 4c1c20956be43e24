"""Atomic-question search (PIKE-RAG): match the query against the questions each chunk answers."""

from __future__ import annotations

from typing import Sequence

from langchain_core.documents import Document


class AtomicSearchTool:
    name = "atomic_search"
    description = "find passages whose atomic questions match a (sub-)question"

    def __init__(self, resources):
        self.resources = resources

    @property
    def available(self) -> bool:
        return self.resources.atomic is not None and len(self.resources.atomic) > 0

    def run(self, query: str, *, seeds: Sequence[Document] = (), k: int = 10) -> list[Document]:
        if not self.available:
            return []
        vector = self.resources.embedder.encode([query])[0]
        return [self.resources.document(h.cid, h.score, self.name, atomic_question=h.question)
                for h in self.resources.atomic.search(vector, k) if h.cid in self.resources.kb.chunks]
