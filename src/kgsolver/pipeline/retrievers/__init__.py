"""LangChain retrievers over a knowledge base, one strategy per module; each returns Documents with provenance."""

from kgsolver.pipeline.retrievers.bm25 import BM25Retriever
from kgsolver.pipeline.retrievers.dense import DenseRetriever
from kgsolver.pipeline.retrievers.hybrid import HybridRetriever

__all__ = ["BM25Retriever", "DenseRetriever", "HybridRetriever"]
