"""What a knowledge base's readers see over its segments: `kb.chunks` (a read-only mapping), `kb.dense`, `kb.bm25`
and `kb.sentences`, each addressed by global chunk id, with tombstoned chunks left out.

Nothing here holds the corpus in memory: chunks are read from the segments' SQLite stores as they are asked for
(a small LRU keeps the ones a question reads again and again), vectors from the memory-mapped `vectors.npy`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import ItemsView, Iterable, Iterator, KeysView, Mapping, ValuesView
from typing import Protocol

import numpy as np

from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.keyword_index import search_segments
from kgsolver.pipeline.kb import EMPTY_IDS, as_ids, is_dead
from kgsolver.pipeline.kb.segment import Segment, stored_chunk

_SCAN_BLOCK = 4096


class SegmentSet:
    """The segments a knowledge base reads (committed and staged, in adoption order) and its tombstones."""

    def __init__(self, segments: list[Segment], dead: np.ndarray) -> None:
        self.segments, self.dead = segments, as_ids(dead)

    @property
    def stored(self) -> int:
        return sum(s.rows for s in self.segments)

    def __len__(self) -> int:
        return self.stored - len(self.dead)

    def locate(self, ids: np.ndarray) -> Iterator[tuple[Segment, np.ndarray, np.ndarray]]:
        """(segment, positions in `ids`, rows in the segment) for the ids each segment holds."""
        ids = as_ids(ids)
        for segment in self.segments:
            mask, rows = segment.ids.to_local(ids)
            if len(rows):
                yield segment, np.flatnonzero(mask), rows

    def live(self, ids: np.ndarray) -> np.ndarray:
        """A mask over `ids`: stored in a segment and not tombstoned."""
        ids = as_ids(ids)
        found = np.zeros(len(ids), dtype=bool)
        for _, where, _ in self.locate(ids):
            found[where] = True
        live: np.ndarray = found & ~is_dead(ids, self.dead)
        return live

    def live_rows(self, segment: Segment) -> np.ndarray:
        """The segment's rows that are not tombstoned."""
        mine = segment.ids.dead_in(self.dead)
        rows = np.arange(segment.rows, dtype=np.int64)
        if len(mine):
            rows = rows[~is_dead(segment.ids.to_global(rows), mine)]
        return rows


class SegmentOwner(Protocol):
    segment_set: SegmentSet


class SegmentBox:
    """The knowledge base's current segment set, shared with its views: the views hold the box, not the knowledge
    base, so dropping the knowledge base frees it (and its reader lease) at once, with no reference cycle."""

    __slots__ = ("segment_set",)

    def __init__(self, segment_set: SegmentSet) -> None:
        self.segment_set = segment_set


class _Items(ItemsView[int, Chunk]):
    """`kb.chunks.items()`: streamed in blocks, not one lookup per key."""

    def __init__(self, view: ChunkView) -> None:
        super().__init__(view)
        self._view = view

    def __iter__(self) -> Iterator[tuple[int, Chunk]]:
        return self._view.stream()


class _Values(ValuesView[Chunk]):
    def __init__(self, view: ChunkView) -> None:
        super().__init__(view)
        self._view = view

    def __iter__(self) -> Iterator[Chunk]:
        return (chunk for _, chunk in self._view.stream())


class ChunkView(Mapping[int, Chunk]):
    """`kb.chunks`: global chunk id -> Chunk, read from the segments' stores on demand."""

    def __init__(self, owner: SegmentOwner, cache_size: int = 4096) -> None:
        self._owner = owner
        self._cache: OrderedDict[int, Chunk] = OrderedDict()  # chunks never change under an id; only liveness does
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self.rows_read = 0  # chunks read from the stores (tests check that opening reads none)

    @property
    def _set(self) -> SegmentSet:
        return self._owner.segment_set

    def many(self, ids: Iterable[int]) -> dict[int, Chunk]:
        """The live chunks among these ids, in the order asked (absent and deleted ids are left out)."""
        wanted = as_ids(list(ids))
        wanted = wanted[self._set.live(wanted)]
        with self._lock:
            found = {cid: self._cache[cid] for cid in wanted.tolist() if cid in self._cache}
        missing = as_ids([cid for cid in wanted.tolist() if cid not in found])
        fresh: dict[int, Chunk] = {}
        for segment, where, rows in self._set.locate(missing):
            read = segment.chunks(rows)
            for gid, row in zip(missing[where].tolist(), rows.tolist(), strict=True):
                fresh[gid] = read[row]
        self.rows_read += len(fresh)
        with self._lock:
            for gid, chunk in fresh.items():
                self._cache[gid] = chunk
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        found.update(fresh)
        return {cid: found[cid] for cid in wanted.tolist()}

    def __getitem__(self, key: int) -> Chunk:
        if not isinstance(key, (int, np.integer)):
            raise KeyError(key)
        got = self.many([int(key)])
        if not got:
            raise KeyError(key)
        return got[int(key)]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (int, np.integer)) and bool(self._set.live(as_ids([key]))[0])

    def __len__(self) -> int:
        return len(self._set)

    def __iter__(self) -> Iterator[int]:
        for segment in self._set.segments:
            yield from segment.ids.to_global(self._set.live_rows(segment)).tolist()

    def stream(self) -> Iterator[tuple[int, Chunk]]:
        """(id, chunk) of every live chunk, read segment by segment in blocks (never the whole KB at once)."""
        for segment in self._set.segments:
            mine = segment.ids.dead_in(self._set.dead)
            for batch_start in range(0, segment.rows, _SCAN_BLOCK):
                rows = np.arange(batch_start, min(batch_start + _SCAN_BLOCK, segment.rows), dtype=np.int64)
                gids = segment.ids.to_global(rows)
                keep = ~is_dead(gids, mine)
                stored = segment.store.rows(rows[keep].tolist())
                self.rows_read += len(stored)
                for gid, row in zip(gids[keep].tolist(), rows[keep].tolist(), strict=True):
                    yield gid, stored_chunk(stored[row])

    def keys(self) -> KeysView[int]:
        return KeysView(self)

    def items(self) -> ItemsView[int, Chunk]:
        return _Items(self)

    def values(self) -> ValuesView[Chunk]:
        return _Values(self)


