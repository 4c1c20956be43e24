"""The one search protocol (`Search`): a query, optionally seed passages, in; ranked LangChain Documents with
provenance out. The knowledge base's retrievers and the multi-hop tools (pipeline/multihop/tools) implement it, and
what every knowledge-base retriever shares: turning scored chunk ids into Documents."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from numbers import Integral
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from kgsolver.pipeline.kb.chunking import Chunk
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase


def _document(chunk: Chunk, chunk_id: int, score: float, retriever: str, extra: Mapping[str, Any]) -> Document:
    metadata = {
        "chunk_id": chunk.chunk_id, "cid": int(chunk_id), "doc_id": chunk.doc_id, "title": chunk.title,
        "start": chunk.start, "end": chunk.end, "score": float(score), "retriever": retriever,
    }
    metadata.update({k: v for k, v in chunk.metadata.items() if k not in metadata and k != "content_sha1"})
    metadata.update(extra)
    return Document(page_content=chunk.text, metadata=metadata, id=chunk.chunk_id)


def chunk_documents(kb: KnowledgeBase, hits: Sequence[tuple[int, float]], retriever: str,
                    extras: Sequence[Mapping[str, Any]] | None = None) -> list[Document]:
    """One Document per (chunk id, score) hit, in the hits' order, with `extras[i]` added to hit i's metadata.
    The chunks are read in one batch (`kb.chunks.many`: one read per segment store, not one per hit); a hit on a
    chunk the knowledge base does not hold is a KeyError, as `kb.chunks[cid]` is."""
    chunks = kb.chunks.many(int(cid) for cid, _ in hits)
    missing = [int(cid) for cid, _ in hits if int(cid) not in chunks]
    if missing:
        raise KeyError(f"no live chunk with id {missing[:10]}")
    return [_document(chunks[int(cid)], cid, score, retriever, extras[i] if extras else {})
            for i, (cid, score) in enumerate(hits)]


class Search(ABC):
    """A template-method search base, after neo4j-graphrag's `Retriever`: `search` checks its arguments and calls
    the subclass's `get_search_results`. Seeds are the passages found so far: the graph tools start from them, a
    plain retriever ignores them."""

    name: str  # names the search in the trace and in each Document's `retriever`

    def search(self, query: str, *, seeds: Sequence[Document] = (), k: int = 10) -> list[Document]:
        """Ranked passages, at most `k`; each Document's metadata names the search (`retriever`) and why it was
        found."""
        if not isinstance(query, str):
            raise TypeError(f"{self.name}: the query is a string, not {type(query).__name__}")
        if isinstance(k, bool) or not isinstance(k, Integral) or k < 0:  # numpy's ints are Integral
            raise ValueError(f"{self.name}: k is a count of passages, not {k!r}")
        if not all(isinstance(seed, Document) for seed in seeds):
            raise TypeError(f"{self.name}: seed passages are Documents")
        return self.get_search_results(query, seeds, k)

    @abstractmethod
    def get_search_results(self, query: str, seeds: Sequence[Document], k: int) -> list[Document]:
        """The subclass's search, on checked arguments."""


class KBRetriever(BaseRetriever, Search):
    """A LangChain retriever over the knowledge base that is also a `Search` (`invoke` and `search` give the same
    Documents). Subclasses implement `scored_ids`; batching over many queries is what benchmarks and evals use."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    kb: KnowledgeBase
    k: int = 5
    name: str = "kb"  # the Runnable's name, which LangChain's callbacks show too

    def scored_ids(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        raise NotImplementedError

    def get_search_results(self, query: str, seeds: Sequence[Document], k: int) -> list[Document]:
        return chunk_documents(self.kb, self.scored_ids([query], k)[0], self.name)

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        return self.search(query, k=kwargs.get("k", self.k))


def valid_hits(scores: np.ndarray, ids: np.ndarray) -> list[list[tuple[int, float]]]:
    return [[(int(i), float(s)) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(scores, ids, strict=True)]
