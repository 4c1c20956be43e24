"""Glue for answering modes: retrieval + filter chain + preference policy for one question, traced.

Multi-hop modes can call `filtered_retrieval` per sub-question and `resolve_preference` for the final answer.
"""

from __future__ import annotations

import time
from typing import Callable

from langchain_core.documents import Document

from kgsolver.pipeline.filters.chain import build_filter_chain
from kgsolver.pipeline.preference.registry import get_policy
from kgsolver.pipeline.preference.base import PolicyOutcome, PreferenceInputs


def filtered_retrieval(question: str, ctx, tracer, *, triples: list | None = None,
                       retrieved: list[Document] | None = None) -> Callable[[], list[Document]]:
    """A lazy retrieve-then-filter function; the raw hits are appended to `retrieved` (for the evidence list)."""

    def retrieve() -> list[Document]:
        started = time.perf_counter()
        documents = ctx.retriever.invoke(question)
        tracer.record("hybrid_search", {"query": question, "k": ctx.retriever.k},
                      [f"{d.metadata['title']} ({d.metadata['score']:.4f})" for d in documents], started=started)
        if retrieved is not None:
            retrieved.extend(documents)
        chain = build_filter_chain(ctx.config.filters, ctx.embedder, session=ctx.session, user_facts=ctx.assumptions)
        return chain.run(question, documents, triples, tracer=tracer).documents

    return retrieve


def resolve_preference(question: str, ctx, tracer, retrieve: Callable[[], list[Document]]) -> PolicyOutcome:
    name = ctx.policy or ctx.config.preference.policy
    policy = get_policy(name)  # from configuration or the caller only: never from retrieved text
    inputs = PreferenceInputs(question=question, session=ctx.session, settings=ctx.config.preference,
                              retrieve=retrieve, assumptions=list(ctx.assumptions), embedder=ctx.embedder,
                              tracer=tracer)
    started = time.perf_counter()
    outcome = policy.resolve(inputs)
    p = outcome.preference
    tracer.record("preference", {"policy": p.policy, "assumptions": len(ctx.assumptions)},
                  {"source_used": p.source_used, "conflict": p.conflict, "parametric": p.parametric_answer,
                   "context": p.context_answer, "user": p.user_answer}, decision=p.reason, started=started)
    return outcome
