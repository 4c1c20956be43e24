"""`pike`: PIKE-RAG. First-hop search over the atomic-question index (when the KB is atomized) and the chunk
indexes, then knowledge-aware decomposition rounds (LLM proposes a sub-question, tools retrieve, LLM selects), then
the filters and preference policy on the pooled evidence."""

from __future__ import annotations

from kgsolver.pipeline.agent.decomposition import Decomposer, Rationale
from kgsolver.pipeline.agent.evidence import finish
from kgsolver.pipeline.agent.first_hop import first_hop
from kgsolver.pipeline.agent.tools import NeighbourhoodTool, PageRankTool
from kgsolver.pipeline.results import AskResult
from kgsolver.pipeline.solver import QuestionContext


class PikeMode:
    name = "pike"

    def answer(self, question: str, ctx: QuestionContext) -> AskResult:
        start = first_hop(question, ctx)
        tracer, hops, res = start.tracer, start.hops, start.res
        rationale = Rationale()
        for doc in hops.first.ranked(2):
            rationale.add(doc)
        rounds = start.first_tools + [NeighbourhoodTool(res)] + ([PageRankTool(res)] if res.store is not None else [])
        Decomposer(ctx, tracer, rounds, hops.picked).run(question, rationale)
        return finish(question, ctx, tracer, hops, self.name)
