"""The knowledge base and everything that writes it: ingest (local and Ray), chunking, segments, files, compaction,
format upgrade, document admin, the sentence and atomic indexes, the graph build and the atomize job.

Here, the arithmetic every module of the package shares: global chunk ids over segments, and tombstones.

A chunk's global id never changes (graph provenance, atomic questions and sentence rows refer to it). A segment
written by an ingest holds the ids `base .. base + rows - 1` in row order, `base` assigned when the knowledge base
adopts it; a segment written by compaction keeps the ids of the rows it copied, listed explicitly (sorted). Deleted
and replaced chunks are tombstones: a sorted array of global ids, dropped from every read until compaction removes
their rows.
"""

from __future__ import annotations

import numpy as np

EMPTY_IDS = np.zeros(0, dtype=np.int64)


def as_ids(values: object) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


def merge_dead(*parts: np.ndarray) -> np.ndarray:
    """The sorted union of tombstone arrays."""
    arrays = [as_ids(p) for p in parts if len(p)]
    return np.unique(np.concatenate(arrays)) if arrays else EMPTY_IDS


def is_dead(ids: np.ndarray, dead: np.ndarray) -> np.ndarray:
    """A mask over `ids`: True where the id is in the sorted array `dead`."""
    ids = as_ids(ids)
    if not len(dead) or not len(ids):
        return np.zeros(len(ids), dtype=bool)
    at = np.minimum(np.searchsorted(dead, ids), len(dead) - 1)
    mask: np.ndarray = dead[at] == ids
    return mask


class SegmentIds:
    """The global ids of one segment's rows: `base + row`, or an explicit sorted array (a compacted segment)."""

    def __init__(self, rows: int, base: int | None = None, explicit: np.ndarray | None = None) -> None:
        if (base is None) == (explicit is None):
            raise ValueError("a segment's ids are either a base or an explicit array")
        if explicit is not None and len(explicit) != rows:
            raise ValueError(f"{len(explicit)} explicit ids for {rows} rows")
        self.rows, self.base, self.explicit = rows, base, explicit
        if explicit is not None and rows:
            self.lo, self.hi = int(explicit[0]), int(explicit[-1])
        else:
            self.lo, self.hi = (base or 0), (base or 0) + rows - 1

    def to_global(self, rows: np.ndarray) -> np.ndarray:
        rows = as_ids(rows)
        return as_ids(self.explicit[rows]) if self.explicit is not None else rows + self.base

    def all(self) -> np.ndarray:
        return as_ids(self.explicit) if self.explicit is not None else np.arange(self.lo, self.lo + self.rows)

    def to_local(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(mask over `ids` of those in this segment, their rows)."""
        ids = as_ids(ids)
        inside = (ids >= self.lo) & (ids <= self.hi)
        if self.explicit is None:
            return inside, ids[inside] - self.base
        at = np.searchsorted(self.explicit, ids[inside])
        found = np.zeros(len(ids), dtype=bool)
        hit = at < self.rows
        hit[hit] = np.asarray(self.explicit[at[hit]]) == ids[inside][hit]
        found[np.flatnonzero(inside)[hit]] = True
        return found, as_ids(at[hit])

    def dead_in(self, dead: np.ndarray) -> np.ndarray:
        """The tombstones that fall in this segment."""
        mask, _ = self.to_local(dead)
        inside: np.ndarray = as_ids(dead)[mask]
        return inside


def pick_for_compaction(rows: list[int], dead: list[int], max_segments: int, dead_ratio: float) -> list[int]:
    """Which segments (positions in the lists) a size-based compaction merges; [] when none is due.

    All of them once tombstones exceed `dead_ratio` of the stored rows (every search over-fetches past them). Else,
    past `max_segments`, the smallest ones, so that the count falls to half the limit: each row is rewritten about
    log(n) times over the life of the knowledge base, not once per ingest."""
    total = sum(rows)
    if total and sum(dead) / total > dead_ratio:
        return list(range(len(rows)))
    if len(rows) <= max_segments:
        return []
    order = sorted(range(len(rows)), key=lambda i: (rows[i], i))
    return sorted(order[: len(rows) - max(1, max_segments // 2) + 1])
