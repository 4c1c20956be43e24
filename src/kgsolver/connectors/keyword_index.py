"""BM25 keyword index on bm25s: one index per segment, searched together with the statistics of all segments.

A segment's bm25s matrix has its own IDF and average length baked into every stored score, so segments cannot be
merged by score. Each segment therefore also keeps its raw statistics (`TermStats`: term frequencies by term, token
count per row), and `search_segments` computes document frequency, document count and average length over the live
documents of all segments at query time: the same scores as one index over their union.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import bm25s
import numpy as np
import scipy.sparse as sp

# bm25s sets its logger to DEBUG when imported, so "Building index from IDs" reached every console; its level goes
# back to the application's (NOTSET: the root logger decides).
logging.getLogger("bm25s").setLevel(logging.NOTSET)

try:
    import Stemmer

    _STEMMER = Stemmer.Stemmer("english")
except ImportError:  # bm25s works without stemming, only less well
    _STEMMER = None

# bm25s' defaults (Lucene variant), named so that bm25s and search_segments score with the same parameters.
_K1, _B = 1.5, 0.75
# Term statistics beside bm25s' files; a folder without them was saved before issue 17 (format 1).
_STATS_FILES = ("tf_indptr.npy", "tf_rows.npy", "tf_counts.npy", "doc_len.npy")


def _tokenize(texts: list[str]) -> bm25s.tokenization.Tokenized:
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, show_progress=False)


def _query_terms(queries: list[str]) -> list[list[str]]:
    """The query's terms as bm25s matches them (same stopwords and stemmer as the index), repeats kept: bm25s counts
    a repeated query term once per occurrence."""
    terms: list[list[str]] = bm25s.tokenize(queries, stopwords="en", stemmer=_STEMMER, return_ids=False,
                                            show_progress=False)  # bm25s is untyped; return_ids=False gives strings
    return terms


@dataclass
class TermStats:
    """Raw BM25 statistics of one segment, by term column: the postings of term column t are positions
    indptr[t]:indptr[t+1] of `rows` (the row holding it) and `counts` (its frequency in that row)."""

    vocab: dict[str, int]
    indptr: np.ndarray  # int64, one more than the columns
    rows: np.ndarray  # int32
    counts: np.ndarray  # float32
    doc_len: np.ndarray  # float32 tokens per row (after stopwords, as bm25s counts them)
    total_len: float = field(init=False)

    def __post_init__(self) -> None:
        self.total_len = float(self.doc_len.sum(dtype=np.float64))

    @classmethod
    def from_tokens(cls, tokens: bm25s.tokenization.Tokenized) -> TermStats:
        lengths = np.fromiter(map(len, tokens.ids), dtype=np.int64, count=len(tokens.ids))
        cols = np.fromiter(chain.from_iterable(tokens.ids), dtype=np.int64, count=int(lengths.sum()))
        rows = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        shape = (len(lengths), len(tokens.vocab))
        matrix = sp.csc_matrix((np.ones(len(cols), dtype=np.float32), (rows, cols)), shape=shape)
        matrix.sum_duplicates()  # one posting per (row, term), its count the term frequency
        return cls(dict(tokens.vocab), matrix.indptr.astype(np.int64), matrix.indices.astype(np.int32),
                   matrix.data.astype(np.float32), lengths.astype(np.float32))

    def save(self, folder: Path) -> None:
        for name, array in zip(_STATS_FILES, (self.indptr, self.rows, self.counts, self.doc_len), strict=True):
            np.save(folder / name, array)

    @classmethod
    def load(cls, folder: Path, vocab: dict[str, int]) -> TermStats | None:
        if not all((folder / name).exists() for name in _STATS_FILES):
            return None
        # memory-mapped: opening a segment reads only what a query touches
        arrays = [np.asarray(np.load(folder / name, mmap_mode="r")) for name in _STATS_FILES]
        return cls(vocab, *arrays)


class BM25Index:
    def __init__(self, retriever: bm25s.BM25 | None, ids: np.ndarray, stats: TermStats | None = None,
                 folder: Path | None = None):
        self._retriever = retriever
        self.ids = ids  # row position -> chunk id
        self.stats = stats  # None only for a non-empty folder saved before issue 17
        self.folder = folder
        self._order: np.ndarray | None = None  # row order by id, when ids are not ascending
        self._sorted: np.ndarray | None = None

    @property
    def retriever(self) -> bm25s.BM25 | None:
        """bm25s' index, read from the folder on first use: `search_segments` needs only the term statistics, so a
        knowledge base searched by segments never holds bm25s' score matrices in memory."""
        if self._retriever is None and self.folder is not None and len(self.ids):
            self._retriever = bm25s.BM25.load(str(self.folder))
        return self._retriever

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def build(cls, ids: np.ndarray, texts: list[str]) -> BM25Index:
        if not texts:
            return cls(None, np.zeros(0, dtype=np.int64), _empty_stats())
        tokens = _tokenize(texts)
        stats = TermStats.from_tokens(tokens)  # before index(): bm25s adds "" to the vocabulary it is given
        retriever = bm25s.BM25(k1=_K1, b=_B)
        retriever.index(tokens, show_progress=False)
        return cls(retriever, np.asarray(ids, dtype=np.int64), stats)

    def search(self, queries: list[str], k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk ids); a query with no known term returns fewer hits (ids of -1, scores 0)."""
        n = len(queries)
        k = min(k, len(self))
        if k == 0 or self.retriever is None:
            return np.zeros((n, 0), dtype=np.float32), np.zeros((n, 0), dtype=np.int64)
        # n_threads=0: in this thread; n_threads=1 started a thread pool per call (2.5x the p50 of a short query)
        rows, scores = self.retriever.retrieve(_tokenize(queries), k=k, show_progress=False, n_threads=0)
        ids = np.where(scores > 0, self.ids[rows], -1)
        return scores.astype(np.float32), ids.astype(np.int64)

    def rows_of(self, local_ids: np.ndarray) -> np.ndarray:
        """Rows holding the given stored ids (sorted ascending); ids absent from this index are skipped."""
        if not len(self.ids) or not len(local_ids):
            return np.zeros(0, dtype=np.int64)
        if self._sorted is None:  # ids are ascending as the KB writes them; a sort order only for other indexes
            ascending = bool(np.all(self.ids[1:] >= self.ids[:-1]))
            self._order = None if ascending else np.argsort(self.ids, kind="stable")
            self._sorted = self.ids if ascending else self.ids[self._order]
        ordered = self._sorted
        wanted = local_ids[np.searchsorted(local_ids, ordered[0]):np.searchsorted(local_ids, ordered[-1], "right")]
        pos = np.searchsorted(ordered, wanted)
        pos = pos[ordered[pos] == wanted]
        return np.asarray(pos if self._order is None else self._order[pos], dtype=np.int64)

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "chunk_ids.npy", self.ids)
        if self.retriever is not None:
            self.retriever.save(str(folder))
        if self.stats is not None:
            self.stats.save(folder)

    @classmethod
    def load(cls, folder: Path) -> BM25Index:
        """Loads a saved index; one saved before issue 17 still searches alone, and `search_segments` names it."""
        ids = np.load(folder / "chunk_ids.npy")
        if not len(ids):
            return cls(None, ids, _empty_stats(), folder)
        vocab = json.loads((folder / "vocab.index.json").read_text(encoding="utf-8"))  # bm25s' term -> column
        return cls(None, ids, TermStats.load(folder, vocab), folder)


def _empty_stats() -> TermStats:
    return TermStats({}, np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32),
                     np.zeros(0, dtype=np.float32))


@dataclass
class _Segment:
    """A part as one search sees it: deleted rows as a mask (None where none), live document count and tokens."""

    index: BM25Index
    offset: int
    stats: TermStats
    dead: np.ndarray | None
    n_live: int
    len_live: float


@dataclass
class _Postings:
    """One segment's live postings of a batch's query terms."""

    term: np.ndarray  # position of the term in the batch's term list
    gid: np.ndarray  # global id of the posting's document: offset + stored id
    tf: np.ndarray
    dl: np.ndarray


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Positions start..start+length of every range, concatenated: one vectorised gather instead of a loop."""
    return np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(int(lengths.sum()), dtype=np.int64)


