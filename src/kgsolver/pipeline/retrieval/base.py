"""What every knowledge-base retriever shares: turning scored chunk ids into LangChain Documents."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


class KBRetriever(BaseRetriever):
    """Subclasses implement `scored_ids`; batching over many queries is what benchmarks and evals use."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    kb: KnowledgeBase
    k: int = 5
    name_: str = "kb"

    def scored_ids(self, queries: list[str], k: int) -> list[list[tuple[int, float]]]:
        raise NotImplementedError

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                **kwargs: Any) -> list[Document]:
        hits = self.scored_ids([query], kwargs.get("k", self.k))[0]
        return chunk_documents(self.kb, hits, self.name_)


def valid_hits(scores: np.ndarray, ids: np.ndarray) -> list[list[tuple[int, float]]]:
    return [[(int(i), float(s)) for s, i in zip(row_s, row_i, strict=True) if i >= 0]
            for row_s, row_i in zip(scores, ids, strict=True)]
