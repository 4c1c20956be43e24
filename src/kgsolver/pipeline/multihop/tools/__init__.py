"""The agent's tools, one per module, each a `Search` (pipeline/retrieval/base.py): the search protocol the
knowledge base's retrievers implement too."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgsolver.connectors.registry import lazy_exports
from kgsolver.pipeline.multihop.tools.atomic import AtomicSearchTool
from kgsolver.pipeline.multihop.tools.search import bm25_search, dense_search
from kgsolver.pipeline.retrieval import Search

if TYPE_CHECKING:
    from kgsolver.pipeline.multihop.resources import AgentResources
    from kgsolver.pipeline.multihop.tools.kg_walk import KGWalkTool
    from kgsolver.pipeline.multihop.tools.neighbourhood import NeighbourhoodTool
    from kgsolver.pipeline.multihop.tools.ppr import PageRankTool

# The tools past the first hop are imported on first use (PEP 562): a mode loads the ones it names, and the KG walk
# (its walker, prompts and hop policies) loads only when a walk runs.
__getattr__ = lazy_exports(__name__, {"KGWalkTool": "kg_walk", "NeighbourhoodTool": "neighbourhood",
                                      "PageRankTool": "ppr"})

__all__ = ["AtomicSearchTool", "KGWalkTool", "NeighbourhoodTool", "PageRankTool", "Search", "bm25_search",
           "dense_search", "search_tools"]


def search_tools(resources: AgentResources) -> list[Search]:
    """The question-level search tools this KB supports (atomic search only once it is atomized)."""
    tools: list[Search] = [dense_search(resources), bm25_search(resources)]
    atomic = AtomicSearchTool(resources)
    if atomic.available:
        tools.append(atomic)
    return tools
