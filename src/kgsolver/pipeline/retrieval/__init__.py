"""Retrieval over a knowledge base: LangChain retrievers, one strategy per module (each returns Documents with
provenance), their fusion (hybrid.py), and the query vectors computed once per question (vectors.py)."""

from kgsolver.pipeline.retrieval.bm25 import BM25Retriever
from kgsolver.pipeline.retrieval.dense import DenseRetriever
from kgsolver.pipeline.retrieval.hybrid import HybridRetriever

__all__ = ["BM25Retriever", "DenseRetriever", "HybridRetriever"]
