"""One knowledge base's graph as the query path reads it: the store and an entity linker over its entities, loaded
once, on first use. How the store is opened (which backend, which KB component) is the caller's: graphs/ never
imports the pipeline, so the pipeline hands in an opener (pipeline/multihop/resources.py builds one per KB generation).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kgsolver.connectors.graph_stores.base import GraphReader, GraphStore

if TYPE_CHECKING:  # linking pulls in spaCy: imported when a graph is first used, not with the package
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
