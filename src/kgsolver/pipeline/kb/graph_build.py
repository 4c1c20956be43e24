"""The ingest hook: build the KG beside the indexes, incrementally.

Chunks of replaced or removed documents lose their mentions and relation provenance first; the new chunks are then
extracted, resolved against the entities already known, and upserted. With the networkx store the graph is a
knowledge-base component grown by deltas: a base file plus, per commit, the journal of that commit's operations
(connectors/graph_stores/journal.py), committed atomically with the chunks and indexes and replayed in order when
the graph is read; an ingest writes what it changes, not the graph, and compaction folds the deltas into a new base
(`fold_graph_deltas`). A server store (Neo4j) is written through the same journal, staged as a component and
replayed after the commit, so a process killed before the commit leaves no graph data for chunks that do not exist.
Reading the graph (and a killed writer's journal replayed on open) is pipeline/kb/graph_read.py.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgsolver.connectors.graph_stores import GraphBatch, open_server_store
from kgsolver.connectors.graph_stores.journal import JournaledStore
from kgsolver.graphs import EXTRACTORS, GraphExtractor, GraphSettings
from kgsolver.graphs.resolution import EntityResolver, Merge
from kgsolver.pipeline.kb.graph_read import (
    GRAPH_COMPONENT,
    GRAPH_SUFFIX,
    JOURNAL_COMPONENT,
    catch_up,
    kb_graph_namespace,
    load_graph_file,
    open_server_graph,
)

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder
    from kgsolver.connectors.llms.gateway import LLMSession
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase


@dataclass
class GraphBuildReport:
    extractor: str = "none"
    chunks_extracted: int = 0
    relations_removed: int = 0
    entities: int = 0
    relations: int = 0
    merges: list[Merge] = field(default_factory=list)
    seconds: float = 0.0


def make_extractor(settings: GraphSettings, *, llm_session: LLMSession | None = None) -> GraphExtractor | None:
    return EXTRACTORS.get(settings.extractor, settings, llm_session)


def _store_for_writing(kb: KnowledgeBase, settings: GraphSettings) -> JournaledStore:
    if settings.store == "networkx":  # the graph file: applied now, its journal staged as the commit's delta
        return JournaledStore.applied_to(load_graph_file(kb))
    store = open_server_graph(kb, settings)
    catch_up(kb, store)
    return JournaledStore(store)


def _replay_committed(kb: KnowledgeBase, settings: GraphSettings, report: GraphBuildReport | None) -> None:
    store = open_server_store(settings.store, namespace=kb_graph_namespace(kb.root))
    try:
        deleted = catch_up(kb, store)
        if report is not None:
            stats = store.stats()
            report.relations_removed = deleted or 0
            report.entities, report.relations = stats["entities"], stats["relations"]
    finally:
        store.close()


def stage_graph(kb: KnowledgeBase, store: JournaledStore, settings: GraphSettings,
                report: GraphBuildReport | None = None) -> None:
    """The graph joins the next commit: the file store's journal as a delta of the `graph` component (the whole
    graph as its base when there is none yet), a server store's journal as a component that is replayed once the
    commit is visible."""
    file_store = store.file
    if file_store is not None and (kb.component_path(GRAPH_COMPONENT) is None or _fold_due(kb)):
        kb.stage_component(GRAPH_COMPONENT, file_store.save, GRAPH_SUFFIX)  # the whole graph, as the new base
    elif file_store is not None:
        kb.stage_delta(GRAPH_COMPONENT, store.journal.save, GRAPH_SUFFIX)
    else:
        kb.stage_component(JOURNAL_COMPONENT, store.journal.save, GRAPH_SUFFIX)
        kb.after_commit(lambda: _replay_committed(kb, settings, report))


def _fold_due(kb: KnowledgeBase) -> bool:
    """Whether this commit writes the whole graph as a new base instead of one more delta: once the deltas' bytes
    pass `KBSettings.max_graph_delta_ratio` of the base's. The base then grows geometrically between rewrites, so the
    graph bytes an ingest writes stay, averaged, proportional to what it adds. By bytes, not by count: tiny deletes
    would otherwise rewrite the graph for a few ids each."""
    deltas, base = kb.component_deltas(GRAPH_COMPONENT), kb.component_path(GRAPH_COMPONENT)
    return bool(deltas) and base is not None and \
        sum(p.stat().st_size for p in deltas) > kb.kb_settings().max_graph_delta_ratio * base.stat().st_size


def fold_graph_deltas(kb: KnowledgeBase) -> bool:
    """Compaction of the graph file: stage its base with every delta replayed as the new base (the deltas leave the
    manifest with it); False when it has no delta."""
    if not kb.component_deltas(GRAPH_COMPONENT):
        return False
    kb.stage_component(GRAPH_COMPONENT, load_graph_file(kb).save, GRAPH_SUFFIX)
    return True


def _holds_graph(kb: KnowledgeBase, settings: GraphSettings) -> bool:
    """Whether the configured store holds graph data of this knowledge base (to update even with extraction off):
    the networkx component, or a Bolt store's committed journal."""
    return kb.component_path(GRAPH_COMPONENT if settings.store == "networkx" else JOURNAL_COMPONENT) is not None


