"""The `filters` block of KGSolverConfig (the configuration's bottom layer: imports no pipeline code)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class FilterSettings(BaseModel):
    enabled: bool = True
    steps: list[str] = Field(
        default_factory=lambda: ["instruction_guard", "dedup", "relevance", "consistency", "brevity"],
        description="filters in the order they run")
    relevance_threshold: float = Field(0.25, description="min cosine(question, passage) with the embedder")
    keep_bridges: bool = Field(True, description="keep a passage below the threshold when a kept passage names its "
                               "title")
    keep_quoted: bool = Field(True, description="keep a passage below the threshold when it contains a phrase the "
                              "question quotes")
    llm_judge: bool = Field(False, description="one batched LLM yes/no relevance judgement when calls are to spare")
    judge_reserve_calls: int = Field(3, description="calls that must stay available after the judgement")
    cross_encoder_path: str | None = Field(None, description="a local sentence-transformers CrossEncoder folder")
    cross_encoder_threshold: float = 0.0
    brevity_tokens: int = Field(600, ge=32, description="token budget for the kept sentences")
    brevity_first_sentence_bonus: float = Field(0.1, description="added to a passage's first sentence's similarity")
    dedup_similarity: float = Field(92.0, description="rapidfuzz token_set_ratio for near duplicates")
    consistency_similarity: float = 0.8
    user_fact_similarity: float = 0.6


DEFAULTS = FilterSettings()  # the filters' constructor defaults: one definition, here
