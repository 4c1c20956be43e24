"""`pike`: PIKE-RAG. First-hop search over the atomic-question index (when the KB is atomized) and the chunk
indexes, then knowledge-aware decomposition rounds (LLM proposes a sub-question, tools retrieve, LLM selects), then
the pooled evidence to the answer step."""

from __future__ import annotations

from kgsolver.connectors.llms import Budget
from kgsolver.pipeline.answer import Gathered, QuestionContext, Tracer
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.multihop import agent_limits, ranked_evidence
from kgsolver.pipeline.multihop.decomposition import Decomposer, Rationale
from kgsolver.pipeline.multihop.tools import NeighbourhoodTool, PageRankTool, first_hop


class PikeMode:
    name = "pike"

    def limits(self, budget: Budget, config: KGSolverConfig) -> Budget:
        return agent_limits(budget, config.agent)

    def gather(self, question: str, ctx: QuestionContext, tracer: Tracer) -> Gathered:
        start = first_hop(question, ctx, tracer)
        hops, res = start.hops, start.res
        rationale = Rationale(ctx.config.agent.fact_chars)
        for doc in hops.first.ranked(2):
            rationale.add(doc)
        graph = [PageRankTool(res, ctx.question)] if res.store is not None else []
        rounds = start.first_tools + [NeighbourhoodTool(res)] + graph
        Decomposer(ctx, tracer, rounds, hops.picked, weight=ctx.config.agent.pike_pick_weight).run(question, rationale)
        return ranked_evidence(ctx, tracer, hops)
