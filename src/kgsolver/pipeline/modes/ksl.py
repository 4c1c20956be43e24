"""`ksl`: Knowledge-Solver. Walk the KG from the question's linked entities (LLM picks hops from numbered choices,
embedding scores combine or stand in, beams kept); the paths' source passages, fused with a hybrid first hop (the
fallback when the KB has no graph), go to the answer step."""

from __future__ import annotations

from kgsolver.connectors.llms import Budget
from kgsolver.pipeline.answer import Gathered, QuestionContext, Tracer
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.multihop import agent_limits, ranked_evidence
from kgsolver.pipeline.multihop.tools import bm25_search, dense_search, first_hop, kg_walk_passages


class KSLMode:
    name = "ksl"

    def limits(self, budget: Budget, config: KGSolverConfig) -> Budget:
        return agent_limits(budget, config.agent)

    def gather(self, question: str, ctx: QuestionContext, tracer: Tracer) -> Gathered:
        start = first_hop(question, ctx, tracer, lambda res: [dense_search(res), bm25_search(res)])
        hops = start.hops
        if start.res.store is not None:
            hops.picked.add(kg_walk_passages(question, ctx, start))
        else:
            tracer.record("kg_walk", question, None, decision="skipped: this knowledge base has no graph")
        return ranked_evidence(ctx, tracer, hops)