def update_graph(kb: KnowledgeBase, removed_chunk_ids: list[int], new_chunk_ids: list[int], settings: GraphSettings,
                 *, embedder: Embedder | None = None, llm_session: LLMSession | None = None,
                 extractor: GraphExtractor | None = None, batch: GraphBatch | None = None) -> GraphBuildReport:
    """`batch`: the new chunks' graph, extracted elsewhere (the Ray engine's workers), over these chunk ids."""
    report, started = GraphBuildReport(extractor=settings.extractor), time.perf_counter()
    if settings.extractor == "none" and not _holds_graph(kb, settings):  # nothing to update or build
        return report
    store = _store_for_writing(kb, settings)
    try:
        report.relations_removed = store.remove_chunks(removed_chunk_ids) if removed_chunk_ids else 0
        extractor = None if batch is not None else extractor or make_extractor(settings, llm_session=llm_session)
        if extractor is not None and new_chunk_ids:
            chunks = kb.chunks.many(new_chunk_ids)  # one batched read of the chunk stores, not two per chunk
            batch = extractor.extract([(cid, chunks[cid].title, chunks[cid].text) for cid in new_chunk_ids])
        if batch is not None and new_chunk_ids:
            resolver = EntityResolver(embedder, threshold=settings.resolution_threshold,
                                      batch_size=settings.resolution_batch_size)
            resolver.learn(store.iter_entities())
            store.upsert(resolver.resolve(batch))
            report.chunks_extracted, report.merges = len(new_chunk_ids), resolver.log
        stats = store.stats()
        report.entities, report.relations = stats["entities"], stats["relations"]
        if removed_chunk_ids or new_chunk_ids:
            stage_graph(kb, store, settings, report)
    finally:
        store.close()
    report.seconds = time.perf_counter() - started
    return report


def import_into_kb(kb_dir: Path, triples: Path, terms: Path | None, config: KGSolverConfig, *,
                   limit: int | None = None) -> dict[str, Any]:
    """`kgsolver graph import`: add an external KG to a knowledge base, atomically with its manifest; the store and
    the commit's compaction follow the caller's `config`."""
    from kgsolver.graphs.import_triples import import_kg
    from kgsolver.pipeline.kb import write_lock
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

    settings = config.graph
    with write_lock(kb_dir):
        kb = KnowledgeBase.open(kb_dir, config)
        store = _store_for_writing(kb, settings)
        try:
            counts = import_kg(store, triples, terms, limit=limit)
            stage_graph(kb, store, settings)
            kb.commit()
            counts["stats"] = store.stats()
        finally:
            store.close()
    return counts
