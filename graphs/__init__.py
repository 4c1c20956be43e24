"""The knowledge graph: model, extractors, import, entity resolution, linking, algorithms and verbalization."""

from kgsolver.graphs.kg_facts import kg_facts

__all__ = ["kg_facts"]
