"""The `agent` block of KGSolverConfig: per-question budgets and the policies of the multi-hop modes
(KGSOLVER_AGENT__MAX_HOPS=3, KGSOLVER_AGENT__HOP_POLICY=embedding, ...)."""

from __future__ import annotations

from typing import cast

from pydantic import BaseModel, Field, field_validator

from kgsolver.connectors.llms.budget import Budget
from kgsolver.connectors.registry import Registry

# The hop policies' names (pipeline/multihop/hop_policy.py registers one scorer each; tests/unit/test_registry.py
# checks that the two agree): the settings validate against the names, so reading the configuration imports no
# multi-hop code.
HOP_POLICY_NAMES = ("combine", "llm", "embedding")
_HOP_POLICIES: Registry[str] = Registry.of("hop policy", {name: name for name in HOP_POLICY_NAMES})

_BUDGET = Budget()  # the per-question budget's defaults are the agent's too: one definition (all three are set)


class AgentSettings(BaseModel):
    max_llm_calls: int = Field(cast(int, _BUDGET.max_llm_calls), ge=1,
                               description="LLM calls per question, the final answer's included")
    max_tokens: int = Field(cast(int, _BUDGET.max_tokens), ge=256,
                            description="prompt + completion tokens per question")
    max_seconds: float = Field(cast(float, _BUDGET.max_seconds), gt=0, description="wall-clock seconds per question")
    max_rounds: int = Field(2, ge=0, description="pike/agent: decomposition rounds (sub-questions)")
    max_hops: int = Field(2, ge=1, description="ksl: KG hops per walk")
    beams: int = Field(3, ge=1, description="ksl: paths kept per hop")
    choices: int = Field(8, ge=2, description="ksl: relations shown to the LLM per hop")
    hop_policy: str = Field(
        "combine", description="combine: LLM pick + embedding score; llm: LLM pick, embedding only as fallback; "
                               "embedding: no LLM in the walk")
    llm_weight: float = Field(0.5, ge=0.0, le=1.0, description="combine: weight of the LLM's pick vs. embedding")
    first_hop_k: int = Field(10, ge=1, description="hits per search tool")
    quoted_anchor_k: int = Field(3, ge=0, description="first hop: passages per quoted phrase of the question, found by "
                                 "keyword search on the phrase and ranked as anchors (0: off)")
    expand_from: int = Field(3, ge=1, description="first-hop passages whose links and entities are expanded")
    evidence_k: int = Field(10, ge=1, description="passages in the final ranked evidence")
    answer_k: int = Field(5, ge=1, description="top passages given to the answer step")
    atomize_questions: int = Field(4, ge=1, le=10, description="atomic questions per chunk")
    atomize_checkpoint: int = Field(100, ge=1, description="chunks between atomic-index commits")
    atomize_workers: int = Field(1, ge=1, description="parallel LLM calls (remote backends only)")
    title_suffixes: list[str] = Field(default_factory=lambda: ["A.F.C.", "F.C.", "FC", "AFC"],
                                      description="title endings a question may leave out ('Tottenham Hotspur F.C.')")
    rrf_k: int = Field(10, ge=1, description="reciprocal-rank constant of the evidence pools (hybrid search: 60)")
    expansion_weight: float = Field(1.0, description="agent: weight of the neighbourhood expansion in the next hop")
    ppr_weight: float = Field(0.5, description="agent: weight of personalized PageRank and KG-walk passages")
    llm_pick_weight: float = Field(0.75, description="agent: weight of a passage the LLM selected for a sub-question")
    pike_pick_weight: float = Field(1.5, description="pike: weight of a passage the LLM selected for a sub-question")
    candidate_weight: float = Field(0.5, description="pike/agent: weight of a sub-question's search candidates")
    select_candidates: int = Field(6, ge=1, description="pike/agent: candidates shown to the LLM per sub-question")
    fact_chars: int = Field(220, ge=20, description="pike/agent: characters of a passage kept as a rationale fact")
    title_link_score: float = Field(1.0, description="neighbourhood: score of a passage whose title a seed names")
    entity_link_score: float = Field(0.6, description="neighbourhood: score of a passage sharing a seed's entity")
    entity_max_chunks: int = Field(8, ge=2, description="neighbourhood: skip entities in more passages (hubs)")
    ppr_hops: int = Field(2, ge=1, description="ppr: neighbourhood hops around the seeds")
    ppr_degree_cap: int = Field(50, ge=1, description="ppr: nodes with more edges are reached but not expanded")
    ppr_seed_passage_weight: float = Field(0.5, description="ppr: seed weight of a seed passage's entities (/ rank)")
    walk_degree_cap: int = Field(200, ge=1, description="ksl: relations read around a node per hop")
    atomize_chunk_chars: int = Field(1200, ge=100, description="atomize: characters of a chunk shown to the LLM")

    @field_validator("hop_policy")
    @classmethod
    def _registered(cls, name: str) -> str:
        return _HOP_POLICIES.check(name)
