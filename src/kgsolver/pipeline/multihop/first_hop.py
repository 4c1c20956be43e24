"""How the multi-hop modes begin, and the KG walk they end with: one place, so pike, ksl and agent start from the same
first hop and budget."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from kgsolver.pipeline.answer.filters.passages import quoted_in
from kgsolver.pipeline.answer.results import Tracer
from kgsolver.pipeline.multihop.evidence import HopEvidence, fused_search, run_tool, spare_calls
from kgsolver.pipeline.multihop.resources import AgentResources
from kgsolver.pipeline.multihop.tools import bm25_search, search_tools

if TYPE_CHECKING:
    from kgsolver.pipeline.answer.context import QuestionContext
    from kgsolver.pipeline.retrieval import Search


@dataclass
class HopStart:
    tracer: Tracer
    hops: HopEvidence
    res: AgentResources
    first_tools: list[Search]


def first_hop(question: str, ctx: QuestionContext, tracer: Tracer,
              first_tools: Callable[[AgentResources], Iterable[Search]] | None = None) -> HopStart:
    """The question's titles anchored, and the first-hop search (every search tool unless `first_tools` names some)
    fused into `hops.first`."""
    res = AgentResources.for_context(ctx)
    a = ctx.config.agent
    start = HopStart(tracer, HopEvidence(a.rrf_k), res, list(first_tools(res)) if first_tools else search_tools(res))
    start.hops.anchor(start.res.title_linker, ctx.question)
    start.hops.first.add(fused_search(start.first_tools, question, start.tracer, k=a.first_hop_k, rrf_k=a.rrf_k))
    quoted = quoted_passages(ctx.question.quoted, start.res, tracer, a.quoted_anchor_k)
    start.hops.first.add(quoted)
    start.hops.anchors |= {d.metadata["doc_id"] for d in quoted}
    return start


def quoted_passages(phrases: Sequence[str], res: AgentResources, tracer: Tracer, k: int) -> list[Document]:
    """Passages that contain a phrase the question quotes ('a song called "Counterparts"'), found by keyword search on
    the phrase alone: a quoted title is an exact reference, which the whole question's search can rank out of reach
    (its other words match other pages). At most k a phrase; the phrase must occur whole, not only its words."""
    if k <= 0:
        return []
    found: list[Document] = []
    for phrase in phrases:
        hits = run_tool(bm25_search(res), phrase, tracer, k=k)
        found += [d for d in hits if quoted_in(d, [phrase])]
    return found


def kg_walk_passages(question: str, ctx: QuestionContext, start: HopStart) -> list[Document]:
    """The passages of an LLM-guided KG walk from the question, calling the LLM only while calls are to spare."""
    from kgsolver.pipeline.multihop.kg_walk import KGWalkTool  # the walker loads only when a walk runs

    walk = KGWalkTool(start.res, ctx.config.agent, session=ctx.session, tracer=start.tracer, question=question,
                      can_call=lambda: spare_calls(ctx) >= 1, analysis=ctx.question)
    return run_tool(walk, question, start.tracer, k=ctx.config.agent.first_hop_k)
