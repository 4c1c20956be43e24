"""The documents-only policy, for users who must never get an answer the knowledge base does not back: an answer
comes from the retrieved passages (or facts the user stated) or there is none. No closed-book call is made, so the
model's own knowledge cannot supply an answer; when no kept passage contains an answer the result abstains with
`answer_source: "none"`. It is the context-only rule under the name a user looks for (README, "Where an answer
comes from"); benchmarks/abstention.py measures how often each policy answers questions no document answers."""

from __future__ import annotations

from kgsolver.connectors.embedders import Embedder
from kgsolver.pipeline.preference.base import Candidates, Policy, PolicyOutcome, PreferenceInputs
from kgsolver.pipeline.preference.hierarchical import decide_hierarchical, gather_and_decide
from kgsolver.pipeline.preference.settings import PreferenceSettings


def decide_documents_only(cand: Candidates, settings: PreferenceSettings, embedder: Embedder | None = None) -> PolicyOutcome:
    return decide_hierarchical(cand, settings, embedder, policy="documents_only", allow_parametric=False)


class DocumentsOnlyPolicy(Policy):
    name = "documents_only"
    asks_parametric = False

    def resolve(self, inputs: PreferenceInputs) -> PolicyOutcome:
        return gather_and_decide(inputs, decide_documents_only, parametric=False)
