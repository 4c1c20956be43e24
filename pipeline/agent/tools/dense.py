"""Dense search: the embedder's cosine over the KB's faiss index."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from langchain_core.documents import Document

from kgsolver.pipeline.retrievers import DenseRetriever

if TYPE_CHECKING:
    from kgsolver.pipeline.agent.resources import AgentResources


class DenseSearchTool:
    name = "dense_search"
    description = "semantic search over passages"

    def __init__(self, resources: AgentResources) -> None:
        self.resources = resources
        self.retriever = DenseRetriever(kb=resources.kb, embedder=resources.embedder)

    def run(self, query: str, *, seeds: Sequence[Document] = (), k: int = 10) -> list[Document]:
        hits = self.retriever.scored_ids([query], k)[0]
        return [self.resources.document(cid, score, self.name) for cid, score in hits]
