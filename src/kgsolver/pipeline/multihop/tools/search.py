"""Dense and keyword search as agent tools: the knowledge base's retrievers (pipeline/retrieval) behind one adapter,
so that the multi-hop modes search with the same code as naive retrieval. A `Tool` is a retriever that may also take
seed passages (the graph tools need them); a plain retriever ignores the seeds."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from kgsolver.pipeline.retrieval import BM25Retriever, DenseRetriever
from kgsolver.pipeline.retrieval.base import KBRetriever

if TYPE_CHECKING:
    from kgsolver.pipeline.multihop.resources import AgentResources


class RetrieverTool:
    def __init__(self, resources: AgentResources, retriever: KBRetriever, name: str) -> None:
        self.resources = resources
        self.retriever = retriever
        self.name = name

    def run(self, query: str, *, seeds: Sequence[Document] = (), k: int = 10) -> list[Document]:
        hits = self.retriever.scored_ids([query], k)[0]
        return self.resources.documents(hits, self.name)


def dense_search(resources: AgentResources) -> RetrieverTool:
    """Semantic search over passages."""
    return RetrieverTool(resources, DenseRetriever(kb=resources.kb, embedder=resources.embedder), "dense_search")


def bm25_search(resources: AgentResources) -> RetrieverTool:
    """Keyword search over passages (names, rare words)."""
    return RetrieverTool(resources, BM25Retriever(kb=resources.kb), "bm25_search")
