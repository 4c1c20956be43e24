"""Listing and deleting the documents of a knowledge base: the one implementation behind `kgsolver kb list|delete`
and the API's `GET /kb/{name}/documents` and `DELETE /kb/{name}/documents/{id}`.

A delete holds the write lock and checks every id before it changes anything: an unknown id is an error that names
it, and nothing is deleted. It then tombstones the documents' chunks (`KnowledgeBase.remove_documents`: their rows
in the chunk store, vector, keyword and sentence indexes of their segments are no longer read, and compaction drops
them, and with them their atomic questions: `read_atomic` leaves out the questions of tombstoned chunks), removes
their graph provenance (the graph step ingest runs for a replaced document, with nothing new to extract), and commits
all of it at once: a process killed before the manifest swap leaves the knowledge base as it was. Nothing is
re-embedded, re-extracted or rebuilt.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb import write_lock
from kgsolver.pipeline.kb.atomic_index import stored_atomic
from kgsolver.pipeline.kb.graph_build import update_graph
from kgsolver.pipeline.kb.knowledge_base import DocumentInfo, KnowledgeBase


class UnknownDocumentError(KnowledgeBaseError):
    """A delete named a document id the knowledge base does not hold; nothing was deleted."""

    def __init__(self, root: Path, unknown: list[str]) -> None:
        more = f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        shown = ", ".join(repr(d) for d in unknown[:10]) + more
        super().__init__(f"{root}: no document with id {shown}; nothing was deleted "
                         f"(`kgsolver kb list --kb {root}` lists the ids)")
        self.unknown = unknown


@dataclass
class DeleteReport:
    documents: list[str] = field(default_factory=list)
    chunks_removed: int = 0
    atomic_questions_removed: int = 0
    relations_removed: int = 0
    generation: int = 0
    seconds: float = 0.0


def requested_ids(doc_ids: Iterable[str]) -> list[str]:
    """The ids to delete, each once, in the order given; an empty request is refused."""
    ids = list(dict.fromkeys(doc_ids))
    if not ids:
        raise ValueError("no document ids given: name at least one (`kgsolver kb list` lists them)")
    return ids


def list_documents(kb_dir: str | Path) -> list[DocumentInfo]:
    with KnowledgeBase.open(Path(kb_dir)) as kb:
        return kb.list_documents()


def _atomic_questions_of(kb: KnowledgeBase, removed: set[int]) -> int:
    """How many atomic questions belong to the removed chunks: the tombstones hide them (`read_atomic`), so the
    component is not written again; compaction drops them (`fold_atomic`). The removed chunks are live."""
    index = stored_atomic(kb)
    return int(np.isin(index.cids, list(removed)).sum()) if index is not None and removed else 0


def delete_documents(kb_dir: str | Path, doc_ids: Iterable[str], config: KGSolverConfig) -> DeleteReport:
    """Delete these documents in one commit, or raise `UnknownDocumentError` with nothing changed."""
    root, started = Path(kb_dir), time.perf_counter()
    ids = requested_ids(doc_ids)
    with write_lock(root), KnowledgeBase.open(root, config) as kb:  # its commit compacts by the caller's settings
        unknown = kb.unknown_documents(ids)
        if unknown:
            raise UnknownDocumentError(root, unknown)
        removed = kb.chunk_ids_of(set(ids)).tolist()
        report = DeleteReport(documents=ids)
        report.atomic_questions_removed = _atomic_questions_of(kb, set(removed))  # counted while still live
        report.chunks_removed = kb.remove_documents(set(ids))
        graph = update_graph(kb, removed, [], config.graph)
        kb.commit()
        report.relations_removed = graph.relations_removed  # a server store's count is known after the replay
        report.generation = kb.manifest["generation"]
    report.seconds = time.perf_counter() - started
    return report
