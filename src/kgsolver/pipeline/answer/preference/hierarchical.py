"""The default policy: user-stated facts > retrieved context > parametric knowledge.

Mechanism: one grounded answer over the user's facts alone (when there are any), one over the filtered passages, one
closed-book answer;
conflicts are detected by normalised string / embedding comparison (no extra call) and settled by the hierarchy.
Irrelevant context (nothing clears the relevance threshold) falls back to the parametric answer, marked as such;
relevant context that does not answer falls back only on a confident parametric answer; otherwise abstain.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kgsolver.connectors.embedders import Embedder
from kgsolver.pipeline.answer.preference import (
    Candidates,
    Policy,
    PolicyOutcome,
    PreferenceInputs,
    answers_conflict,
    ask_grounded,
    ask_parametric,
    make_preference,
)
from kgsolver.pipeline.config import PreferenceSettings

if TYPE_CHECKING:
    from langchain_core.documents import Document


def decide_hierarchical(cand: Candidates, settings: PreferenceSettings, embedder: Embedder | None = None, *,
                        policy: str = "hierarchical", allow_parametric: bool = True,
                        tag_parametric: bool = False) -> PolicyOutcome:
    def conflicts(a: str | None, b: str | None) -> bool:
        return answers_conflict(a, b, embedder, settings.same_answer_similarity)

    param = cand.parametric.answer if cand.parametric else None
    ctx = cand.context.answer if cand.context else None
    if cand.user and cand.user.answer:
        ans = cand.user.answer
        conflict = conflicts(ans, param) or conflicts(ans, ctx)
        reason = "a user-stated fact answers the question; it outranks retrieved context and parametric knowledge"
        if conflict:
            reason += " (they disagree)"
        return PolicyOutcome(ans, make_preference(policy, "user", cand, reason, conflict), cand.user.cited)
    if ctx and cand.context:  # (ctx implies cand.context; spelled out for the type checker)
        conflict = conflicts(ctx, param)
        reason = ("retrieved context answers the question" + (
            f"; it overrides the parametric answer {param!r}" if conflict else
            "; the parametric answer agrees" if param else ""))
        return PolicyOutcome(ctx, make_preference(policy, "context", cand, reason, conflict), cand.context.cited)
    if allow_parametric and param and cand.parametric:
        confident = cand.parametric.confidence >= settings.parametric_min_confidence
        if not cand.context_relevant or confident or tag_parametric:
            why = ("no retrieved passage is relevant to the question" if not cand.context_relevant
                   else "the relevant passages do not contain the answer")
            answer = f"{param} {settings.verify_tag}" if tag_parametric else param
            reason = f"{why}; answered from the model's parametric knowledge (not from the knowledge base)"
            return PolicyOutcome(answer, make_preference(policy, "parametric", cand, reason))
        reason = (f"the passages do not contain the answer and the model did not rate itself sure of its own answer "
                  f"{param!r}; abstaining")
        return PolicyOutcome(None, make_preference(policy, "none", cand, reason))
    why = "no relevant passage" if not cand.context_relevant else "the passages do not contain the answer"
    if allow_parametric:
        why += " and the model does not know it"
    return PolicyOutcome(None, make_preference(policy, "none", cand, f"{why}; abstaining"))


def gather(inputs: PreferenceInputs, cand: Candidates | None = None, *,
           parametric: bool = True) -> tuple[Candidates, list[Document]]:
    cand = cand or Candidates(parametric=inputs.parametric)
    documents = inputs.documents  # what the relevance filter kept is what is relevant
    cand.context_relevant = bool(documents)
    # User-stated facts are asked on their own first, so a passage can never outvote them inside one prompt; the
    # context is still asked separately, so a disagreement between the two is detected and reported.
    if inputs.assumptions:
        user = ask_grounded(inputs, [], with_user=True)
        if (user is None or not user.answer) and documents:
            # A user fact may need a passage to connect it to the question (the bridge of a multi-hop question):
            # ask again with both, the facts first and marked; the consistency filter has already removed the
            # sentences that contradict them, so the passages cannot reinstate what the user overrode.
            user = ask_grounded(inputs, documents, with_user=True)
        if user is not None and user.answer and user.source == "user":
            cand.user = user
    if documents:
        grounded = ask_grounded(inputs, documents, with_user=False)
        if grounded is not None:
            cand.context = grounded
    if parametric and cand.parametric is None:
        cand.parametric = ask_parametric(inputs)
    return cand, documents


Decide = Callable[[Candidates, PreferenceSettings, "Embedder | None"], PolicyOutcome]


def gather_and_decide(inputs: PreferenceInputs, decide: Decide, *, parametric: bool = True) -> PolicyOutcome:
    """Gather the candidate answers, apply a policy's pure decision rule, keep the documents it saw."""
    cand, documents = gather(inputs, parametric=parametric)
    outcome = decide(cand, inputs.settings, inputs.embedder)
    outcome.documents = documents
    return outcome


class HierarchicalPolicy(Policy):
    name = "hierarchical"

    def resolve(self, inputs: PreferenceInputs) -> PolicyOutcome:
        return gather_and_decide(inputs, decide_hierarchical)
