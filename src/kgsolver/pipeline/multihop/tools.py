"""The agent's search tools, each a `Search` (pipeline/retrieval.py: the search protocol the knowledge base's
retrievers implement too): dense and keyword search, atomic-question search, the neighbourhood lookup and personalized
PageRank. The KG walk, with its walker, prompts and hop policies, is pipeline/multihop/kg_walk.py, imported only when a
walk runs.

And how the multi-hop modes begin with them, and the KG walk they end with: one place, so pike, ksl and agent start
from the same first hop and budget."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from kgsolver.graphs.view import personalized_pagerank
from kgsolver.pipeline.answer import Tracer, linked
from kgsolver.pipeline.answer.filters.passages import quoted_in
from kgsolver.pipeline.multihop import AgentResources, HopEvidence, fused_search, run_tool, spare_calls
from kgsolver.pipeline.retrieval import BM25Retriever, DenseRetriever, Search

if TYPE_CHECKING:
    from kgsolver.pipeline.answer import QuestionAnalysis, QuestionContext

__all__ = ["AtomicSearchTool", "HopStart", "NeighbourhoodTool", "PageRankTool", "Search", "bm25_search", "dense_search",
           "first_hop", "kg_walk_passages", "quoted_passages", "search_tools"]


# Dense and keyword search as agent tools: the knowledge base's retrievers themselves, named as the multi-hop modes'
# tools, so that those modes search with the same code as naive retrieval (a plain retriever ignores the seeds).


def dense_search(resources: AgentResources) -> DenseRetriever:
    """Semantic search over passages."""
    return DenseRetriever(kb=resources.kb, embedder=resources.embedder, name="dense_search")


def bm25_search(resources: AgentResources) -> BM25Retriever:
    """Keyword search over passages (names, rare words)."""
    return BM25Retriever(kb=resources.kb, name="bm25_search")


def search_tools(resources: AgentResources) -> list[Search]:
    """The question-level search tools this KB supports (atomic search only once it is atomized)."""
    tools: list[Search] = [dense_search(resources), bm25_search(resources)]
    atomic = AtomicSearchTool(resources)
    if atomic.available:
        tools.append(atomic)
    return tools


# Atomic-question search (PIKE-RAG): match the query against the questions each chunk answers.


class AtomicSearchTool(Search):
    """Find passages whose atomic questions match a (sub-)question."""

    name = "atomic_search"

    def __init__(self, resources: AgentResources) -> None:
        self.resources = resources

    @property
    def available(self) -> bool:
        return self.resources.atomic is not None and len(self.resources.atomic) > 0

    def get_search_results(self, query: str, seeds: Sequence[Document], k: int) -> list[Document]:
        atomic = self.resources.atomic
        if atomic is None or not len(atomic):  # `available`, narrowed for the type checker
            return []
        vector = self.resources.embedder.encode([query])[0]
        hits = atomic.search(vector, k)  # `read_atomic` left the deleted chunks' questions out
        return self.resources.documents([(h.cid, h.score) for h in hits], self.name,
                                        [{"atomic_question": h.question} for h in hits])


# Neighbourhood lookup: from seed passages to the passages they point at, without an LLM.
#
# Two kinds of links: a document title mentioned in a seed's text (Wikipedia-style titles act as hyperlinks: the
# bridge entity of a 2-hop question is usually named in the first-hop passage), and KG entities the seed mentions that
# few other passages mention (specific entities, not hubs). Candidates are ranked by the embedding similarity of the
# query to the candidate, weighted by the seed's rank and the link kind.


class NeighbourhoodTool(Search):
    """Passages linked from seed passages (titles they mention, entities they share)."""

    name = "neighbourhood"

    def __init__(self, resources: AgentResources) -> None:
        self.resources = resources

    def _title_links(self, doc: Document) -> dict[int, str]:
        out = {}
        own = doc.metadata.get("doc_id")
        for link in self.resources.title_linker.link(doc.page_content, fuzzy=False, embedding=False, top=30):
            cid = self.resources.first_chunk(link.entity_id)
            if link.entity_id != own and cid is not None:
                out[cid] = f"title '{link.name}'"
        return out

    def _entity_links(self, doc: Document) -> dict[int, str]:
        store = self.resources.store
        out: dict[int, str] = {}
        if store is None or "cid" not in doc.metadata:
            return out
        for eid in store.entities_in_chunks([doc.metadata["cid"]]).get(doc.metadata["cid"], []):
            chunks = store.chunks_of(eid)
            if 1 < len(chunks) <= self.resources.agent_settings.entity_max_chunks:
                entity = store.get_entity(eid)
                for cid in chunks:
                    if cid != doc.metadata["cid"]:
                        out.setdefault(cid, f"entity '{entity.name if entity else eid}'")
        return out

    def candidates(self, seeds: Sequence[Document]) -> dict[int, tuple[float, str]]:
        """cid -> (link weight, why); title links outrank shared entities, earlier seeds outrank later ones."""
        found: dict[int, tuple[float, str]] = {}
        seed_ids, a = {d.metadata.get("cid") for d in seeds}, self.resources.agent_settings
        for rank, seed in enumerate(seeds):
            via = seed.metadata.get("title", "")
            for kind, weight in ((self._title_links(seed), a.title_link_score),
                                 (self._entity_links(seed), a.entity_link_score)):
                for cid, why in kind.items():
                    w = weight / (1 + 0.5 * rank)
                    if cid not in seed_ids and w > found.get(cid, (0.0, ""))[0]:
                        found[cid] = (w, f"{why} in '{via}'")
        return found

    def get_search_results(self, query: str, seeds: Sequence[Document], k: int) -> list[Document]:
        found = self.candidates(seeds)
        cids = list(found)
        sims = self.resources.chunk_similarity(query, cids)
        scored = sorted(((found[c][0] * (0.5 + float(s)), c) for c, s in zip(cids, sims, strict=True)),
                        reverse=True)[:k]
        return self.resources.documents([(cid, score) for score, cid in scored], self.name,
                                        [{"via": found[cid][1]} for _, cid in scored])


# Personalized PageRank (HippoRAG): seed the KG with the query's linked entities (and the seed passages'
# entities), rank entities around them, and score passages by the rank mass of the entities they mention.


class PageRankTool(Search):
    """Passages around the question's entities in the knowledge graph."""

    name = "ppr"

    def __init__(self, resources: AgentResources, question: QuestionAnalysis | None = None) -> None:
        self.resources, self.settings = resources, resources.agent_settings
        self.question = question  # analysed once: a query that is the question reuses its entity links

    def seeds(self, query: str, seeds: Sequence[Document]) -> dict[str, float]:
        store, linker = self.resources.store, self.resources.entity_linker
        assert store is not None and linker is not None, "run() seeds only a knowledge base with a graph"
        weights: dict[str, float] = {}
        for link in linked(linker, query, self.question, embedding=False):
            weights[link.entity_id] = max(weights.get(link.entity_id, 0.0), link.score)
        cids = [d.metadata["cid"] for d in seeds if "cid" in d.metadata]
        for rank, eids in enumerate(store.entities_in_chunks(cids).values()):
            for eid in eids:
                weights[eid] = max(weights.get(eid, 0.0), self.settings.ppr_seed_passage_weight / (1 + rank))
        return weights

    def get_search_results(self, query: str, seeds: Sequence[Document], k: int) -> list[Document]:
        store = self.resources.store
        if store is None:
            return []
        weights = self.seeds(query, seeds)
        ranked = personalized_pagerank(store, weights, hops=self.settings.ppr_hops,
                                       degree_cap=self.settings.ppr_degree_cap, top=200)
        scores: dict[int, float] = {}
        for eid, score in ranked:
            chunks = store.chunks_of(eid)
            for cid in chunks:  # an entity named in many passages says little about any one of them
                scores[cid] = scores.get(cid, 0.0) + score / math.log(2 + len(chunks))
        seed_ids = {d.metadata.get("cid") for d in seeds}
        best = sorted(((s, c) for c, s in scores.items() if c not in seed_ids and c in self.resources.kb.chunks),
                      reverse=True)[:k]
        return self.resources.documents([(cid, score) for score, cid in best], self.name)