class DenseView:
    """`kb.dense`: cosine search over every segment's faiss index, and the stored vectors by id."""

    def __init__(self, owner: SegmentOwner, dimensions: int) -> None:
        self._owner, self.dimensions = owner, dimensions

    def __len__(self) -> int:
        return len(self._owner.segment_set)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids) of shape (n_queries, min(k, live chunks)); ids of -1 mark empty slots."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dimensions)
        segment_set = self._owner.segment_set
        k = min(k, len(segment_set))
        n = len(queries)
        if k <= 0:
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        parts = [s.search(queries, k, segment_set.dead) for s in segment_set.segments]
        scores = np.concatenate([p[0] for p in parts], axis=1)
        ids = np.concatenate([p[1] for p in parts], axis=1)
        scores = np.where(ids >= 0, scores, -np.inf)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top_scores, top_ids = np.take_along_axis(scores, order, 1), np.take_along_axis(ids, order, 1)
        return np.where(top_ids >= 0, top_scores, 0).astype(np.float32), top_ids

    def vectors(self, ids: Iterable[int]) -> np.ndarray:
        """The stored vectors of these ids (what ingest encoded), shape (len(ids), dimensions)."""
        wanted = as_ids(list(ids))
        out = np.zeros((len(wanted), self.dimensions), dtype=np.float32)
        seen = np.zeros(len(wanted), dtype=bool)
        for segment, where, rows in self._owner.segment_set.locate(wanted):
            order = np.argsort(rows)  # memory-mapped reads in file order
            out[where[order]] = segment.vectors[rows[order]]
            seen[where] = True
        if not seen.all():
            raise KeyError(f"no stored vector for chunk ids {wanted[~seen][:10].tolist()}")
        return out


class BM25View:
    """`kb.bm25`: BM25 over every segment's keyword index (keyword_index.search_segments), tombstones dropped."""

    def __init__(self, owner: SegmentOwner) -> None:
        self._owner = owner

    def __len__(self) -> int:
        return len(self._owner.segment_set)

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids) of shape (n_queries, min(k, live chunks)); ids of -1 mark empty slots."""
        segment_set = self._owner.segment_set
        k = min(k, len(segment_set))
        if k <= 0:
            return np.zeros((len(queries), 0), dtype=np.float32), np.zeros((len(queries), 0), dtype=np.int64)
        parts = [(s.bm25, s.bm25_offset) for s in segment_set.segments]
        return search_segments(parts, queries, k, segment_set.dead if len(segment_set.dead) else None)


class SentenceView:
    """`kb.sentences`: the sentence vectors and spans ingest stored, per chunk, from the chunk's segment."""

    def __init__(self, owner: SegmentOwner) -> None:
        self._owner = owner

    def _find(self, cid: int) -> tuple[Segment, int] | None:
        """The live chunk's segment and row; None for an unknown or deleted id."""
        segment_set = self._owner.segment_set
        if is_dead(as_ids([cid]), segment_set.dead)[0]:
            return None
        for segment, _, rows in segment_set.locate(as_ids([cid])):
            return segment, int(rows[0])
        return None

    def of_chunk(self, cid: int) -> np.ndarray | None:
        """The chunk's sentence vectors (float32), in split order; None when none are stored."""
        found = self._find(cid)
        index = found[0].sentences if found else None
        return index.of_chunk(found[1]) if index is not None and found else None

    def sentences_of(self, cid: int, text: str) -> list[str] | None:
        """The chunk's sentences cut from its stored spans; None when none are stored."""
        found = self._find(cid)
        index = found[0].sentences if found else None
        return index.sentences_of(found[1], text) if index is not None and found else None

    def chunk_ids(self) -> np.ndarray:
        """The live chunk ids that have stored sentences."""
        segment_set = self._owner.segment_set
        parts = [s.ids.to_global(s.sentences.rows[:, 0]) for s in segment_set.segments if s.sentences is not None]
        ids = np.concatenate(parts) if parts else EMPTY_IDS
        live: np.ndarray = ids[~is_dead(ids, segment_set.dead)]
        return live
