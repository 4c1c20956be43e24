"""The knowledge graph: model, extractors, import, entity resolution, linking, algorithms, verbalization, and the
per-knowledge-base view the query path reads (`GraphView`: store, entity linker, facts)."""

from kgsolver.graphs.kg_facts import kg_facts
from kgsolver.graphs.view import GraphView

__all__ = ["GraphView", "kg_facts"]