def _stats_of(index: BM25Index) -> TermStats:
    if index.stats is None:
        raise ValueError(f"BM25 segment {index.folder or '(in memory)'} has no term statistics "
                         f"({', '.join(_STATS_FILES)}): it was saved before issue 17 (knowledge base format 1); "
                         "rebuild it with BM25Index.build(ids, texts).save(folder)")
    return index.stats


def _segment(index: BM25Index, offset: int, deleted: np.ndarray) -> _Segment:
    stats = _stats_of(index)
    rows = index.rows_of(deleted - offset) if len(deleted) else np.zeros(0, dtype=np.int64)
    if not len(rows):
        return _Segment(index, offset, stats, None, len(index), stats.total_len)
    dead = np.zeros(len(index), dtype=bool)
    dead[rows] = True
    rows = np.flatnonzero(dead)  # each deleted row once, even if listed twice
    return _Segment(index, offset, stats, dead, len(index) - len(rows),
                    stats.total_len - float(stats.doc_len[rows].sum(dtype=np.float64)))


def _segment_postings(seg: _Segment, terms: dict[str, int]) -> _Postings:
    stats = seg.stats
    vocab, n_cols = stats.vocab, len(stats.indptr) - 1
    term_pos, cols = [], []
    for t, pos in terms.items():
        found = vocab.get(t, n_cols)
        if found < n_cols:  # bm25s' vocabulary also holds "", which has no column here
            term_pos.append(pos)
            cols.append(found)
    col = np.array(cols, dtype=np.int64)
    starts = stats.indptr[col]
    lengths = stats.indptr[col + 1] - starts
    at = _ranges(starts, lengths)  # all postings of these columns
    rows = stats.rows[at]
    term = np.repeat(np.array(term_pos, dtype=np.int64), lengths)
    if seg.dead is not None:
        live = ~seg.dead[rows]
        rows, term, at = rows[live], term[live], at[live]
    return _Postings(term, seg.offset + seg.index.ids[rows], stats.counts[at], stats.doc_len[rows])


