"""The knowledge base's graph as a question reads it: the networkx graph file with its deltas replayed, or a server
store under the knowledge base's labels (a journal a killed writer left replayed on open). What writes the graph, its
extraction and entity resolution included, is pipeline/kb/graph_build.py: a question imports none of it."""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.connectors.graph_stores import GraphStore, ServerStore, open_server_store
from kgsolver.connectors.graph_stores.networkx_store import NetworkXStore

if TYPE_CHECKING:
    from kgsolver.graphs import GraphSettings
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

log = logging.getLogger(__name__)
GRAPH_COMPONENT, GRAPH_SUFFIX = "graph", ".jsonl.gz"
JOURNAL_COMPONENT = "graph_journal"


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
    deltas = kb.component_deltas(GRAPH_COMPONENT)
    if deltas:
        from kgsolver.connectors.graph_stores.journal import GraphJournal  # the journal reader: only for deltas

        for path in deltas:
            GraphJournal.load(path).replay(store)
    return store


def open_kb_graph(kb: KnowledgeBase, settings: GraphSettings) -> GraphStore:
    """The configured store; the networkx one is read from the knowledge base's current `graph` component."""
    return load_graph_file(kb) if settings.store == "networkx" else open_server_graph(kb, settings)


def open_server_graph(kb: KnowledgeBase, settings: GraphSettings) -> ServerStore:
    """The configured server store under the knowledge base's labels (a shared Bolt database), caught up with a
    journal a killed writer left."""
    store = open_server_store(settings.store, namespace=kb_graph_namespace(kb.root))
    _catch_up_when_free(kb, store)
    return store


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
    from kgsolver.connectors.graph_stores.journal import GraphJournal  # (lazy: see load_graph_file)

    deleted = GraphJournal.load(path).replay(store)
    store.mark_applied(generation, path.name)
    return deleted


def _catch_up_when_free(kb: KnowledgeBase, store: ServerStore) -> None:
    """On open: replay a pending journal if no writer is running (a running writer replays its own)."""
    from kgsolver.pipeline.kb import write_lock

    path, applied = kb.component_path(JOURNAL_COMPONENT), store.applied_journal()
    generation = kb.component_generation(JOURNAL_COMPONENT)  # not None where path is not
    if path is None or generation is None or (applied is not None and applied[0] >= generation):
        return
    try:
        with write_lock(kb.root):
            catch_up(kb, store)
    except (KnowledgeBaseError, PermissionError):  # busy, or a read-only folder: the next writer replays it
        log.info("graph journal of %s not replayed on open: the write lock is busy or not writable", kb.root.name)
