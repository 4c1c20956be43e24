"""Preference policies: which knowledge wins when user-stated facts, retrieved context and the model's parametric
knowledge disagree. One policy per module behind `PreferencePolicy`. Here, what every policy shares: the inputs, the
candidate answers (the closed-book one included: one short JSON-constrained call with no passages), cheap conflict
detection, the outcome; and the registry: `get_policy(name)` returns the shared instance of a policy, whose module is
imported only then.

A policy gathers candidate answers (user-stated facts, retrieved context, the model's parametric knowledge) through
the LLM session, then a pure `decide` function picks one by the policy's rules; `decide` is unit-testable without an
LLM.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from kgsolver.connectors import Registry, lazy, lazy_exports
from kgsolver.connectors.embedders import Embedder
from kgsolver.connectors.llms.gateway import LLMSession
from kgsolver.connectors.text import content_words, normal
from kgsolver.pipeline.answer import Preference, llm_step
from kgsolver.pipeline.answer.answer_form import (
    AnswerForm,
    AnswerFormSettings,
    detect_form,
    echoes,
    formed_answer,
    is_unknown,
)
from kgsolver.pipeline.answer.compare import comparison_calls
from kgsolver.pipeline.answer.generate import generate_grounded, user_fact_documents
from kgsolver.pipeline.config import PreferenceSettings, policy_key

if TYPE_CHECKING:
    from kgsolver.pipeline.answer import Tracer


# The policies, imported on first use (PEP 562): a caller that wants one policy does not load every policy.
_EXPORTS = {"AdaptivePolicy": "adaptive", "ContextOnlyPolicy": "context_only", "HierarchicalPolicy": "hierarchical",
            "TaggedPolicy": "tagged", "decide_hierarchical": "hierarchical"}
__getattr__ = lazy_exports(__name__, _EXPORTS)


PARAMETRIC_PROMPT = (
    "Answer the question from your own knowledge. Reply in JSON. \"answer\": the shortest exact answer (a name, "
    "number, date, yes or no). \"confidence\": 0 to 100, how sure you are. If you do not know, reply "
    "{\"answer\": \"unknown\", \"confidence\": 0}."
)


class ParametricReply(BaseModel):
    answer: str = Field(max_length=200)
    confidence: int = Field(0, ge=0, le=100)


@dataclass
class ParametricAnswer:
    answer: str | None  # None when the model does not know
    confidence: int
    tokens: int


def parametric_messages(question: str) -> list[BaseMessage]:
    return [SystemMessage(PARAMETRIC_PROMPT), HumanMessage(f"Question: {question}")]


def closed_book_answer(session: LLMSession, question: str, *, max_tokens: int = 48,
                       form: AnswerFormSettings | None = None, asked: AnswerForm | None = None) -> ParametricAnswer:
    """`asked`: the question's form where the caller parsed it already (QuestionAnalysis.form)."""
    reply, raw = session.chat_json(parametric_messages(question), ParametricReply, purpose="parametric answer",
                                   max_tokens=max_tokens)
    asked = asked or detect_form(question)
    answer = formed_answer(reply.answer, asked, form)  # the form the question asks for, as the grounded answer gets it
    tokens = raw.usage.prompt_tokens + raw.usage.completion_tokens
    # An answer that only repeats the question is none, here as in the grounded answer (no second try: a fallback)
    echo = form is not None and form.retry_echo and echoes(answer, question, asked)
    return ParametricAnswer(None if is_unknown(answer) or echo else answer, reply.confidence, tokens)


@dataclass
class PreferenceInputs:
    question: str
    session: LLMSession
    settings: PreferenceSettings
    documents: list[Document] = field(default_factory=list)  # the filtered passages (set by the answer step)
    assumptions: list[str] = field(default_factory=list)
    embedder: Embedder | None = None
    tracer: Tracer | None = None
    parametric: ParametricAnswer | None = None  # a closed-book answer asked before retrieval (adaptive)
    answer_form: AnswerFormSettings | None = None  # the answer-form step (pipeline/answer/answer_form.py); None: off
    asked: AnswerForm | None = None  # the form the question asks for, parsed once (QuestionAnalysis.form)


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

    def before_retrieval(self, inputs: PreferenceInputs) -> PolicyOutcome | None: ...

    def answer_calls(self, inputs: PreferenceInputs) -> int: ...

    def resolve(self, inputs: PreferenceInputs) -> PolicyOutcome: ...


class Policy:
    """What the policies share: retrieval always happens, and the answer's LLM calls are counted by its candidates."""

    name = "policy"
    asks_parametric = True  # a closed-book candidate beside the grounded one

    def before_retrieval(self, inputs: PreferenceInputs) -> PolicyOutcome | None:
        return None

    def answer_calls(self, inputs: PreferenceInputs) -> int:
        """LLM calls `resolve` may make: a grounded answer, a closed-book one, up to two over the user's facts, and
        the two values of a compared question (pipeline/answer/compare.py).
        Multi-hop modes keep these aside from their retrieval budget."""
        parametric = self.asks_parametric and inputs.parametric is None
        return 1 + int(parametric) + (2 if inputs.assumptions else 0) + comparison_calls(
            inputs.question, inputs.answer_form, asked=inputs.asked)

    def resolve(self, inputs: PreferenceInputs) -> PolicyOutcome:
        raise NotImplementedError