def _top_k(scores: np.ndarray, gids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k best by score, ties by global id (ascending), so that results do not depend on segment order."""
    if len(scores) > k:
        keep = scores >= np.partition(scores, len(scores) - k)[len(scores) - k]
        scores, gids = scores[keep], gids[keep]
    order = np.lexsort((gids, -scores))[:k]
    return scores[order], gids[order]


def _query_pairs(query_terms: list[list[str]]) -> tuple[dict[str, int], np.ndarray, np.ndarray, np.ndarray]:
    """The batch's terms (term -> position), and its (term, query, count) pairs sorted by term: pairs of term t are
    pair_start[t]:pair_start[t+1] of (pair_query, pair_count). A repeated query term counts once per occurrence,
    as in bm25s."""
    terms: dict[str, int] = {}
    pairs = Counter((terms.setdefault(t, len(terms)), q) for q, query in enumerate(query_terms) for t in query)
    ordered = sorted(pairs.items())
    pair_term = np.array([t for (t, _), _ in ordered], dtype=np.int64)
    pair_query = np.array([q for (_, q), _ in ordered], dtype=np.int64)
    pair_count = np.array([c for _, c in ordered], dtype=np.float64)
    return terms, np.searchsorted(pair_term, np.arange(len(terms) + 1)), pair_query, pair_count


def _sum_by_document(query: np.ndarray, key: np.ndarray, weight: np.ndarray, n_queries: int,
                     span: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sums of `weight` per (query, key), as (query, key, sum) sorted by query then key. A dense count where the
    entries are many for the (queries x keys) space (long queries: one pass, no sort), else a sort of the entries;
    the dense array is at most 8 times the entries, so its memory stays bounded by the work already done."""
    cell = query * span + key
    if n_queries * span <= 8 * len(cell):
        sums = np.bincount(cell, weights=weight, minlength=n_queries * span)
        cells = np.flatnonzero(sums)  # BM25 weights are > 0: a cell is nonzero exactly where a posting fell
        return cells // span, cells % span, sums[cells]
    cells, inverse = np.unique(cell, return_inverse=True)
    return cells // span, cells % span, np.bincount(inverse.ravel(), weights=weight)


def _search_batch(segments: list[_Segment], query_terms: list[list[str]], out_scores: np.ndarray,
                  out_ids: np.ndarray) -> None:
    """Scores one batch of queries over all segments into out_scores/out_ids (views of the caller's arrays)."""
    terms, pair_start, pair_query, pair_count = _query_pairs(query_terms)
    segs = [_segment_postings(seg, terms) for seg in segments]
    n_docs = sum(seg.n_live for seg in segments)
    term, gid, tf, dl = (np.concatenate([getattr(s, f) for s in segs] + [np.zeros(0, dtype=np.int64)])
                         for f in ("term", "gid", "tf", "dl"))
    if n_docs == 0 or not len(term):
        return
    # the statistics of one index over the live documents of every segment
    avgdl = sum(seg.len_live for seg in segments) / n_docs
    df = np.bincount(term, minlength=len(terms))
    idf = np.log1p((n_docs - df + 0.5) / (df + 0.5)).astype(np.float32)
    # float32 as bm25s stores its scores: half the memory traffic of float64, the same rounding as the baseline
    norm = np.float32(_K1 * (1 - _B)) + np.float32(_K1 * _B / avgdl) * dl
    weight = idf[term] * tf / (tf + norm)
    if len(pair_query) == len(terms):  # each term in one query (always so for one query): no expansion
        query, weight = pair_query[term], weight * pair_count[term]
    else:  # each posting once per query holding its term
        n_pairs = np.diff(pair_start)[term]
        posting = np.repeat(np.arange(len(term), dtype=np.int64), n_pairs)
        pair = _ranges(pair_start[term], n_pairs)
        query, gid, weight = pair_query[pair], gid[posting], weight[posting] * pair_count[pair]
    low = int(gid.min())  # global ids are the documents' keys: one sum per (query, global id)
    query, doc, scores = _sum_by_document(query, gid - low, weight, len(query_terms), int(gid.max()) - low + 1)
    bounds = np.searchsorted(query, np.arange(len(query_terms) + 1))
    k = out_scores.shape[1]
    for q in range(len(query_terms)):
        span = slice(bounds[q], bounds[q + 1])
        best, ids = _top_k(scores[span], doc[span] + low, k)
        out_scores[q, :len(best)], out_ids[q, :len(ids)] = best, ids


def _checked_deleted(deleted: np.ndarray | None) -> np.ndarray:
    dead = np.asarray(deleted if deleted is not None else [], dtype=np.int64)
    if dead.ndim != 1 or np.any(dead[1:] < dead[:-1]):
        raise ValueError(f"deleted must be a 1-D array of global ids sorted ascending (got shape {dead.shape})")
    return dead


def _batches(query_terms: list[list[str]], batch_terms: int) -> list[tuple[int, int]]:
    """Consecutive (start, end) runs of queries holding at most `batch_terms` query terms (at least one query)."""
    out, start = [], 0
    while start < len(query_terms):
        end, total = start + 1, len(query_terms[start])
        while end < len(query_terms) and total + len(query_terms[end]) <= batch_terms:
            total += len(query_terms[end])
            end += 1
        out.append((start, end))
        start = end
    return out


def search_segments(parts: Sequence[tuple[BM25Index, int]], queries: list[str], k: int,
                    deleted: np.ndarray | None = None, batch_terms: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """BM25 over several segments: each part is (index, offset), a hit's global id is offset + its id in the index;
    ids in `deleted` (sorted global ids) are dropped. Returns (scores, ids) of shape (len(queries), k), ids -1 where
    empty. Scores are those of one index over the live documents of all segments: document frequency, document count
    and average length are summed over the segments at query time, deleted documents left out of all three.

    Queries are scored together up to `batch_terms` query terms: short queries share the postings they gather, while
    a batch of long ones only multiplies the (query, posting) pairs and their memory (docs/RESULTS.md, issue 17)."""
    n = len(queries)
    out_scores = np.zeros((n, max(k, 0)), dtype=np.float32)
    out_ids = np.full((n, max(k, 0)), -1, dtype=np.int64)
    dead = _checked_deleted(deleted)
    if k <= 0 or n == 0:
        return out_scores, out_ids
    segments = [_segment(index, offset, dead) for index, offset in parts]
    query_terms = _query_terms(list(queries))
    for start, end in _batches(query_terms, batch_terms):
        _search_batch(segments, query_terms[start:end], out_scores[start:end], out_ids[start:end])
    return out_scores, out_ids
