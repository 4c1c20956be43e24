"""The seam between ingest (pipeline/kb/ingest.py: read, check, pick what changed, commit) and the engine that does
the heavy part in between: chunk, embed, maybe extract a graph, here (`ingest.local_engine`) or on a Ray cluster
(`ingest_ray.RayEngine`). Both engines import this module, and ingest picks one: neither engine imports ingest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.graph_stores import GraphBatch

if TYPE_CHECKING:
    from kgsolver.connectors.corpus_readers import SourceDocument
    from kgsolver.connectors.embedders import TokenizingEmbedder
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
    from kgsolver.pipeline.kb.sentence_index import SentenceIndex


@dataclass
class Processed:
    """The chunk -> embed -> extract stages' output, in the order the local engine makes it: the chunks of the changed
    documents and their vectors, or the segments workers wrote of them (folder name and record, in order); and, from
    an engine that extracts itself, the graph they yield, with chunk *positions* in that order where the store wants
    chunk ids; and the chunks' sentence index (keyed by position) when the chunk pass made it (pooled vectors)."""

    chunks: list[Chunk] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    graph: GraphBatch | None = None
    segments: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    sentences: SentenceIndex | None = None


class Engine(Protocol):
    """Where chunk, embed and graph extraction run: here (`local_engine`) or on a cluster (ingest_ray.RayEngine)."""

    def __call__(self, changed: list[SourceDocument], embedder: TokenizingEmbedder, config: KGSolverConfig,
                 show_progress: bool, kb: KnowledgeBase) -> Processed: ...
