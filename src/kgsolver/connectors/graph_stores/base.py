"""The store Protocol every graph backend implements, and the factory that opens the configured one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from kgsolver.connectors.graph_stores.model import Entity, GraphBatch, Subgraph
from kgsolver.connectors.registry import Registry


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
