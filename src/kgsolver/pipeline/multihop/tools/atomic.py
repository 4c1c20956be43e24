"""Atomic-question search (PIKE-RAG): match the query against the questions each chunk answers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from kgsolver.pipeline.retrieval import Search

if TYPE_CHECKING:
    from kgsolver.pipeline.multihop.resources import AgentResources


class AtomicSearchTool(Search):
    """Find passages whose atomic questions match a (sub-)question."""

    name = "atomic_search"

    def __init__(self, resources: AgentResources) -> None:
        self.resources = resources

    @property
    def available(self) -> bool:
        return self.resources.atomic is not None and len(self.resources.atomic) > 0

    def get_search_results(self, query: str, seeds: Sequence[Document], k: int) -> list[Document]:
        atomic = self.resources.atomic
        if atomic is None or not len(atomic):  # `available`, narrowed for the type checker
            return []
        vector = self.resources.embedder.encode([query])[0]
        hits = atomic.search(vector, k)  # `read_atomic` left the deleted chunks' questions out
        return self.resources.documents([(h.cid, h.score) for h in hits], self.name,
                                        [{"atomic_question": h.question} for h in hits])
