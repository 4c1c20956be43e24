"""The `preference` block of KGSolverConfig (kept here, beside the policies, and imported by pipeline/config.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from kgsolver.pipeline.preference.registry import POLICIES, policy_key


class PreferenceSettings(BaseModel):
    policy: str = Field("hierarchical", description=" | ".join(POLICIES.names()))
    parametric_min_confidence: int = Field(50, ge=0, le=100,
                                           description="closed-book answers below this self-rated confidence abstain")
    adaptive_skip_confidence: int = Field(90, ge=0, le=100,
                                          description="adaptive: skip retrieval at or above this confidence")
    same_answer_similarity: float = Field(0.85, description="embedding cosine above which two answers agree")
    parametric_max_tokens: int = 48
    verify_tag: str = "[LLM: verify]"

    @field_validator("policy")
    @classmethod
    def _registered(cls, name: str) -> str:
        return policy_key(name)