def answers_conflict(a: str | None, b: str | None, embedder: Embedder | None = None,
                     same_similarity: float = 0.85) -> bool:
    """Cheap: two known answers conflict unless they match after normalisation, one contains the other, they share
    most tokens, or (with an embedder) their embeddings are near-identical. Unknown answers never conflict."""
    if not a or not b:
        return False
    na, nb = normal(a), normal(b)
    if not na or not nb or na == nb or na in nb or nb in na:
        return False
    ta, tb = content_words(a), content_words(b)
    if ta and tb and len(ta & tb) / min(len(ta), len(tb)) >= 0.5:
        return False
    if embedder is not None:
        va, vb = embedder.encode([a, b])
        if float(va @ vb) >= same_similarity:
            return False
    return True


def _record(inputs: PreferenceInputs, tool: str, inp: Any, out: Any, decision: str, started: float) -> None:
    if inputs.tracer is not None:
        inputs.tracer.record(tool, inp, out, decision=decision, started=started)


def ask_parametric(inputs: PreferenceInputs) -> ParametricAnswer | None:
    started = time.perf_counter()
    answer = llm_step(lambda: closed_book_answer(inputs.session, inputs.question,
                                                 max_tokens=inputs.settings.parametric_max_tokens,
                                                 form=inputs.answer_form, asked=inputs.asked),
                      None, tracer=inputs.tracer, tool="parametric_answer", input=inputs.question, failure="skipped",
                      started=started)
    if answer is None:  # no closed-book candidate
        return None
    # The model's self-rating gates the fallbacks but is not shown: it is not a measured confidence (issue 19.4).
    _record(inputs, "parametric_answer", inputs.question, answer.answer,
            "closed-book: the model's own knowledge, not from the documents", started)
    return answer


def ask_grounded(inputs: PreferenceInputs, documents: list[Document], *, with_user: bool) -> GroundedCandidate | None:
    """One grounded, cited answer over the passages (and the user's facts, first and marked, when asked)."""
    user_docs = user_fact_documents(inputs.assumptions) if with_user else []
    evidence = user_docs + documents
    if not evidence:
        return GroundedCandidate(None)
    started = time.perf_counter()
    grounded = llm_step(lambda: generate_grounded(inputs.session, inputs.question, evidence, inputs.answer_form,
                                                      asked=inputs.asked),
                        None, tracer=inputs.tracer, tool="generate", input=inputs.question, failure="stopped",
                        started=started)
    if grounded is None:  # no grounded candidate (not an abstention: the model never answered)
        return None
    if grounded.abstained:
        _record(inputs, "generate", inputs.question, None, grounded.reason, started)
        return GroundedCandidate(None)
    from_user = [evidence[i] for i in grounded.support if i < len(user_docs)]
    source = "user" if from_user else "context"
    cited = from_user or [evidence[i] for i in grounded.cited]
    _record(inputs, "generate", inputs.question, grounded.answer,
            f"{source}: cited {[d.metadata.get('doc_id') for d in cited]}"
            + (f"; {grounded.reason}" if grounded.reason else ""), started)  # a compared question: the values read
    return GroundedCandidate(grounded.answer, cited, source)


def make_preference(policy: str, source: str, cand: Candidates, reason: str, conflict: bool = False,
                    **extra: Any) -> Preference:
    return Preference(policy=policy, source_used=source, conflict=conflict,
                      parametric_answer=cand.parametric.answer if cand.parametric else None,
                      context_answer=cand.context.answer if cand.context else None,
                      user_answer=cand.user.answer if cand.user else None, reason=reason, **extra)


def _shared(module: str, cls: str, *args: str) -> Callable[[], PreferencePolicy]:
    """One instance per process (the adaptive policy's retrieval counter lives on it), imported on first use so that
    validating the configuration's policy name does not load the policies."""
    return cache(lazy(f"kgsolver.pipeline.answer.preference.{module}", cls, *args))


POLICIES: Registry[PreferencePolicy] = Registry("preference policy", {
    "hierarchical": _shared("hierarchical", "HierarchicalPolicy"),
    "context_only": _shared("context_only", "ContextOnlyPolicy"),
    "documents_only": _shared("context_only", "ContextOnlyPolicy", "documents_only"),  # the same rule, the user's name
    "tagged": _shared("tagged", "TaggedPolicy"),
    "adaptive": _shared("adaptive", "AdaptivePolicy"),
})


def get_policy(name: str) -> PreferencePolicy:
    return POLICIES.get(policy_key(name))
