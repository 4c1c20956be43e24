"""`naive`: single-shot hybrid retrieval (dense + BM25, reciprocal rank fusion), then one grounded, cited answer."""

from __future__ import annotations

import time

from kgsolver.connectors.errors import BudgetExceeded
from kgsolver.pipeline.generate import ABSTAIN_ANSWER, generate_grounded
from kgsolver.pipeline.results import AskResult, Citation, Evidence, Tracer
from kgsolver.pipeline.solver import QuestionContext


class NaiveMode:
    name = "naive"

    def answer(self, question: str, ctx: QuestionContext) -> AskResult:
        tracer = Tracer()
        started = time.perf_counter()
        documents = ctx.retriever.invoke(question)
        tracer.record("hybrid_search", {"query": question, "k": ctx.retriever.k},
                      [f"{d.metadata['title']} ({d.metadata['score']:.4f})" for d in documents], started=started)
        started = time.perf_counter()
        try:
            grounded = generate_grounded(ctx.session, question, documents)
        except BudgetExceeded as exc:
            tracer.record("generate", question, None, decision=f"stopped: {exc}", started=started)
            return AskResult(question=question, mode=self.name, answer=ABSTAIN_ANSWER, abstained=True,
                             evidence=[Evidence.from_document(d) for d in documents], trace=tracer.steps)
        tracer.record("generate", question, grounded.answer, tokens=grounded.tokens, started=started,
                      decision="abstain: no passage supports an answer" if grounded.abstained
                      else f"cited passages {[i + 1 for i in grounded.cited]}")
        cited = [documents[i] for i in grounded.cited]
        citations = list({d.metadata["doc_id"]: Citation(doc_id=d.metadata["doc_id"], title=d.metadata["title"])
                          for d in cited}.values())
        return AskResult(question=question, mode=self.name, answer=grounded.answer, abstained=grounded.abstained,
                         citations=citations, evidence=[Evidence.from_document(d) for d in documents],
                         trace=tracer.steps)
