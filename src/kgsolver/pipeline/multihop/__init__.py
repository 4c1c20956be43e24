"""The multi-hop retriever: PIKE-RAG atomizing and knowledge-aware decomposition, the Knowledge-Solver KG walk, and
one budgeted agent over search tools (dense, BM25, atomic questions, KG walk, personalized PageRank, neighbourhood).

Here, what the multi-hop modules share:
- what the tools run on, per knowledge base (`AgentResources`, loaded once per KB generation): the KG store, an entity
  linker over its entities, a title linker over the documents (Wikipedia-style titles act as hyperlink targets) and
  the atomic-question index when the KB has one;
- running a tool with a trace step, fusing ranked lists from several tools (weighted reciprocal rank fusion,
  provenance kept), budgets, and the ranked evidence they hand to the answer step.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import zip_longest
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from langchain_core.documents import Document

from kgsolver.connectors import BudgetExceeded
from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.graph_stores import Entity, GraphReader
from kgsolver.connectors.llms import Budget
from kgsolver.graphs import GraphSettings
from kgsolver.graphs.linking import EntityLinker
from kgsolver.graphs.view import GraphView
from kgsolver.pipeline.answer import Gathered, Tracer
from kgsolver.pipeline.config import AgentSettings
from kgsolver.pipeline.kb import ATOMIC_COMPONENT
from kgsolver.pipeline.kb.graph_read import has_graph, open_kb_graph
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.retrieval import RankFusion, chunk_documents

if TYPE_CHECKING:
    from kgsolver.pipeline.answer import QuestionAnalysis, QuestionContext
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.atomic_index import AtomicIndex
    from kgsolver.pipeline.retrieval import Search

_Limit = TypeVar("_Limit", int, float)


def run_tool(tool: Search, query: str, tracer: Tracer, *, seeds: Sequence[Document] = (),
             k: int = 10) -> list[Document]:
    started = time.perf_counter()
    docs = tool.search(query, seeds=seeds, k=k)
    inp = {"query": query, "k": k}
    if seeds:
        inp["seeds"] = [d.metadata.get("title", "") for d in seeds]
    out = [_describe(d) for d in docs]
    tracer.record(tool.name, inp, out, decision=f"{len(docs)} passage(s)", started=started)
    return docs


def fused_search(tools: Sequence[Search], query: str, tracer: Tracer, *, k: int, rrf_k: int,
                 seeds: Sequence[Document] = ()) -> list[Document]:
    """Several search tools on one query, fused into one ranked list (so that tools agreeing on a first-hop
    passage do not push it above the passages the expansion tools find next to it)."""
    local = EvidencePool(rrf_k)
    for tool in tools:
        local.add(run_tool(tool, query, tracer, seeds=seeds, k=k))
    return local.ranked(k)


def _describe(doc: Document) -> str:
    meta = doc.metadata
    why = meta.get("atomic_question") or meta.get("via") or meta.get("path") or ""
    return f"{meta.get('title', '')} ({meta.get('score', 0.0):.3f})" + (f" <- {why}" if why else "")


class EvidencePool:
    """Weighted reciprocal-rank fusion over every list a tool returned; the first provenance of a chunk is kept
    and every tool that found it is listed in `found_by`."""

    def __init__(self, rrf_k: int) -> None:
        self.fusion = RankFusion(rrf_k)  # agent.rrf_k
        self.docs: dict[int, Document] = {}

    @property
    def scores(self) -> dict[int, float]:
        return self.fusion.scores

    def add(self, docs: Sequence[Document], weight: float = 1.0) -> None:
        self.fusion.add([doc.metadata["cid"] for doc in docs], weight)
        for doc in docs:
            cid = doc.metadata["cid"]
            if cid not in self.docs:
                self.docs[cid] = Document(doc.page_content, metadata=dict(doc.metadata, found_by=[]), id=doc.id)
            found = self.docs[cid].metadata["found_by"]
            if doc.metadata["retriever"] not in found:
                found.append(doc.metadata["retriever"])

    def ranked(self, k: int | None = None) -> list[Document]:
        out = []
        for cid, score in self.fusion.ranked(k):
            doc = self.docs[cid]
            doc.metadata["score"] = round(score, 5)
            out.append(doc)
        return out


class HopEvidence:
    """Evidence kept in three pools: the first hop (question-level search), the next hop reached from it without the
    LLM (linked titles and entities, PageRank: `next`) and the next hop the LLM directed (sub-question picks, KG walks:
    `picked`). Ranked by the anchors (first-hop passages titled by a name the question states: both sides of a
    comparison, the start of a bridge), then the first hop and the next hop taking turns.

    A bridge question needs one passage from each hop; fused into one list, the third to tenth first-hop hits outrank
    the second-hop passages they link to. Without the anchors, alternation pushes the second entity a comparison
    names down to rank 3. HotpotQA, LLM-free (benchmarks/multihop_retrieval.py, docs/RESULTS.md): agent recall@5 on
    134 bridge questions 0.881 (naive 0.765); recall@2 on 66 comparison questions 0.939 (naive 0.742).
    """

    def __init__(self, rrf_k: int) -> None:
        self.first, self.next, self.picked = EvidencePool(rrf_k), EvidencePool(rrf_k), EvidencePool(rrf_k)
        self.anchors: set[str] = set()

    def anchor(self, title_linker: EntityLinker, question: QuestionAnalysis) -> None:
        """The documents whose titles the question names (exact title or alias matches only)."""
        self.anchors = {link.entity_id for link in question.links(title_linker, fuzzy=False, embedding=False, top=30)}

    @property
    def scores(self) -> dict[int, float]:
        return {**self.picked.scores, **self.next.scores, **self.first.scores}

    def ranked(self, k: int | None = None) -> list[Document]:
        first = self.first.ranked()
        anchored = [d for d in first if d.metadata.get("doc_id") in self.anchors]
        rest = [d for d in first if d.metadata.get("doc_id") not in self.anchors]
        return _interleave(anchored + _interleave(rest, self._next_hop()))[:k]  # one list: only deduplicated

    def _next_hop(self) -> list[Document]:
        """The LLM-free expansions and the LLM-directed passages (sub-question picks, KG walks) take turns: summed
        into one score, a 0.5B model's picks pushed the expansions' bridge passage out of the top five (80 bridge
        questions, Qwen 0.5B, the pools replayed offline: recall@5 0.850 summed, 0.881 taking turns; recall@10 0.956
        and 0.969; recall@2 0.556 and 0.537)."""
        return _interleave(self.next.ranked(), self.picked.ranked())


def _interleave(*lists: list[Document]) -> list[Document]:
    """Round-robin over ranked lists, each chunk kept where it first appears (given one list, its order)."""
    out, seen = [], set()
    for group in zip_longest(*lists):
        for doc in group:
            if doc is not None and doc.metadata["cid"] not in seen:
                seen.add(doc.metadata["cid"])
                out.append(doc)
    return out


def agent_limits(budget: Budget, agent: AgentSettings) -> Budget:
    """The multi-hop modes' limits: the agent block's on top of the caller's budget (the tighter of the two wins).
    The answer step applies them to the session once, before gathering (`AnswerMode.limits`)."""

    def tighter(x: _Limit | None, y: _Limit) -> _Limit:
        return y if x is None else min(x, y)

    return Budget(max_llm_calls=tighter(budget.max_llm_calls, agent.max_llm_calls),
                  max_tokens=tighter(budget.max_tokens, agent.max_tokens),
                  max_seconds=tighter(budget.max_seconds, agent.max_seconds))


def spare_calls(ctx: QuestionContext) -> int:
    """LLM calls left for retrieval steps once the final answer's calls are set aside."""
    left = ctx.session.remaining_calls()
    left = 1_000 if left is None else left
    try:
        ctx.session.check()
    except BudgetExceeded:  # tokens or seconds already spent: no more retrieval calls
        return 0
    return max(0, left - ctx.split.answer_calls)


def ranked_evidence(ctx: QuestionContext, tracer: Tracer, pool: EvidencePool | HopEvidence) -> Gathered:
    """The pooled evidence ranked; its top passages go to the answer step, the rest are listed as evidence."""
    ranked = pool.ranked(ctx.config.agent.evidence_k)
    top = ranked[: ctx.config.agent.answer_k]
    tracer.record("evidence", {"pooled": len(pool.scores)}, [_describe(d) for d in ranked],
                  decision=f"top {len(top)} to the answer step")
    return Gathered(top, ranked)


# What the tools run on: one knowledge base generation's graph view, linkers and atomic index, loaded once.

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
