"""The knowledge graph: model, extractors, import, entity resolution, linking, algorithms and verbalization."""
