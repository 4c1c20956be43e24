"""Compaction: merge segments of a knowledge base into one, without their tombstoned rows, in one commit.

The merge itself is pipeline/kb/merge.py (the automatic trigger a commit runs, `compact_if_due`, is there too). A
compaction of every segment also folds the graph's deltas and writes the atomic questions without those of deleted
chunks. The commit is the usual one: readers of the previous generation keep its segments until they close it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kgsolver.connectors.index_spec import IndexSpec
from kgsolver.pipeline.kb import write_lock
from kgsolver.pipeline.kb.atomic_index import fold_atomic
from kgsolver.pipeline.kb.graph_build import fold_graph_deltas
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.kb.merge import merge_segments

if TYPE_CHECKING:
    from kgsolver.pipeline.config import KGSolverConfig


def compact(kb: KnowledgeBase, names: set[str] | None = None, spec: IndexSpec | None = None) -> dict[str, Any] | None:
    """Merge these segments (all when None) and commit; returns the merged segment's record, or None when there is
    nothing to merge (no segment, or a single one without tombstones). The caller holds the write lock. When every
    segment is merged (`names` None), the graph file's deltas are folded into a new base and the atomic questions of
    deleted chunks dropped, in the same commit."""
    record = merge_segments(kb, names, spec)
    if record is None:
        if names is None and (fold_graph_deltas(kb) | fold_atomic(kb)):  # both, not the first that folds
            kb.commit()
        return None
    if names is None:
        fold_graph_deltas(kb)
        fold_atomic(kb)
    kb.commit()
    return record


@dataclass
class CompactReport:
    segments_before: int = 0
    segments_after: int = 0
    rows_dropped: int = 0
    chunks: int = 0
    generation: int = 0
    seconds: float = 0.0


def compact_kb(root: Path, config: KGSolverConfig) -> CompactReport:
    """`kgsolver kb compact`: merge every segment of the knowledge base at `root` into one, under the write lock,
    with the configured vector index (`config.vector_index`)."""
    started = time.perf_counter()
    with write_lock(Path(root)), KnowledgeBase.open(Path(root), config) as kb:
        report = CompactReport(segments_before=len(kb.segment_set.segments))
        stored_before = kb.segment_set.stored
        compact(kb)
        report.segments_after, report.chunks = len(kb.segment_set.segments), len(kb.chunks)
        report.rows_dropped, report.generation = stored_before - kb.segment_set.stored, kb.manifest["generation"]
    report.seconds = time.perf_counter() - started
    return report
