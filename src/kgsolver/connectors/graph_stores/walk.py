"""The k-hop walk every store's `neighbors` runs (one copy for the networkx and the Bolt store): the store gives its
batched reads, the walk decides what is expanded and in which order."""

from __future__ import annotations

from collections.abc import Callable

from kgsolver.connectors.graph_stores.model import Relation


def edge_order(edge: tuple[Relation, str]) -> tuple[float, str, str]:
    """Best edge first: a (relation, other end) pair by confidence, then predicate, then the other end's id."""
    rel, other = edge
    return (-rel.confidence, rel.predicate, other)


def walk_neighbourhood(start: list[str], *, hops: int, degree_cap: int,
                       degrees: Callable[[list[str]], dict[str, int]],
                       edges: Callable[[list[str]], dict[str, list[tuple[Relation, str]]]],
                       ) -> tuple[list[Relation], set[str]]:
    """The k-hop walk every store's `neighbors` runs: the relations met (each once) and the entity ids reached.

    A store gives the two reads, batched over a frontier: `degrees` (edges per node) and `edges` (each node's
    relations with the node at their other end, sorted by `edge_order`). After the first hop a node with more than
    `degree_cap` edges is reached but not expanded, and a node expands `degree_cap` edges at most, so that hubs like
    `All` do not swallow the graph."""
    relations: list[Relation] = []
    rel_keys: set[tuple[str, str, str]] = set()
    frontier, visited = list(start), set(start)
    for hop in range(hops):
        if hop > 0 and frontier:
            counts = degrees(frontier)
            frontier = [n for n in frontier if counts.get(n, 0) <= degree_cap]
        found, nxt = edges(frontier) if frontier else {}, []
        for node in frontier:
            for rel, other in found.get(node, [])[:degree_cap]:
                if rel.key not in rel_keys:
                    rel_keys.add(rel.key)
                    relations.append(rel)
                if other not in visited:
                    visited.add(other)
                    nxt.append(other)
        frontier = nxt
    return relations, visited
