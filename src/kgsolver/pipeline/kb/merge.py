"""Merging segments, and the size policy a commit runs by itself (`compact_if_due`, settings in `KBSettings`).

The merged segment keeps every chunk's global id (ids.npy, sorted), so the graph's provenance, the atomic questions
and every reader's ids stay valid. Its vector index is built again from the stored vectors with the current
`IndexSpec` (a trained IVF index is re-trained on what is left), its BM25 index from the stored text, and its
sentence index is copied from the merged segments' (nothing is re-encoded). This module knows the knowledge base only
through `Segmented`, the part of it a merge uses, so that knowledge_base.py can run the policy after its commit
without an import cycle; a compaction of every segment, which also folds the graph and atomic components, is
pipeline/kb/compact.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.index_spec import IndexSpec
from kgsolver.pipeline.kb import pick_for_compaction
from kgsolver.pipeline.kb.segment import SENTENCES_DIR, Segment, fsync_tree, write_segment
from kgsolver.pipeline.kb.sentence_index import SentenceIndex
from kgsolver.pipeline.kb.views import SegmentSet

if TYPE_CHECKING:
    from kgsolver.pipeline.config import KBSettings


class Segmented(Protocol):
    """What a merge reads and stages of a knowledge base (pipeline/kb/knowledge_base.py::KnowledgeBase)."""

    root: Path
    dimensions: int

    @property
    def segment_set(self) -> SegmentSet: ...

    def spec(self) -> IndexSpec: ...

    def kb_settings(self) -> KBSettings: ...

    def new_segment_folder(self) -> Path: ...

    def stage_compaction(self, replaced: set[str], record: dict[str, Any]) -> None: ...

    def commit(self) -> None: ...


def _chosen(kb: Segmented, names: set[str] | None) -> list[Segment]:
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


def merge_segments(kb: Segmented, names: set[str] | None = None,
                   spec: IndexSpec | None = None) -> dict[str, Any] | None:
    """Write one segment of these segments' live rows (all segments when None) and stage it in their place; returns
    its record, or None when there is nothing to merge (no segment, or a single one without tombstones). Nothing is
    committed. The caller holds the write lock."""
    chosen = _chosen(kb, names)
    dead = kb.segment_set.dead
    if not chosen or (len(chosen) == 1 and not len(chosen[0].ids.dead_in(dead))):
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
    return record


def compact_if_due(kb: Segmented) -> bool:
    """Merge and commit the segments the size policy picks (`KBSettings`, `kb.settings`); True when it did."""
    settings = kb.kb_settings()
    if not settings.auto_compact:
        return False
    segments, dead = kb.segment_set.segments, kb.segment_set.dead
    picked = pick_for_compaction([s.rows for s in segments], [len(s.ids.dead_in(dead)) for s in segments],
                                 settings.max_segments, settings.max_dead_ratio)
    if not picked or not sum(len(kb.segment_set.live_rows(segments[i])) for i in picked):
        return False  # every picked row is deleted (a delete of everything): nothing to merge them into yet
    if merge_segments(kb, {segments[i].name for i in picked}) is None:
        return False
    kb.commit()
    return True
