"""One answer path for every mode: decide whether to retrieve, let the mode gather evidence, then filter, generate and
apply the preference policy once, and assemble the result in one place.

    policy.before_retrieval   "should we retrieve at all?" (IKEA / adaptive); the other policies say yes
    mode.gather               naive: hybrid search; pike, ksl, agent: multi-hop tools -> ranked evidence
    filter chain              relevance, dedup, consistency, brevity, instruction guard: once
    policy.resolve            user facts > context > parametric (or the configured rule): grounded answer, citations
    AskResult                 answer, citations, evidence, trace, preference (usage is added by the Solver)

Modes never see the policy, and the policy never sees retrieval: it gets the filtered passages.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

from langchain_core.documents import Document

from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.llms.gateway import LLMSession
from kgsolver.pipeline.answer import (
    AnswerMode,
    AskResult,
    BudgetSplit,
    Citation,
    Evidence,
    Gathered,
    QuestionAnalysis,
    QuestionContext,
    QuestionInputs,
    Tracer,
)
from kgsolver.pipeline.answer.filters import build_filter_chain, doc_ref
from kgsolver.pipeline.answer.generate import ABSTAIN_ANSWER, hop_order, names_title, user_fact_documents
from kgsolver.pipeline.answer.preference import PolicyOutcome, PreferenceInputs, PreferencePolicy, get_policy
from kgsolver.pipeline.config import FilterSettings

if TYPE_CHECKING:
    from kgsolver.pipeline.config import KGSolverConfig


def answer_question(question: str, inputs: QuestionInputs, mode: AnswerMode) -> AskResult:
    # each step's LLM cost from the gateway, streamed as it ends
    tracer = Tracer(inputs.session, on_step=inputs.on_step)
    analysis = QuestionAnalysis(question)
    policy = get_policy(inputs.policy or inputs.config.preference.policy)  # configuration or caller, never text
    preference = _inputs(analysis, inputs.session, inputs.config, inputs.assumptions, inputs.embedder, tracer)
    outcome = policy.before_retrieval(preference)
    gathered = Gathered([])
    removed_by: dict[str, str] = {}
    if outcome is None:
        gathered = _gather(analysis, inputs, mode, policy.answer_calls(preference), tracer)
        outcome, removed_by = _filter_and_resolve(policy, preference, gathered.documents, inputs.config.filters)
    evidence = gathered.listed
    return assemble(question, mode.name, inputs.assumptions, tracer, outcome, evidence,
                    _why_not_kept(evidence, gathered.documents, preference.documents, removed_by))


def gather(question: str, inputs: QuestionInputs, mode: AnswerMode) -> Gathered:
    """The evidence `answer_question` would gather for the question, under the same budget split (the policy's answer
    calls kept aside), without answering: no filter, no policy, no answer LLM call. Its trace is the gathering's."""
    tracer = Tracer(inputs.session, on_step=inputs.on_step)
    analysis = QuestionAnalysis(question)
    policy = get_policy(inputs.policy or inputs.config.preference.policy)
    preference = _inputs(analysis, inputs.session, inputs.config, inputs.assumptions, inputs.embedder, tracer)
    gathered = _gather(analysis, inputs, mode, policy.answer_calls(preference), tracer)
    return replace(gathered, trace=list(tracer.steps))


def _gather(analysis: QuestionAnalysis, inputs: QuestionInputs, mode: AnswerMode, answer_calls: int,
            tracer: Tracer) -> Gathered:
    """The budget split stated once, before gathering: the session's limits become the mode's (the one place they
    change, so the answer is held to them too), and the mode gets a frozen context."""
    split = BudgetSplit(mode.limits(inputs.session.budget, inputs.config), answer_calls)
    inputs.session.budget = split.limits
    return mode.gather(analysis.text, QuestionContext(inputs, analysis, split), tracer)


def answer_passages(question: str, documents: list[Document], *, session: LLMSession, config: KGSolverConfig,
                    embedder: Embedder, assumptions: Sequence[str] = (), policy: str | None = None) -> PolicyOutcome:
    """The same answer step over passages the caller supplies (the conflict suite's edited contexts)."""
    chosen = get_policy(policy or config.preference.policy)
    inputs = _inputs(QuestionAnalysis(question), session, config, assumptions, embedder, Tracer())
    return chosen.before_retrieval(inputs) or _filter_and_resolve(chosen, inputs, documents, config.filters)[0]


