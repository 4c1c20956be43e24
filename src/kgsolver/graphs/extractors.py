"""The graph-extractor registry: `graph.extractor` names one of these (`none` builds no graph)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from kgsolver.connectors.registry import Registry

if TYPE_CHECKING:
    from kgsolver.connectors.graph_stores.base import GraphBatch
    from kgsolver.graphs.settings import GraphSettings


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
