"""Personalized PageRank (HippoRAG): seed the KG with the query's linked entities (and the seed passages'
entities), rank entities around them, and score passages by the rank mass of the entities they mention."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from kgsolver.graphs.view import personalized_pagerank
from kgsolver.pipeline.answer.context import linked
from kgsolver.pipeline.retrieval import Search

if TYPE_CHECKING:
    from kgsolver.pipeline.answer.context import QuestionAnalysis
    from kgsolver.pipeline.multihop.resources import AgentResources


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
