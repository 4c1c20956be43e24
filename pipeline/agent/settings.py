"""The `agent` block of KGSolverConfig: per-question budgets and the policies of the multi-hop modes
(KGSOLVER_AGENT__MAX_HOPS=3, KGSOLVER_AGENT__HOP_POLICY=embedding, ...)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class AgentSettings(BaseModel):
    max_llm_calls: int = Field(6, ge=1, description="LLM calls per question, the final answer's included")
    max_tokens: int = Field(20_000, ge=256, description="prompt + completion tokens per question")
    max_seconds: float = Field(300.0, gt=0, description="wall-clock seconds per question")
    max_rounds: int = Field(2, ge=0, description="pike/agent: decomposition rounds (sub-questions)")
    max_hops: int = Field(2, ge=1, description="ksl: KG hops per walk")
    beams: int = Field(3, ge=1, description="ksl: paths kept per hop")
    choices: int = Field(8, ge=2, description="ksl: relations shown to the LLM per hop")
    hop_policy: Literal["combine", "llm", "embedding"] = Field(
        "combine", description="combine: LLM pick + embedding score; llm: LLM pick, embedding only as fallback; "
                               "embedding: no LLM in the walk")
    llm_weight: float = Field(0.5, ge=0.0, le=1.0, description="combine: weight of the LLM's pick vs. embedding")
    first_hop_k: int = Field(10, ge=1, description="hits per search tool")
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
