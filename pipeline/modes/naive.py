"""`naive`: single-shot hybrid retrieval (dense + BM25, reciprocal rank fusion), the knowledge filter chain, then a
preference policy (default: user-stated facts > context > parametric) that picks a grounded, cited answer, the
model's own (labelled) answer, or an abstention."""

from __future__ import annotations

from kgsolver.pipeline.generate import ABSTAIN_ANSWER, user_fact_documents
from kgsolver.pipeline.preference.run import filtered_retrieval, resolve_preference
from kgsolver.pipeline.results import AskResult, Citation, Evidence, Tracer
from kgsolver.pipeline.solver import QuestionContext


class NaiveMode:
    name = "naive"

    def answer(self, question: str, ctx: QuestionContext) -> AskResult:
        tracer = Tracer()
        retrieved: list = []
        outcome = resolve_preference(question, ctx, tracer, filtered_retrieval(question, ctx, tracer, retrieved=retrieved))
        citations = list({d.metadata["doc_id"]: Citation(doc_id=d.metadata["doc_id"], title=d.metadata["title"])
                          for d in outcome.cited}.values())
        evidence = [Evidence.from_document(d) for d in user_fact_documents(ctx.assumptions) + retrieved]
        return AskResult(question=question, mode=self.name, answer=outcome.answer or ABSTAIN_ANSWER,
                         abstained=outcome.answer is None, citations=citations, evidence=evidence, trace=tracer.steps,
                         preference=outcome.preference)