def _inputs(analysis: QuestionAnalysis, session: LLMSession, config: KGSolverConfig, assumptions: Sequence[str],
            embedder: Embedder, tracer: Tracer) -> PreferenceInputs:
    return PreferenceInputs(question=analysis.text, session=session, settings=config.preference,
                            assumptions=list(assumptions), embedder=embedder, tracer=tracer,
                            answer_form=config.answer_form, asked=analysis.form)


def _filter_and_resolve(policy: PreferencePolicy, inputs: PreferenceInputs, documents: list[Document],
                        filters: FilterSettings) -> tuple[PolicyOutcome, dict[str, str]]:
    """The filters once, then the policy once, over what the mode gathered; also which filter removed which passage
    (by `doc_ref`)."""
    assert inputs.embedder is not None and inputs.tracer is not None, "_inputs() always sets both"
    chain = build_filter_chain(filters, inputs.embedder, session=inputs.session, user_facts=inputs.assumptions)
    filtered = chain.run(inputs.question, documents, tracer=inputs.tracer)
    inputs.documents = _reader_order(inputs, filtered.documents)
    removed_by = {r.ref: report.filter for report in filtered.reports for r in report.removed if r.kind == "document"}
    started = time.perf_counter()
    outcome = policy.resolve(inputs)
    _trace_preference(inputs.tracer, outcome, len(inputs.assumptions), started)
    return outcome, removed_by


def _reader_order(inputs: PreferenceInputs, documents: list[Document]) -> list[Document]:
    """The passages in the order the reader gets them (`answer_form.passage_order`); a change of order is traced."""
    form = inputs.answer_form
    if form is None or form.passage_order != "hop":
        return documents
    ordered = hop_order(inputs.question, documents)
    if inputs.tracer is not None and any(a is not b for a, b in zip(ordered, documents, strict=True)):
        named = [d.metadata.get("title", "") for d in documents if names_title(inputs.question, d)]
        inputs.tracer.record("reader order", {"order": "hop"}, [d.metadata.get("title", "") for d in ordered],
                             decision=f"read first, named by the question: {', '.join(named)}")
    return ordered


def _why_not_kept(evidence: list[Document], answered_from: list[Document], kept: list[Document],
                  removed_by: dict[str, str]) -> dict[str, str]:
    """For each listed passage the answer was not generated from: the filter that removed it, or "rank" when the
    mode ranked it below the passages it handed to the answer step."""
    kept_refs, offered = {doc_ref(d) for d in kept}, {doc_ref(d) for d in answered_from}
    return {ref: removed_by.get(ref) or ("filters" if ref in offered else "rank")
            for ref in map(doc_ref, evidence) if ref not in kept_refs}


def _trace_preference(tracer: Tracer, outcome: PolicyOutcome, assumptions: int, started: float) -> None:
    p = outcome.preference
    tracer.record("preference", {"policy": p.policy, "assumptions": assumptions},
                  {"source_used": p.source_used, "conflict": p.conflict, "parametric": p.parametric_answer,
                   "context": p.context_answer, "user": p.user_answer}, decision=p.reason, started=started)


# The policy's source names, as the user reads them: an answer is from the documents, the user's own facts, the
# model's own knowledge (nothing in the knowledge base backs it), or there is none.
_SOURCES = {"context": "documents", "user": "user", "parametric": "model_knowledge", "none": "none"}
SOURCE_NOTES = {
    "documents": "Answered from your documents (see the citations).",
    "user": "Answered from the facts you stated.",
    "model_knowledge": "Not from your documents: this answer is the language model's own knowledge; verify it.",
    "none": "No answer: nothing in your documents answers the question.",
}


def answer_source(outcome: PolicyOutcome) -> str:
    if outcome.answer is None:
        return "none"
    return _SOURCES[outcome.preference.source_used]


def assemble(question: str, mode: str, assumptions: Sequence[str], tracer: Tracer, outcome: PolicyOutcome,
             evidence: list[Document], not_kept: dict[str, str] | None = None) -> AskResult:
    citations = list({d.metadata["doc_id"]: Citation(doc_id=d.metadata["doc_id"], title=d.metadata["title"])
                      for d in outcome.cited}.values())
    not_kept = not_kept or {}
    listed = [Evidence.from_document(d, kept=doc_ref(d) not in not_kept, removed_by=not_kept.get(doc_ref(d)))
              for d in user_fact_documents(list(assumptions)) + evidence]
    source = answer_source(outcome)
    return AskResult(question=question, mode=mode, answer=outcome.answer or ABSTAIN_ANSWER,
                     abstained=outcome.answer is None, citations=citations, evidence=listed, trace=tracer.steps,
                     preference=outcome.preference, answer_source=source, answer_source_note=SOURCE_NOTES[source])
