"""The agent's tools, one per module behind the `Tool` protocol (tools/base.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgsolver.pipeline.multihop.tools.atomic import AtomicSearchTool
from kgsolver.pipeline.multihop.tools.base import Tool
from kgsolver.pipeline.multihop.tools.kg_walk import KGWalkTool
from kgsolver.pipeline.multihop.tools.neighbourhood import NeighbourhoodTool
from kgsolver.pipeline.multihop.tools.ppr import PageRankTool
from kgsolver.pipeline.multihop.tools.search import RetrieverTool, bm25_search, dense_search

if TYPE_CHECKING:
    from kgsolver.pipeline.multihop.resources import AgentResources

__all__ = ["AtomicSearchTool", "KGWalkTool", "NeighbourhoodTool", "PageRankTool", "RetrieverTool", "Tool",
           "bm25_search", "dense_search", "search_tools"]


def search_tools(resources: AgentResources) -> list[Tool]:
    """The question-level search tools this KB supports (atomic search only once it is atomized)."""
    tools: list[Tool] = [dense_search(resources), bm25_search(resources)]
    atomic = AtomicSearchTool(resources)
    if atomic.available:
        tools.append(atomic)
    return tools
