"""Compaction: merge segments of a knowledge base into one, without their tombstoned rows, in one commit.

The merged segment keeps every chunk's global id (ids.npy, sorted), so the graph's provenance, the atomic questions
and every reader's ids stay valid. Its vector index is built again from the stored vectors with the current
`IndexSpec` (a trained IVF index is re-trained on what is left), its BM25 index from the stored text, and its
sentence index is copied from the merged segments' (nothing is re-encoded). A compaction of every segment also folds
the graph's deltas and writes the atomic questions without those of deleted chunks. The commit is the usual one:
readers of the previous generation keep its segments until they close it.

`compact_if_due` is the automatic trigger a commit runs (settings in `KBSettings`): see `kb_ids.pick_for_compaction`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgsolver.connectors.errors import KnowledgeBaseError
from kgsolver.connectors.vector_index import IndexSpec
from kgsolver.pipeline.kb.chunking import Chunk
from kgsolver.pipeline.kb.ids import pick_for_compaction
from kgsolver.pipeline.kb.segment import SENTENCES_DIR, Segment, fsync_tree, write_segment
from kgsolver.pipeline.kb.sentence_index import SentenceIndex

if TYPE_CHECKING:
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase


def _chosen(kb: KnowledgeBase, names: set[str] | None) -> list[Segment]:
    segments = kb.segment_set.segments
    if names is not None:
        unknown = sorted(names - {s.name for s in segments})
        if unknown:
            raise KnowledgeBaseError(f"{kb.root}: no segment {', '.join(unknown)}")
    return [s for s in segments if names is None or s.name in names]


def _merged_sentences(parts: list[tuple[Segment, np.ndarray, np.ndarray]], dimensions: int) -> SentenceIndex:
    """The live rows' sentences, renamed to their rows in the merged segment."""
    return SentenceIndex.concatenated([(s.sentences, rows, new_rows) for s, rows, new_rows in parts
                                       if s.sentences is not None], dimensions)


def compact(kb: KnowledgeBase, names: set[str] | None = None, spec: IndexSpec | None = None) -> dict | None:
    """Merge these segments (all when None) and commit; returns the merged segment's record, or None when there is
    nothing to merge (no segment, or a single one without tombstones). The caller holds the write lock. When every
    segment is merged (`names` None), the graph file's deltas are folded into a new base and the atomic questions of
    deleted chunks dropped, in the same commit."""
    from kgsolver.pipeline.kb.atomic_index import fold_atomic
    from kgsolver.pipeline.kb.graph_build import fold_graph_deltas

    chosen = _chosen(kb, names)
    dead = kb.segment_set.dead
    if not chosen or (len(chosen) == 1 and not len(chosen[0].ids.dead_in(dead))):
        if names is None and (fold_graph_deltas(kb) | fold_atomic(kb)):  # both, not the first that folds
            kb.commit()
        return None
    live = [(s, kb.segment_set.live_rows(s)) for s in chosen]
    gids = [s.ids.to_global(rows) for s, rows in live]
    if not sum(len(g) for g in gids):
        raise KnowledgeBaseError(f"{kb.root}: every row of {', '.join(s.name for s in chosen)} is deleted; "
                                 "compact them together with a segment that has live rows")
    ids = np.concatenate(gids)
    order = np.argsort(ids, kind="stable")
    chunks: list[Chunk] = []
    vectors = np.zeros((len(ids), kb.dimensions), dtype=np.float32)
    at = 0
    for segment, rows in live:
        read = segment.chunks(rows)
        chunks += [read[r] for r in rows.tolist()]
        vectors[at : at + len(rows)] = segment.vectors[rows]
        at += len(rows)
    sorted_ids = ids[order]
    folder = kb.new_segment_folder()
    record = write_segment(folder, [chunks[i] for i in order.tolist()], vectors[order], None,
                           spec or kb.spec(), ids=sorted_ids)
    parts = [(s, rows, np.searchsorted(sorted_ids, g)) for (s, rows), g in zip(live, gids, strict=True)]
    _merged_sentences(parts, kb.dimensions).save(folder / SENTENCES_DIR)
    fsync_tree(folder)
    kb.stage_compaction({s.name for s in chosen}, record)
    if names is None:
        fold_graph_deltas(kb)
        fold_atomic(kb)
    kb.commit()
    return record


def compact_if_due(kb: KnowledgeBase) -> bool:
    """Compact the segments the size policy picks (`KBSettings`, `kb.settings`); True when it did."""
    settings = kb.kb_settings()
    if not settings.auto_compact:
        return False
    segments, dead = kb.segment_set.segments, kb.segment_set.dead
    picked = pick_for_compaction([s.rows for s in segments], [len(s.ids.dead_in(dead)) for s in segments],
                                 settings.max_segments, settings.max_dead_ratio)
    if not picked or not sum(len(kb.segment_set.live_rows(segments[i])) for i in picked):
        return False  # every picked row is deleted (a delete of everything): nothing to merge them into yet
    return compact(kb, {segments[i].name for i in picked}) is not None


@dataclass
class CompactReport:
    segments_before: int = 0
    segments_after: int = 0
    rows_dropped: int = 0
    chunks: int = 0
    generation: int = 0
    seconds: float = 0.0


def compact_kb(root: Path, config: KGSolverConfig | None = None) -> CompactReport:
    """`kgsolver kb compact`: merge every segment of the knowledge base at `root` into one, under the write lock,
    with the configured vector index (`config.vector_index`)."""
    from kgsolver.pipeline.config import KGSolverConfig
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase, write_lock

    config, started = config or KGSolverConfig(), time.perf_counter()
    with write_lock(Path(root)), KnowledgeBase.open(Path(root), config) as kb:
        report = CompactReport(segments_before=len(kb.segment_set.segments))
        stored_before = kb.segment_set.stored
        compact(kb)
        report.segments_after, report.chunks = len(kb.segment_set.segments), len(kb.chunks)
        report.rows_dropped, report.generation = stored_before - kb.segment_set.stored, kb.manifest["generation"]
    report.seconds = time.perf_counter() - started
    return report
