"""What the multi-hop tools share for one knowledge base, loaded once per KB generation: the KG store, an entity
linker over its entities, a title linker over the documents (Wikipedia-style titles act as hyperlink targets) and the
atomic-question index when the KB has one."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from langchain_core.documents import Document

from kgsolver.graphs.linking import EntityLinker
from kgsolver.graphs.model import Entity
from kgsolver.pipeline.agent.atomic_index import ATOMIC_COMPONENT, AtomicIndex
from kgsolver.pipeline.graph_build import GRAPH_COMPONENT, open_kb_graph
from kgsolver.pipeline.retrievers.base import chunk_document

_PAREN = re.compile(r"\s*\([^)]*\)\s*$")
_CLUB = re.compile(r"\s+(A\.F\.C\.|F\.C\.|FC|AFC)$")
_CACHE: dict[tuple[str, int], "AgentResources"] = {}
_LOCK = threading.Lock()


@dataclass
class AgentResources:
    kb: object
    embedder: object
    graph_settings: object

    @classmethod
    def for_context(cls, ctx) -> "AgentResources":
        key = (str(ctx.kb.root.resolve()), ctx.kb.manifest["generation"])
        with _LOCK:
            if key not in _CACHE:
                _CACHE[key] = cls(ctx.kb, ctx.embedder, ctx.config.graph)
            return _CACHE[key]

    @cached_property
    def store(self):
        if self.kb.component_path(GRAPH_COMPONENT) is None and self.graph_settings.store == "networkx":
            return None
        return open_kb_graph(self.kb, self.graph_settings)

    @cached_property
    def entity_linker(self) -> EntityLinker | None:
        return EntityLinker(self.store.iter_entities()) if self.store is not None else None

    @cached_property
    def title_linker(self) -> EntityLinker:
        """Document titles as linkable names ('Rush (band)' is also found as 'Rush')."""
        docs: dict[str, Entity] = {}
        for chunk in self.kb.chunks.values():
            if chunk.title and chunk.doc_id not in docs:
                short = _CLUB.sub("", _PAREN.sub("", chunk.title))
                docs[chunk.doc_id] = Entity(id=chunk.doc_id, name=chunk.title,
                                            aliases=[short] if short != chunk.title else [])
        return EntityLinker(docs.values())

    @cached_property
    def atomic(self) -> AtomicIndex | None:
        path = self.kb.component_path(ATOMIC_COMPONENT)
        return AtomicIndex.load(path) if path is not None else None

    def first_chunk(self, doc_id: str) -> int | None:
        ids = self.kb.chunk_ids_of({doc_id})
        return int(ids[0]) if len(ids) else None

    def document(self, cid: int, score: float, tool: str, **extra) -> Document:
        doc = chunk_document(self.kb, cid, score, tool)
        doc.metadata.update(extra)
        return doc

    def chunk_similarity(self, query: str, cids: list[int]) -> np.ndarray:
        """Cosine of the query to stored chunk vectors (no re-encoding of passages)."""
        if not cids:
            return np.zeros(0, dtype=np.float32)
        q = self.embedder.encode([query])[0]
        vectors = np.stack([self.kb.dense.index.reconstruct(int(c)) for c in cids])
        return vectors @ q
