"""The ingest hook: build the KG beside the indexes, incrementally.

Chunks of replaced or removed documents lose their mentions and relation provenance first; the new chunks are then
extracted, resolved against the entities already known, and upserted. With the networkx store the graph is a
knowledge-base component grown by deltas: a base file plus, per commit, the journal of that commit's operations
(connectors/graph_stores/journal.py), committed atomically with the chunks and indexes and replayed in order when
the graph is read; an ingest writes what it changes, not the graph, and compaction folds the deltas into a new base
(`fold_graph_deltas`). A server store (Neo4j) is written through the same journal, staged as a component and
replayed after the commit, so a process killed before the commit leaves no graph data for chunks that do not exist.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from kgsolver.connectors.errors import KnowledgeBaseError
from kgsolver.connectors.graph_stores.base import GraphStore, open_store
from kgsolver.connectors.graph_stores.journal import GraphJournal, JournaledStore
from kgsolver.connectors.graph_stores.model import GraphBatch
from kgsolver.connectors.graph_stores.networkx_store import NetworkXStore
from kgsolver.graphs.extractors import EXTRACTORS, GraphExtractor
from kgsolver.graphs.resolution import EntityResolver, Merge
from kgsolver.graphs.settings import GraphSettings

if TYPE_CHECKING:
    from kgsolver.connectors.embedders import Embedder
    from kgsolver.connectors.llms.gateway import LLMSession
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)
GRAPH_COMPONENT, GRAPH_SUFFIX = "graph", ".jsonl.gz"
JOURNAL_COMPONENT = "graph_journal"


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


def has_graph(kb: KnowledgeBase, settings: GraphSettings) -> bool:
    """The one "does this knowledge base have a graph?" check: a Neo4j store always may; networkx needs the
    knowledge base's `graph` component."""
    return settings.store != "networkx" or kb.component_path(GRAPH_COMPONENT) is not None


def load_graph_file(kb: KnowledgeBase) -> NetworkXStore:
    """The networkx graph of the knowledge base's current generation: its `graph` base file (none: empty) with its
    deltas replayed in order. A knowledge base written before deltas has the base alone."""
    path = kb.component_path(GRAPH_COMPONENT)
    store = NetworkXStore.load(path) if path is not None else NetworkXStore()
    for path in kb.component_deltas(GRAPH_COMPONENT):
        GraphJournal.load(path).replay(store)
    return store


def open_kb_graph(kb: KnowledgeBase, settings: GraphSettings) -> GraphStore:
    """The configured store; the networkx one is read from the knowledge base's current `graph` component."""
    if settings.store == "networkx":
        return load_graph_file(kb)
    # A shared Bolt database takes the knowledge base's labels.
    store = open_store(settings.store, namespace=kb_graph_namespace(kb.root))
    if isinstance(store, ServerStore):  # catch up with a journal a killed writer left
        _catch_up_when_free(kb, store)
    return store


def make_extractor(settings: GraphSettings, *, llm_session: LLMSession | None = None) -> GraphExtractor | None:
    return EXTRACTORS.get(settings.extractor, settings, llm_session)


@runtime_checkable
class ServerStore(GraphStore, Protocol):
    """A server (Bolt) store: it records in its database which of the knowledge base's journals it has applied."""

    def applied_journal(self) -> tuple[int, str] | None: ...

    def mark_applied(self, generation: int, journal: str) -> None: ...


def catch_up(kb: KnowledgeBase, store: ServerStore) -> int | None:
    """Replay the knowledge base's committed graph journal into a server store that has not applied it (a writer
    killed between its commit and its replay). Only the newest journal can be pending: every writer catches up
    before it journals. The caller holds the write lock. Returns the relations deleted, or None when up to date."""
    path = kb.component_path(JOURNAL_COMPONENT)
    if path is None:
        return None
    generation, applied = kb.component_generation(JOURNAL_COMPONENT), store.applied_journal()
    assert generation is not None, "a component with a path has the generation that wrote it"
    if applied is not None and applied[0] >= generation:
        return None
    deleted = GraphJournal.load(path).replay(store)
    store.mark_applied(generation, path.name)
    return deleted


def _catch_up_when_free(kb: KnowledgeBase, store: ServerStore) -> None:
    """On open: replay a pending journal if no writer is running (a running writer replays its own)."""
    from kgsolver.pipeline.kb.files import write_lock

    path, applied = kb.component_path(JOURNAL_COMPONENT), store.applied_journal()
    generation = kb.component_generation(JOURNAL_COMPONENT)  # not None where path is not
    if path is None or generation is None or (applied is not None and applied[0] >= generation):
        return
    try:
        with write_lock(kb.root):
            catch_up(kb, store)
    except (KnowledgeBaseError, PermissionError):  # busy, or a read-only folder: the next writer replays it
        log.info("graph journal of %s not replayed on open: the write lock is busy or not writable", kb.root.name)


def _store_for_writing(kb: KnowledgeBase, settings: GraphSettings) -> JournaledStore:
    store = open_kb_graph(kb, settings)
    if hasattr(store, "save"):  # the graph file: applied now, its journal staged as the commit's delta
        return JournaledStore(store, apply=True)
    assert isinstance(store, ServerStore), f"{type(store).__name__}: neither the graph file nor a server store"
    catch_up(kb, store)
    return JournaledStore(store)


def _replay_committed(kb: KnowledgeBase, settings: GraphSettings, report: GraphBuildReport | None) -> None:
    store = open_store(settings.store, namespace=kb_graph_namespace(kb.root))
    assert isinstance(store, ServerStore), "only a server store replays a committed journal"
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
    if store.apply and (kb.component_path(GRAPH_COMPONENT) is None or _fold_due(kb)):
        file_store = store.store
        assert isinstance(file_store, NetworkXStore), "only the networkx store applies its journal in memory"
        kb.stage_component(GRAPH_COMPONENT, file_store.save, GRAPH_SUFFIX)  # the whole graph, as the new base
    elif store.apply:
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
            resolver = EntityResolver(embedder, threshold=settings.resolution_threshold)
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
    from kgsolver.pipeline.kb.files import write_lock
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
