"""`ksl`: Knowledge-Solver. Walk the KG from the question's linked entities (LLM picks hops from numbered choices,
embedding scores combine or stand in, beams kept); the paths' source passages, fused with a hybrid first hop (the
fallback when the KB has no graph), go to the filters and preference policy."""

from __future__ import annotations

from kgsolver.pipeline.agent.evidence import (HopEvidence, finish, fused_search, run_tool, spare_calls,
                                              tighten_budget)
from kgsolver.pipeline.agent.resources import AgentResources
from kgsolver.pipeline.agent.tools import BM25SearchTool, DenseSearchTool, KGWalkTool
from kgsolver.pipeline.results import AskResult, Tracer
from kgsolver.pipeline.solver import QuestionContext


class KSLMode:
    name = "ksl"

    def answer(self, question: str, ctx: QuestionContext) -> AskResult:
        tighten_budget(ctx)
        tracer, hops, res, a = Tracer(), HopEvidence(), AgentResources.for_context(ctx), ctx.config.agent
        hops.anchor(res.title_linker, question)
        hops.first.add(fused_search([DenseSearchTool(res), BM25SearchTool(res)], question, tracer, k=a.first_hop_k))
        if res.store is not None:
            walk = KGWalkTool(res, a, session=ctx.session, tracer=tracer, question=question,
                              can_call=lambda: spare_calls(ctx) >= 1)
            hops.picked.add(run_tool(walk, question, tracer, k=a.first_hop_k))
        else:
            tracer.record("kg_walk", question, None, decision="skipped: this knowledge base has no graph")
        return finish(question, ctx, tracer, hops, self.name)
