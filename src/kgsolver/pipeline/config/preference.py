"""The `preference` block of KGSolverConfig (the configuration's bottom layer: imports no pipeline code)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from kgsolver.connectors.registry import Registry

# The policies' names (pipeline/answer/preference/registry.py registers a factory for each;
# tests/unit/test_registry.py checks that the two agree): the settings validate against the names, so reading the
# configuration imports no policy code.
POLICY_NAMES = ("hierarchical", "context_only", "documents_only", "tagged", "adaptive")
_NAMES: Registry[str] = Registry.of("preference policy", {name: name for name in POLICY_NAMES})


def policy_key(name: str) -> str:
    """The registered name of `name` ('context-only' is 'context_only'), or the error listing the policies."""
    return _NAMES.check(name.replace("-", "_"))


class PreferenceSettings(BaseModel):
    policy: str = Field("hierarchical", description=" | ".join(_NAMES.names()))
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
