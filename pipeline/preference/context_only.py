"""LightRAG's rule: answer only from the retrieved context (and the user's own facts); never from the model's
knowledge. No closed-book call is made; with no supporting passage the answer is an abstention."""

from __future__ import annotations

from kgsolver.connectors.embedders import Embedder
from kgsolver.pipeline.preference.base import Candidates, Policy, PolicyOutcome, PreferenceInputs
from kgsolver.pipeline.preference.hierarchical import decide_hierarchical, gather_and_decide
from kgsolver.pipeline.preference.settings import PreferenceSettings


def decide_context_only(cand: Candidates, settings: PreferenceSettings, embedder: Embedder | None = None) -> PolicyOutcome:
    return decide_hierarchical(cand, settings, embedder, policy="context_only", allow_parametric=False)


class ContextOnlyPolicy(Policy):
    name = "context_only"
    asks_parametric = False

    def resolve(self, inputs: PreferenceInputs) -> PolicyOutcome:
        return gather_and_decide(inputs, decide_context_only, parametric=False)
