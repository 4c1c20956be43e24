"""GraphRAG's rule: parametric knowledge is allowed whenever the context does not answer, but tagged
(`[LLM: verify]` by default) so the reader knows it is not backed by the knowledge base."""

from __future__ import annotations

from kgsolver.connectors.embedders import Embedder
from kgsolver.pipeline.answer.preference import Candidates, Policy, PolicyOutcome, PreferenceInputs
from kgsolver.pipeline.answer.preference.hierarchical import decide_hierarchical, gather_and_decide
from kgsolver.pipeline.config import PreferenceSettings


def decide_tagged(cand: Candidates, settings: PreferenceSettings, embedder: Embedder | None = None) -> PolicyOutcome:
    return decide_hierarchical(cand, settings, embedder, policy="tagged", tag_parametric=True)


class TaggedPolicy(Policy):
    name = "tagged"

    def resolve(self, inputs: PreferenceInputs) -> PolicyOutcome:
        return gather_and_decide(inputs, decide_tagged)
