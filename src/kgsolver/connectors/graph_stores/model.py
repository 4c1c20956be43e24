"""The KG model: entities, relations with provenance, and chunk <-> entity mentions. It lives beside the graph stores
(connectors/ is the lowest layer): the stores read and write it, graphs/ builds and walks it.

Every entity and relation names where it came from: `source` is "text" (extracted from chunks, whose ids are in
`chunks`) or "kg:<name>" (imported from an external KG file).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

_SPACE = re.compile(r"\s+")
_EDGE_PUNCT = re.compile(r"^[\W_]+|[\W_]+$", re.UNICODE)
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)
_POSSESSIVE = re.compile(r"['\u2019]s$")


def normalize_name(name: str) -> str:
    """The key that alias tables and exact linking compare: NFKC, casefold, no article, possessive or edge
    punctuation."""
    text = unicodedata.normalize("NFKC", name).casefold().strip()
    text = _POSSESSIVE.sub("", text)
    text = _LEADING_ARTICLE.sub("", text)
    text = _EDGE_PUNCT.sub("", text)
    return _SPACE.sub(" ", text)


def text_entity_id(name: str) -> str:
    return "t:" + normalize_name(name)


@dataclass
class Entity:
    id: str
    name: str
    type: str = "Thing"
    aliases: list[str] = field(default_factory=list)
    description: str = ""
    source: str = "text"

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Relation:
    subject: str
    predicate: str
    object: str
    confidence: float = 1.0
    chunks: list[int] = field(default_factory=list)
    source: str = "text"
    attrs: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.subject, self.predicate, self.object)

    def to_record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Mention:
    chunk_id: int
    entity_id: str
    text: str = ""


@dataclass
class GraphBatch:
    """What an extractor or importer produces; stores upsert it in one go."""

    entities: list[Entity] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    mentions: list[Mention] = field(default_factory=list)

    def extend(self, other: GraphBatch) -> None:
        self.entities += other.entities
        self.relations += other.relations
        self.mentions += other.mentions


@dataclass
class Subgraph:
    """A neighbourhood or path read back from a store."""

    entities: dict[str, Entity] = field(default_factory=dict)
    relations: list[Relation] = field(default_factory=list)


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
