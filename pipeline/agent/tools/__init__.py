"""The agent's tools, one per module behind the `Tool` protocol (tools/base.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from kgsolver.pipeline.agent.tools.atomic import AtomicSearchTool
from kgsolver.pipeline.agent.tools.base import Tool
from kgsolver.pipeline.agent.tools.bm25 import BM25SearchTool
from kgsolver.pipeline.agent.tools.dense import DenseSearchTool
from kgsolver.pipeline.agent.tools.kg_walk import KGWalkTool
from kgsolver.pipeline.agent.tools.neighbourhood import NeighbourhoodTool
from kgsolver.pipeline.agent.tools.ppr import PageRankTool

if TYPE_CHECKING:
    from kgsolver.pipeline.agent.resources import AgentResources

__all__ = ["AtomicSearchTool", "BM25SearchTool", "DenseSearchTool", "KGWalkTool", "NeighbourhoodTool",
           "PageRankTool", "Tool", "search_tools"]


def search_tools(resources: AgentResources) -> list[Tool]:
    """The question-level search tools this KB supports (atomic search only once it is atomized)."""
    tools: list[Tool] = [DenseSearchTool(resources), BM25SearchTool(resources)]
    atomic = AtomicSearchTool(resources)
    if atomic.available:
        tools.append(atomic)
    return tools
