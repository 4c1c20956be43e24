"""`naive`: single-shot hybrid retrieval (dense + BM25, reciprocal rank fusion); the answer step (filters, preference
policy: user-stated facts > context > parametric) does the rest."""

from __future__ import annotations

import time

from kgsolver.connectors.llms import Budget
from kgsolver.pipeline.answer import Gathered, QuestionContext, Tracer
from kgsolver.pipeline.config import KGSolverConfig


class NaiveMode:
    name = "naive"

    def limits(self, budget: Budget, config: KGSolverConfig) -> Budget:
        return budget  # the caller's: naive makes no LLM call while gathering

    def gather(self, question: str, ctx: QuestionContext, tracer: Tracer) -> Gathered:
        started = time.perf_counter()
        documents = ctx.retriever.invoke(question)
        tracer.record("hybrid_search", {"query": question, "k": ctx.retriever.k},
                      [f"{d.metadata['title']} ({d.metadata['score']:.4f})" for d in documents], started=started)
        return Gathered(documents)
