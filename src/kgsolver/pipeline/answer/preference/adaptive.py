"""IKEA-style retrieve-only-when-needed: ask the model first; when it is confident (self-rated confidence at or above
`adaptive_skip_confidence`) and the user stated no facts, answer without retrieval (marked parametric). Otherwise
retrieve and decide by the hierarchical rules. The policy counts how often it skipped retrieval."""

from __future__ import annotations

from dataclasses import dataclass

from kgsolver.pipeline.answer.preference import (
    Candidates,
    Policy,
    PolicyOutcome,
    PreferenceInputs,
    ask_parametric,
    make_preference,
)
from kgsolver.pipeline.answer.preference.hierarchical import decide_hierarchical, gather
from kgsolver.pipeline.config import PreferenceSettings


def should_skip_retrieval(cand: Candidates, settings: PreferenceSettings, has_assumptions: bool) -> bool:
    p = cand.parametric
    return bool(p and p.answer and not has_assumptions and p.confidence >= settings.adaptive_skip_confidence)


@dataclass
class RetrievalCounter:
    questions: int = 0
    skipped: int = 0


class AdaptivePolicy(Policy):
    name = "adaptive"

    def __init__(self) -> None:
        self.counter = RetrievalCounter()

    def before_retrieval(self, inputs: PreferenceInputs) -> PolicyOutcome | None:
        """Ask the model first; a confident answer (and no user facts) skips retrieval, in every mode."""
        self.counter.questions += 1
        inputs.parametric = ask_parametric(inputs)
        cand = Candidates(parametric=inputs.parametric)
        if cand.parametric is None or not should_skip_retrieval(cand, inputs.settings, bool(inputs.assumptions)):
            return None
        self.counter.skipped += 1
        reason = ("the model rated itself sure of its own answer (a self-rating, not a measured confidence); "
                  f"retrieval skipped ({self.counter.skipped} of {self.counter.questions} questions so far)")
        return PolicyOutcome(cand.parametric.answer, make_preference(self.name, "parametric", cand, reason,
                                                                     retrieval_skipped=True))

    def resolve(self, inputs: PreferenceInputs) -> PolicyOutcome:
        cand, documents = gather(inputs)
        outcome = decide_hierarchical(cand, inputs.settings, inputs.embedder, policy=self.name)
        outcome.documents = documents
        return outcome
