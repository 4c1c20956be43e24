"""One knowledge base's graph as the query path reads it: the store and an entity linker over its entities, loaded
once, on first use (`GraphView`), and personalized PageRank over any graph (a GraphReader), seeded by linked entities
(HippoRAG). How the store is opened (which backend, which KB component) is the caller's: graphs/ never imports the
pipeline, so the pipeline hands in an opener (pipeline/multihop/__init__.py builds one per KB generation).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kgsolver.connectors.graph_stores import GraphReader, GraphStore, Subgraph

if TYPE_CHECKING:  # linking pulls in spaCy, PageRank networkx: imported when first used, not with the module
    import networkx as nx

    from kgsolver.graphs.linking import EntityLinker


class GraphView:
    def __init__(self, open_store: Callable[[], GraphStore | None]) -> None:
        self._open_store = open_store

    @cached_property
    def store(self) -> GraphReader | None:
        """The graph, read-only (the query path never writes it), or None when the knowledge base has no graph."""
        return self._open_store()

    @cached_property
    def entity_linker(self) -> EntityLinker | None:
        from kgsolver.graphs.linking import EntityLinker

        return EntityLinker(self.store.iter_entities()) if self.store is not None else None

    def facts(self, text: str, limit: int, **options: Any) -> list[str]:
        """One-sentence facts, with provenance, about what `text` mentions (graphs/kg_facts.py)."""
        from kgsolver.graphs.kg_facts import kg_facts

        return kg_facts(self, text, limit, **options)


# Personalized PageRank on the seeds' k-hop neighbourhood (the store's `neighbors`).


def subgraph_to_networkx(sub: Subgraph) -> nx.Graph:
    import networkx as nx

    g = nx.Graph()
    g.add_nodes_from(sub.entities)
    for r in sub.relations:
        weight = r.confidence
        if g.has_edge(r.subject, r.object):
            weight += g.edges[r.subject, r.object]["weight"]
        g.add_edge(r.subject, r.object, weight=weight)
    return g


def personalized_pagerank(store: GraphReader, seeds: dict[str, float], *, hops: int = 2, degree_cap: int = 50,
                          alpha: float = 0.85, top: int = 20) -> list[tuple[str, float]]:
    """Rank entities around the seeds (weights: link scores). Runs on the seeds' k-hop neighbourhood so that it
    costs the same on a 300k-edge graph held in networkx or in a Bolt server."""
    import networkx as nx

    seeds = {k: v for k, v in seeds.items() if v > 0}
    if not seeds:
        return []
    g = subgraph_to_networkx(store.neighbors(list(seeds), hops=hops, degree_cap=degree_cap))
    present = {k: v for k, v in seeds.items() if k in g}
    if not present:
        return []
    if g.number_of_edges() == 0:
        total = sum(present.values())
        return sorted(((k, v / total) for k, v in present.items()), key=lambda x: -x[1])[:top]
    scores = nx.pagerank(g, alpha=alpha, personalization=present, weight="weight")
    return sorted(scores.items(), key=lambda x: (-x[1], x[0]))[:top]
