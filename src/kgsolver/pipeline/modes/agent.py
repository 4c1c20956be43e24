"""`agent`: one budgeted agent with every tool. LLM-free first: dense, BM25 and atomic-question search on the
question, then neighbourhood lookup (titles and entities the first-hop passages mention) and personalized PageRank
from the question's and first-hop passages' entities. Then, while LLM calls are to spare beyond the answer's, one
decomposition round (sub-question proposed and knowledge selected by the LLM) and a KG walk (LLM-picked hops). First-hop
hits and everything found from them are ranked apart and alternate in the evidence (multihop.HopEvidence), which goes
to the answer step."""

from __future__ import annotations

from kgsolver.connectors.llms import Budget
from kgsolver.pipeline.answer import Gathered, QuestionContext, Tracer
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.multihop import agent_limits, ranked_evidence, run_tool, spare_calls
from kgsolver.pipeline.multihop.decomposition import Decomposer, Rationale
from kgsolver.pipeline.multihop.tools import NeighbourhoodTool, PageRankTool, first_hop, kg_walk_passages


class AgentMode:
    name = "agent"

    def limits(self, budget: Budget, config: KGSolverConfig) -> Budget:
        return agent_limits(budget, config.agent)

    def gather(self, question: str, ctx: QuestionContext, tracer: Tracer) -> Gathered:
        start = first_hop(question, ctx, tracer)
        hops, res, a = start.hops, start.res, ctx.config.agent
        seeds = hops.first.ranked(a.expand_from)
        hops.next.add(run_tool(NeighbourhoodTool(res), question, tracer, seeds=seeds, k=a.first_hop_k),
                      weight=a.expansion_weight)
        if res.store is not None:
            hops.next.add(run_tool(PageRankTool(res, ctx.question), question, tracer, seeds=seeds, k=a.first_hop_k),
                          weight=a.ppr_weight)
        rationale = Rationale(a.fact_chars)
        for doc in hops.first.ranked(2):
            rationale.add(doc)
        rounds = start.first_tools + [NeighbourhoodTool(res)]
        # A selected passage adds llm_pick_weight to its candidate_weight as a sub-question candidate; a KG walk's
        # passages count ppr_weight, so a walk's top hit can still rank above a low pick (agent settings).
        Decomposer(ctx, tracer, rounds, hops.picked, weight=a.llm_pick_weight).run(question, rationale)
        if res.store is not None and spare_calls(ctx) >= 1:
            hops.picked.add(kg_walk_passages(question, ctx, start), weight=a.ppr_weight)
        return ranked_evidence(ctx, tracer, hops)
