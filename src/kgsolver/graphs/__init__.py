"""The knowledge graph: model, extractors, import, entity resolution, linking, verbalization, and the
per-knowledge-base view the query path reads (`GraphView`: store, entity linker, facts; personalized PageRank)."""

from kgsolver.connectors.registry import lazy_exports

# Imported on first use: the configuration reads graphs.settings, which must not import the query path's facts code.
# (`kg_facts`, the function, is imported from its module: a package attribute of that name is the submodule.)
__all__ = ["GraphView"]
__getattr__ = lazy_exports(__name__, {"GraphView": "view"})
