"""Answer only from the retrieved passages (and the user's own facts); never from the model's knowledge. No
closed-book call is made, so the model's own knowledge cannot supply an answer; with no supporting passage the result
abstains with `answer_source: "none"`.

One rule under two registered names: `context_only` (LightRAG's name, used by the conflict suite) and
`documents_only` (the name a user looks for: README, "Where an answer comes from"). benchmarks/abstention.py measures
how often each policy answers questions no document answers."""

from __future__ import annotations

from functools import partial

from kgsolver.connectors.embedders import Embedder
from kgsolver.pipeline.answer.preference import Candidates, Policy, PolicyOutcome, PreferenceInputs
from kgsolver.pipeline.answer.preference.hierarchical import decide_hierarchical, gather_and_decide
from kgsolver.pipeline.config import PreferenceSettings


def decide_context_only(cand: Candidates, settings: PreferenceSettings, embedder: Embedder | None = None, *,
                        policy: str = "context_only") -> PolicyOutcome:
    return decide_hierarchical(cand, settings, embedder, policy=policy, allow_parametric=False)


class ContextOnlyPolicy(Policy):
    asks_parametric = False

    def __init__(self, name: str = "context_only") -> None:
        self.name = name

    def resolve(self, inputs: PreferenceInputs) -> PolicyOutcome:
        return gather_and_decide(inputs, partial(decide_context_only, policy=self.name), parametric=False)
