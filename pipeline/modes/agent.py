"""`agent`: one budgeted agent with every tool. LLM-free first: dense, BM25 and atomic-question search on the
question, then neighbourhood lookup (titles and entities the first-hop passages mention) and personalized PageRank
from the question's and first-hop passages' entities. Then, while LLM calls are to spare beyond the answer's, one
decomposition round (sub-question proposed and knowledge selected by the LLM) and a KG walk (LLM-picked hops). First-hop
hits and everything found from them are ranked apart and alternate in the evidence (evidence.HopEvidence), which goes
through the filters and preference policy."""

from __future__ import annotations

from kgsolver.pipeline.agent.decomposition import Decomposer, Rationale
from kgsolver.pipeline.agent.evidence import finish, run_tool, spare_calls
from kgsolver.pipeline.agent.first_hop import first_hop, kg_walk
from kgsolver.pipeline.agent.tools import NeighbourhoodTool, PageRankTool
from kgsolver.pipeline.results import AskResult
from kgsolver.pipeline.solver import QuestionContext

EXPANSION_WEIGHT = 1.0
PPR_WEIGHT = 0.5
# Within the LLM-directed pool (hops.picked): a selected passage adds 0.75 to its 0.5 as a sub-question candidate,
# and a KG walk's passages count 0.5, so a walk's top hit can still rank above a low pick. (The weights were set when
# the two next-hop pools were still one score; taking turns since, see evidence.HopEvidence.)
LLM_PICK_WEIGHT = 0.75


class AgentMode:
    name = "agent"

    def answer(self, question: str, ctx: QuestionContext) -> AskResult:
        start = first_hop(question, ctx)
        tracer, hops, res, a = start.tracer, start.hops, start.res, ctx.config.agent
        seeds = hops.first.ranked(a.expand_from)
        hops.next.add(run_tool(NeighbourhoodTool(res), question, tracer, seeds=seeds, k=a.first_hop_k),
                      weight=EXPANSION_WEIGHT)
        if res.store is not None:
            hops.next.add(run_tool(PageRankTool(res), question, tracer, seeds=seeds, k=a.first_hop_k),
                          weight=PPR_WEIGHT)
        rationale = Rationale()
        for doc in hops.first.ranked(2):
            rationale.add(doc)
        rounds = start.first_tools + [NeighbourhoodTool(res)]
        Decomposer(ctx, tracer, rounds, hops.picked, weight=LLM_PICK_WEIGHT).run(question, rationale)
        if res.store is not None and spare_calls(ctx) >= 1:
            hops.picked.add(kg_walk(question, ctx, start), weight=PPR_WEIGHT)
        return finish(question, ctx, tracer, hops, self.name)
