"""Graph stores behind one Protocol: networkx (embedded, persisted in the knowledge base) and Neo4j over Bolt."""

from kgsolver.connectors.graph_stores.base import GraphStore, open_store

__all__ = ["GraphStore", "open_store"]
