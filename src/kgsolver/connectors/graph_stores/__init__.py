"""Graph stores behind one Protocol: networkx (embedded, persisted in the knowledge base) and Neo4j over Bolt, one
module per backend. Here, their shared ground: the KG model (entities, relations with provenance, chunk <-> entity
mentions), the store Protocol every graph backend implements, the factory that opens the configured one, and the k-hop
walk every store's `neighbors` runs. The model lives beside the stores (connectors/ is the lowest layer): the stores
read and write it, graphs/ builds and walks it.

Every entity and relation names where it came from: `source` is "text" (extracted from chunks, whose ids are in
`chunks`) or "kg:<name>" (imported from an external KG file).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from kgsolver.connectors import Registry

# The KG model.

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
        # Field by field, lists copied: what dataclasses.asdict gives, without its recursive deep copy of every
        # string (a third of a graph upsert's time on KILT passages, issue 35). A field added above goes here too.
        return {"id": self.id, "name": self.name, "type": self.type, "aliases": list(self.aliases),
                "description": self.description, "source": self.source}


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
        # as Entity.to_record: asdict's output, built directly
        return {"subject": self.subject, "predicate": self.predicate, "object": self.object,
                "confidence": self.confidence, "chunks": list(self.chunks), "source": self.source,
                "attrs": self.attrs}


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


# The store Protocol every graph backend implements, and the factory that opens the configured one.


@runtime_checkable
class GraphReader(Protocol):
    """What the query path may do with a graph (`graphs.view.GraphView.store`): read it. Every store is one."""

    def get_entity(self, entity_id: str) -> Entity | None: ...

    def iter_entities(self) -> Iterator[Entity]: ...

    def entities_in_chunks(self, chunk_ids: Iterable[int]) -> dict[int, list[str]]: ...

    def chunks_of(self, entity_id: str) -> list[int]: ...

    def neighbors(self, seeds: list[str], *, hops: int = 1, predicates: list[str] | None = None,
                  degree_cap: int = 50) -> Subgraph:
        """The k-hop neighbourhood of the seeds, both directions; a node with more than `degree_cap` edges is
        reached but not expanded (hubs like `All` do not swallow the graph)."""

    def shortest_path(self, source: str, target: str, *, max_hops: int = 4) -> Subgraph | None: ...

    def stats(self) -> dict[str, Any]: ...


@runtime_checkable
class GraphStore(GraphReader, Protocol):
    """A graph backend: read, written by ingest and graph import, closed."""

    def upsert(self, batch: GraphBatch) -> None:
        """Add or update entities (by id), relations (by subject, predicate, object: chunk provenance is unioned,
        confidence kept at the maximum) and mentions."""

    def remove_chunks(self, chunk_ids: Iterable[int]) -> int:
        """Drop the mentions and relation provenance of these chunks; relations and text entities left with no
        provenance are deleted. Returns the number of relations deleted."""

    def close(self) -> None: ...


class FileStore(GraphStore, Protocol):
    """A store held in memory and saved whole (networkx): a knowledge base keeps it as a file component, the writes
    of a commit applied to it and journaled as the file's delta."""

    def save(self, path: Path) -> None: ...


class ServerStore(GraphStore, Protocol):
    """A server (Bolt) store: a database of its own that records which of the knowledge base's journals it has
    applied (a writer killed between its commit and its replay leaves one pending)."""

    def applied_journal(self) -> tuple[int, str] | None: ...

    def mark_applied(self, generation: int, journal: str) -> None: ...


def _networkx(path: Path | None, namespace: str | None) -> GraphStore:
    from kgsolver.connectors.graph_stores.networkx_store import NetworkXStore

    return NetworkXStore.load(path) if path and path.exists() else NetworkXStore()


def _neo4j(path: Path | None, namespace: str | None) -> ServerStore:
    from kgsolver.connectors.graph_stores.neo4j_store import Neo4jStore

    if namespace:
        return Neo4jStore.from_env(label=f"Entity_{namespace}", chunk_label=f"Chunk_{namespace}")
    return Neo4jStore.from_env()


# Factories import their backend (the Bolt driver) only when a store of that kind is opened.
GRAPH_STORES: Registry[GraphStore] = Registry("graph store", {"networkx": _networkx, "neo4j": _neo4j})
# The kinds that are servers: what opens one is typed a ServerStore, so no caller probes for its capabilities.
SERVER_STORES: Registry[ServerStore] = Registry("graph server store", {"neo4j": _neo4j})


def open_store(kind: str, *, path: Path | None = None, namespace: str | None = None) -> GraphStore:
    """`namespace` scopes a shared Bolt database: its nodes get the labels Entity_<namespace> and Chunk_<namespace>."""
    return GRAPH_STORES.get(kind, path, namespace)


def open_server_store(kind: str, *, namespace: str | None = None) -> ServerStore:
    """A server store of a kind `SERVER_STORES` names (`namespace` as in `open_store`)."""
    return SERVER_STORES.get(kind, None, namespace)


# The k-hop walk every store's `neighbors` runs (one copy for the networkx and the Bolt store): the store gives
# its batched reads, the walk decides what is expanded and in which order.


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