@dataclass
class HopStart:
    tracer: Tracer
    hops: HopEvidence
    res: AgentResources
    first_tools: list[Search]


def first_hop(question: str, ctx: QuestionContext, tracer: Tracer,
              first_tools: Callable[[AgentResources], Iterable[Search]] | None = None) -> HopStart:
    """The question's titles anchored, and the first-hop search (every search tool unless `first_tools` names some)
    fused into `hops.first`."""
    res = AgentResources.for_context(ctx)
    a = ctx.config.agent
    start = HopStart(tracer, HopEvidence(a.rrf_k), res, list(first_tools(res)) if first_tools else search_tools(res))
    start.hops.anchor(start.res.title_linker, ctx.question)
    start.hops.first.add(fused_search(start.first_tools, question, start.tracer, k=a.first_hop_k, rrf_k=a.rrf_k))
    quoted = quoted_passages(ctx.question.quoted, start.res, tracer, a.quoted_anchor_k)
    start.hops.first.add(quoted)
    start.hops.anchors |= {d.metadata["doc_id"] for d in quoted}
    return start


def quoted_passages(phrases: Sequence[str], res: AgentResources, tracer: Tracer, k: int) -> list[Document]:
    """Passages that contain a phrase the question quotes ('a song called "Counterparts"'), found by keyword search on
    the phrase alone: a quoted title is an exact reference, which the whole question's search can rank out of reach
    (its other words match other pages). At most k a phrase; the phrase must occur whole, not only its words."""
    if k <= 0:
        return []
    found: list[Document] = []
    for phrase in phrases:
        hits = run_tool(bm25_search(res), phrase, tracer, k=k)
        found += [d for d in hits if quoted_in(d, [phrase])]
    return found


def kg_walk_passages(question: str, ctx: QuestionContext, start: HopStart) -> list[Document]:
    """The passages of an LLM-guided KG walk from the question, calling the LLM only while calls are to spare."""
    from kgsolver.pipeline.multihop.kg_walk import KGWalkTool  # the walker loads only when a walk runs

    walk = KGWalkTool(start.res, ctx.config.agent, session=ctx.session, tracer=start.tracer, question=question,
                      can_call=lambda: spare_calls(ctx) >= 1, analysis=ctx.question)
    return run_tool(walk, question, start.tracer, k=ctx.config.agent.first_hop_k)
