"""Keyword search: BM25 over titles and passages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from langchain_core.documents import Document

from kgsolver.pipeline.retrievers import BM25Retriever

if TYPE_CHECKING:
    from kgsolver.pipeline.agent.resources import AgentResources


class BM25SearchTool:
    name = "bm25_search"
    description = "keyword search over passages (names, rare words)"

    def __init__(self, resources: AgentResources) -> None:
        self.resources = resources
        self.retriever = BM25Retriever(kb=resources.kb)

    def run(self, query: str, *, seeds: Sequence[Document] = (), k: int = 10) -> list[Document]:
        hits = self.retriever.scored_ids([query], k)[0]
        return [self.resources.document(cid, score, self.name) for cid, score in hits]
