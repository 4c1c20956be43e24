"""What every preference policy shares: the inputs, the candidate answers, cheap conflict detection, the outcome.

A policy gathers candidate answers (user-stated facts, retrieved context, the model's parametric knowledge) through
the LLM session, then a pure `decide` function picks one by the policy's rules; `decide` is unit-testable without an LLM.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

from langchain_core.documents import Document

from kgsolver.connectors.errors import BudgetExceeded, StructuredOutputError
from kgsolver.connectors.llms.gateway import LLMSession
from kgsolver.pipeline.filters.base import normal
from kgsolver.pipeline.generate import generate_grounded, supporting_passages, user_fact_documents
from kgsolver.pipeline.preference.parametric import ParametricAnswer, closed_book_answer
from kgsolver.pipeline.preference.settings import PreferenceSettings
from kgsolver.pipeline.results import Preference


@dataclass
class PreferenceInputs:
    question: str
    session: LLMSession
    settings: PreferenceSettings
    retrieve: Callable[[], list[Document]]  # retrieval + filter chain, called lazily (adaptive may skip it)
    assumptions: list[str] = field(default_factory=list)
    embedder: object | None = None
    tracer: object | None = None


@dataclass
class GroundedCandidate:
    answer: str | None  # None = abstained
    cited: list[Document] = field(default_factory=list)
    source: str = "context"  # context | user


@dataclass
class Candidates:
    user: GroundedCandidate | None = None
    context: GroundedCandidate | None = None
    parametric: ParametricAnswer | None = None
    context_relevant: bool = False
    notes: list[str] = field(default_factory=list)


@dataclass
class PolicyOutcome:
    answer: str | None  # None = abstain
    preference: Preference
    cited: list[Document] = field(default_factory=list)
    documents: list[Document] = field(default_factory=list)


class PreferencePolicy(Protocol):
    name: str

    def resolve(self, inputs: PreferenceInputs) -> PolicyOutcome: ...


def _tokens(text: str) -> set[str]:
    return set(normal(text).split()) - {"the", "a", "an", "of"}


def answers_conflict(a: str | None, b: str | None, embedder=None, same_similarity: float = 0.85) -> bool:
    """Cheap: two known answers conflict unless they match after normalisation, one contains the other, they share
    most tokens, or (with an embedder) their embeddings are near-identical. Unknown answers never conflict."""
    if not a or not b:
        return False
    na, nb = normal(a), normal(b)
    if not na or not nb or na == nb or na in nb or nb in na:
        return False
    ta, tb = _tokens(a), _tokens(b)
    if ta and tb and len(ta & tb) / min(len(ta), len(tb)) >= 0.5:
        return False
    if embedder is not None:
        va, vb = embedder.encode([a, b])
        if float(va @ vb) >= same_similarity:
            return False
    return True


def _record(inputs: PreferenceInputs, tool: str, inp, out, decision: str, started: float) -> None:
    if inputs.tracer is not None:
        inputs.tracer.record(tool, inp, out, decision=decision, started=started)


def ask_parametric(inputs: PreferenceInputs) -> ParametricAnswer | None:
    started = time.perf_counter()
    try:
        answer = closed_book_answer(inputs.session, inputs.question, max_tokens=inputs.settings.parametric_max_tokens)
    except (BudgetExceeded, StructuredOutputError) as exc:
        _record(inputs, "parametric_answer", inputs.question, None, f"skipped: {exc}", started)
        return None
    _record(inputs, "parametric_answer", inputs.question, answer.answer,
            f"closed-book, confidence {answer.confidence}", started)
    return answer


def ask_grounded(inputs: PreferenceInputs, documents: list[Document], *, with_user: bool) -> GroundedCandidate | None:
    """One grounded, cited answer over the passages (and the user's facts, first and marked, when asked)."""
    user_docs = user_fact_documents(inputs.assumptions) if with_user else []
    evidence = user_docs + documents
    if not evidence:
        return GroundedCandidate(None)
    started = time.perf_counter()
    try:
        grounded = generate_grounded(inputs.session, inputs.question, evidence)
    except (BudgetExceeded, StructuredOutputError) as exc:
        _record(inputs, "generate", inputs.question, None, f"stopped: {exc}", started)
        return None
    if grounded.abstained:
        _record(inputs, "generate", inputs.question, None, "abstain: no passage supports an answer", started)
        return GroundedCandidate(None)
    cited = [evidence[i] for i in grounded.cited]
    verbatim = supporting_passages(grounded.answer, evidence) or token_support(grounded.answer, evidence)
    from_user = [evidence[i] for i in verbatim if i < len(user_docs)]
    source = "user" if from_user else "context"
    if from_user:
        cited = from_user
    elif not verbatim:  # an answer no passage contains is not grounded: the model used its own knowledge
        _record(inputs, "generate", inputs.question, grounded.answer,
                "ungrounded: no passage contains the answer, treated as abstain", started)
        return GroundedCandidate(None)
    _record(inputs, "generate", inputs.question, grounded.answer,
            f"{source}: cited {[d.metadata.get('doc_id') for d in cited]}", started)
    return GroundedCandidate(grounded.answer, cited, source)


def token_support(answer: str, documents: list[Document]) -> list[int]:
    """Passages that contain every content word of the answer (looser than verbatim: "The Beatles" vs "Beatles")."""
    words = _tokens(answer)
    if not words:
        return []
    return [i for i, d in enumerate(documents)
            if words <= set(normal(d.metadata.get("title", "") + " " + d.page_content).split())]


def relevant_documents(inputs: PreferenceInputs) -> list[Document]:
    """Retrieve (+ filter), then keep what clears the policy's relevance threshold (scored by the filter chain)."""
    documents = inputs.retrieve()
    threshold = inputs.settings.relevance_threshold
    return [d for d in documents if d.metadata.get("relevance", 1.0) >= threshold]


def make_preference(policy: str, source: str, cand: Candidates, reason: str, conflict: bool = False,
                    **extra) -> Preference:
    return Preference(policy=policy, source_used=source, conflict=conflict,
                      parametric_answer=cand.parametric.answer if cand.parametric else None,
                      context_answer=cand.context.answer if cand.context else None,
                      user_answer=cand.user.answer if cand.user else None, reason=reason, **extra)
