"""`pike`: PIKE-RAG. First-hop search over the atomic-question index (when the KB is atomized) and the chunk
indexes, then knowledge-aware decomposition rounds (LLM proposes a sub-question, tools retrieve, LLM selects), then
the filters and preference policy on the pooled evidence."""

from __future__ import annotations

from kgsolver.pipeline.agent.decomposition import Decomposer, Rationale
from kgsolver.pipeline.agent.evidence import HopEvidence, finish, fused_search, tighten_budget
from kgsolver.pipeline.agent.resources import AgentResources
from kgsolver.pipeline.agent.tools import NeighbourhoodTool, PageRankTool, search_tools
from kgsolver.pipeline.results import AskResult, Tracer
from kgsolver.pipeline.solver import QuestionContext


class PikeMode:
    name = "pike"

    def answer(self, question: str, ctx: QuestionContext) -> AskResult:
        tighten_budget(ctx)
        tracer, hops, res, a = Tracer(), HopEvidence(), AgentResources.for_context(ctx), ctx.config.agent
        hops.anchor(res.title_linker, question)
        first = search_tools(res)
        hops.first.add(fused_search(first, question, tracer, k=a.first_hop_k))
        rationale = Rationale()
        for doc in hops.first.ranked(2):
            rationale.add(doc)
        rounds = first + [NeighbourhoodTool(res)] + ([PageRankTool(res)] if res.store is not None else [])
        Decomposer(ctx, tracer, rounds, hops.picked).run(question, rationale)
        return finish(question, ctx, tracer, hops, self.name)
