"""How the multi-hop modes begin, and the KG walk they end with: one place, so pike, ksl and agent start from the same
first hop and budget."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Iterable

from langchain_core.documents import Document

from kgsolver.pipeline.agent.evidence import HopEvidence, fused_search, run_tool, spare_calls, tighten_budget
from kgsolver.pipeline.agent.resources import AgentResources
from kgsolver.pipeline.agent.tools import KGWalkTool, search_tools
from kgsolver.pipeline.results import Tracer

if TYPE_CHECKING:
    from kgsolver.pipeline.agent.tools.base import Tool
    from kgsolver.pipeline.solver import QuestionContext


@dataclass
class HopStart:
    tracer: Tracer
    hops: HopEvidence
    res: AgentResources
    first_tools: list[Tool]


def first_hop(question: str, ctx: QuestionContext, tracer: Tracer,
              first_tools: Callable[[AgentResources], Iterable[Tool]] | None = None) -> HopStart:
    """The budget tightened by the agent's limits, the question's titles anchored, and the first-hop search (every
    search tool unless `first_tools` names some) fused into `hops.first`."""
    tighten_budget(ctx)
    res = AgentResources.for_context(ctx)
    a = ctx.config.agent
    start = HopStart(tracer, HopEvidence(a.rrf_k), res, list(first_tools(res)) if first_tools else search_tools(res))
    start.hops.anchor(start.res.title_linker, question)
    start.hops.first.add(fused_search(start.first_tools, question, start.tracer, k=a.first_hop_k, rrf_k=a.rrf_k))
    return start


def kg_walk_passages(question: str, ctx: QuestionContext, start: HopStart) -> list[Document]:
    """The passages of an LLM-guided KG walk from the question, calling the LLM only while calls are to spare."""
    walk = KGWalkTool(start.res, ctx.config.agent, session=ctx.session, tracer=start.tracer, question=question,
                      can_call=lambda: spare_calls(ctx) >= 1)
    return run_tool(walk, question, start.tracer, k=ctx.config.agent.first_hop_k)
