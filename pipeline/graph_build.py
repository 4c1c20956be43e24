"""The ingest hook: build the KG beside the indexes, incrementally.

Chunks of replaced or removed documents lose their mentions and relation provenance first; the new chunks are then
extracted, resolved against the entities already known, and upserted. With the networkx store the graph is staged as
a knowledge-base component, so it is committed atomically with the chunks and indexes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from kgsolver.connectors.graph_stores.base import GraphStore, open_store
from kgsolver.connectors.graph_stores.model import GraphBatch
from kgsolver.graphs.extractors import EXTRACTORS, GraphExtractor
from kgsolver.graphs.resolution import EntityResolver, Merge

log = logging.getLogger(__name__)
GRAPH_COMPONENT, GRAPH_SUFFIX = "graph", ".jsonl.gz"


@dataclass
class GraphBuildReport:
    extractor: str = "none"
    chunks_extracted: int = 0
    relations_removed: int = 0
    entities: int = 0
    relations: int = 0
    merges: list[Merge] = field(default_factory=list)
    seconds: float = 0.0


def kb_graph_namespace(kb_root: Path) -> str:
    """A label suffix unique to one knowledge base folder, so knowledge bases sharing one Neo4j database never see
    each other's graph: the folder name (made label-safe) and a hash of its absolute path."""
    root = Path(kb_root).resolve()
    safe = re.sub(r"[^A-Za-z0-9_]", "_", root.name)[:40]
    return f"{safe}_{hashlib.sha1(str(root).encode('utf-8')).hexdigest()[:8]}"


def has_graph(kb, settings) -> bool:
    """The one "does this knowledge base have a graph?" check: a Neo4j store always may; networkx needs the
    knowledge base's `graph` component."""
    return settings.store != "networkx" or kb.component_path(GRAPH_COMPONENT) is not None


def open_kb_graph(kb, settings) -> GraphStore:
    """The configured store; the networkx one is read from the knowledge base's current `graph` component."""
    # Each store takes what it needs: networkx the file, a shared Bolt database the knowledge base's labels.
    return open_store(settings.store, path=kb.component_path(GRAPH_COMPONENT), namespace=kb_graph_namespace(kb.root))


def make_extractor(settings, *, llm_session=None) -> GraphExtractor | None:
    return EXTRACTORS.get(settings.extractor, settings, llm_session)


def stage_graph(kb, store) -> None:
    if hasattr(store, "save"):
        kb.stage_component(GRAPH_COMPONENT, store.save, GRAPH_SUFFIX)


def update_graph(kb, removed_chunk_ids: list[int], new_chunk_ids: list[int], settings, *, embedder=None,
                 llm_session=None, extractor=None) -> GraphBuildReport:
    report, started = GraphBuildReport(extractor=settings.extractor), time.perf_counter()
    if settings.extractor == "none" and kb.component_path(GRAPH_COMPONENT) is None:  # nothing to update or build
        return report
    store = open_kb_graph(kb, settings)
    try:
        report.relations_removed = store.remove_chunks(removed_chunk_ids) if removed_chunk_ids else 0
        extractor = extractor or make_extractor(settings, llm_session=llm_session)
        if extractor is not None and new_chunk_ids:
            items = [(cid, kb.chunks[cid].title, kb.chunks[cid].text) for cid in new_chunk_ids]
            batch: GraphBatch = extractor.extract(items)
            resolver = EntityResolver(embedder, threshold=settings.resolution_threshold)
            resolver.learn(store.iter_entities())
            store.upsert(resolver.resolve(batch))
            report.chunks_extracted, report.merges = len(items), resolver.log
        stats = store.stats()
        report.entities, report.relations = stats["entities"], stats["relations"]
        if removed_chunk_ids or new_chunk_ids:
            stage_graph(kb, store)
    finally:
        store.close()
    report.seconds = time.perf_counter() - started
    return report


def import_into_kb(kb_dir: Path, triples: Path, terms: Path | None, settings, *, limit: int | None = None) -> dict:
    """`kgsolver graph import`: add an external KG to a knowledge base, atomically with its manifest."""
    from kgsolver.graphs.import_triples import import_kg
    from kgsolver.pipeline.knowledge_base import KnowledgeBase, write_lock

    with write_lock(kb_dir):
        kb = KnowledgeBase.open(kb_dir)
        store = open_kb_graph(kb, settings)
        try:
            counts = import_kg(store, triples, terms, limit=limit)
            stage_graph(kb, store)
            kb.commit()
            counts["stats"] = store.stats()
        finally:
            store.close()
    return counts
