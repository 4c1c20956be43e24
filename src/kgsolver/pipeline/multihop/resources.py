"""What the multi-hop tools share for one knowledge base, loaded once per KB generation: the KG store, an entity
linker over its entities, a title linker over the documents (Wikipedia-style titles act as hyperlink targets) and the
atomic-question index when the KB has one."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from langchain_core.documents import Document

from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.graph_stores import Entity, GraphReader
from kgsolver.graphs import GraphSettings
from kgsolver.graphs.linking import EntityLinker
from kgsolver.graphs.view import GraphView
from kgsolver.pipeline.config import AgentSettings
from kgsolver.pipeline.kb.files import ATOMIC_COMPONENT
from kgsolver.pipeline.kb.graph_read import has_graph, open_kb_graph
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.retrieval import chunk_documents

if TYPE_CHECKING:
    from kgsolver.pipeline.answer import QuestionContext
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.atomic_index import AtomicIndex

_PAREN = re.compile(r"\s*\([^)]*\)\s*$")
_CACHE: dict[tuple[str, int, str], AgentResources] = {}
_LOCK = threading.Lock()


@dataclass
class AgentResources:
    kb: KnowledgeBase
    embedder: Embedder
    graph_settings: GraphSettings
    agent_settings: AgentSettings

    @classmethod
    def for_kb(cls, kb: KnowledgeBase, embedder: Embedder, config: KGSolverConfig) -> AgentResources:
        """The one per-knowledge-base-generation cache of graph view, linkers and atomic index."""
        key = (str(kb.root.resolve()), kb.manifest["generation"], config.graph.store)
        with _LOCK:
            if key not in _CACHE:
                # An older generation of the same KB is dropped: the cache must not keep its reader lease (and so its
                # files) alive forever; a question still using it holds its own reference until it ends.
                for old in [k for k in _CACHE if k[0] == key[0] and k[2] == key[2] and k[1] < key[1]]:
                    del _CACHE[old]
                _CACHE[key] = cls(kb, embedder, config.graph, config.agent)
            return _CACHE[key]

    @classmethod
    def for_context(cls, ctx: QuestionContext) -> AgentResources:
        return cls.for_kb(ctx.kb, ctx.embedder, ctx.config)

    @cached_property
    def graph(self) -> GraphView:
        return GraphView(lambda: open_kb_graph(self.kb, self.graph_settings) if has_graph(self.kb, self.graph_settings)
                         else None)

    @property
    def store(self) -> GraphReader | None:
        return self.graph.store

    @property
    def entity_linker(self) -> EntityLinker | None:
        return self.graph.entity_linker

    @cached_property
    def title_linker(self) -> EntityLinker:
        """Document titles as linkable names ('Rush (band)' is also found as 'Rush', 'Tottenham Hotspur F.C.' as
        'Tottenham Hotspur': the suffixes are `agent.title_suffixes`)."""
        suffixes = "|".join(re.escape(x) for x in self.agent_settings.title_suffixes)
        suffix = re.compile(rf"\s+({suffixes})$") if suffixes else None
        docs: dict[str, Entity] = {}
        for doc in self.kb.list_documents():  # ids and titles only: no chunk text is read
            if doc.title:
                short = _PAREN.sub("", doc.title)
                short = suffix.sub("", short) if suffix else short
                docs[doc.doc_id] = Entity(id=doc.doc_id, name=doc.title, aliases=[short] if short != doc.title else [])
        return EntityLinker(docs.values())

    @cached_property
    def atomic(self) -> AtomicIndex | None:
        if self.kb.component_path(ATOMIC_COMPONENT) is None:  # never atomized: its module is not needed
            return None
        from kgsolver.pipeline.kb.atomic_index import read_atomic

        return read_atomic(self.kb)  # the questions of live chunks only

    def first_chunk(self, doc_id: str) -> int | None:
        ids = self.kb.chunk_ids_of({doc_id})
        return int(ids[0]) if len(ids) else None

    def documents(self, hits: Sequence[tuple[int, float]], tool: str,
                  extras: Sequence[dict[str, Any]] | None = None) -> list[Document]:
        """The tool's hits as Documents, the chunks read in one batch (`retrieval.base.chunk_documents`)."""
        return chunk_documents(self.kb, hits, tool, extras)

    def chunk_similarity(self, query: str, cids: list[int]) -> np.ndarray:
        """Cosine of the query to stored chunk vectors (no re-encoding of passages)."""
        if not cids:
            return np.zeros(0, dtype=np.float32)
        sims: np.ndarray = self.kb.dense.vectors(cids) @ self.embedder.encode([query])[0]  # numpy: Any
        return sims
