"""Sentence vectors of every chunk, computed once at ingest, so that the query path scores sentences without encoding.

The consistency and brevity filters compare sentences by embedding, each sentence with its passage title in front
("Marie Curie: She was born in Warsaw."). Encoding the retrieved passages' sentences at every question was most of a
question's non-LLM time (issue 15). Each knowledge-base segment keeps its own, keyed by row in the segment (so an
ingest writes only its new chunks' sentences; pipeline/kb/segment.py): `vectors.npy` (float16, rows in
the order `split_sentences` yields each chunk's sentences), `spans.npy` (each sentence's start and end in the chunk's
white-space-folded text) and `rows.npy` (chunk id, first row, sentence count), memory-mapped at open, so opening costs
no time and no memory that grows with the corpus. The spans let the query path cut a stored chunk into its sentences
without running the splitter (spaCy's import alone is over a second of a cold question).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.embedders import Embedder, PoolingEmbedder, embed_pooled_with_progress, embed_with_progress
from kgsolver.connectors.text import split_sentences

SENTENCE_COMPONENT = "sentences"
# Bumped when split_sentences or the titled form changes: a store of another version is ignored, never misread.
SENTENCE_FORMAT = 3
# How the vectors were made, recorded in meta.json ("vectors"; an index without the key is ENCODED): each titled
# sentence encoded alone, or its tokens' states mean-pooled from the one pass over its chunk (issue 35).
ENCODED, POOLED = "encoded", "pooled"
SENTENCE_VECTORS = (ENCODED, POOLED)
# A chunk's sentences as split at ingest: the sentences, their spans in the folded text, and their pooled vectors
# (NaN rows: to be encoded alone).
Split = tuple[list[str], list[tuple[int, int]], np.ndarray]


def recorded_method(embedder_record: dict[str, Any]) -> str:
    """How a knowledge base's sentence vectors are made, as its manifest's embedder record says: ingest keeps that
    way, so every sentence of a knowledge base compares alike. A knowledge base made before the record is ENCODED."""
    return str(embedder_record.get("sentence_vectors", ENCODED))


def titled_sentence(title: str, sentence: str) -> str:
    """The text a sentence is embedded as: the title keeps its subject ("She was born ..." names nobody)."""
    return f"{title}: {sentence}" if title else sentence


def folded(text: str) -> str:
    """The text the splitter sees and the spans index: white space folded to single spaces."""
    return " ".join(text.split())


def sentence_spans(text: str, sentences: list[str]) -> list[tuple[int, int]]:
    """Where each sentence lies in the folded text, found in order; the splitter yields stripped substrings."""
    spans, at, flat = [], 0, folded(text)
    for sentence in sentences:
        start = flat.find(sentence, at)
        if start < 0:  # the splitter altered a sentence: a span cannot reproduce it, so the chunk keeps no spans
            return []
        spans.append((start, start + len(sentence)))
        at = start + len(sentence)
    return spans


def _unfolded(text: str) -> list[int]:
    """For each character of `folded(text)`, its position in `text` (a folded space: the white space's last one)."""
    positions: list[int] = []
    for word in re.finditer(r"\S+", text):
        if positions:
            positions.append(word.start() - 1)
        positions.extend(range(word.start(), word.end()))
    return positions


def pooling_groups(chunk: Chunk, sentences: list[str], spans: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    """Each sentence's character spans in `chunk.indexed_text()` whose tokens its pooled vector averages: the title
    and the sentence, the words of its titled form. Empty (encoded alone) where a span cannot be placed."""
    if not spans:
        return [[] for _ in sentences]
    title = [(0, len(chunk.title))] if chunk.title else []
    offset = len(chunk.title) + 1 if chunk.title else 0  # indexed_text: "title\ntext"
    at = _unfolded(chunk.text)
    groups: list[list[tuple[int, int]]] = []
    for sentence, (start, end) in zip(sentences, spans, strict=True):
        first, last = at[start], at[end - 1] + 1
        placed = folded(chunk.text[first:last]) == sentence
        groups.append(title + [(offset + first, offset + last)] if placed else [])
    return groups


def embed_chunks(chunks: list[Chunk], embedder: Embedder, *, method: str,
                 show: bool = False) -> tuple[np.ndarray, SentenceIndex | None]:
    """The chunks' vectors and, for the POOLED method with an embedder that pools, their sentence index (keyed by
    position) from the same pass; else no index (the ingest's sentence step encodes the sentences alone)."""
    texts = [c.indexed_text() for c in chunks]
    if method != POOLED or not isinstance(embedder, PoolingEmbedder):
        return embed_with_progress(embedder, texts, show=show), None
    split = [(sentences, sentence_spans(c.text, sentences)) for c in chunks for sentences in [split_sentences(c.text)]]
    groups = [pooling_groups(c, sentences, spans) for c, (sentences, spans) in zip(chunks, split, strict=True)]
    vectors, pooled = embed_pooled_with_progress(embedder, texts, groups, show=show)
    made = {at: (sentences, spans, pooled[at]) for at, (sentences, spans) in enumerate(split)}
    index = SentenceIndex.empty(embedder.dimensions, POOLED).updated(set(), dict(enumerate(chunks)), embedder,
                                                                     show=show, split=made)
    return vectors, index


class SentenceIndex:
    def __init__(self, rows: np.ndarray, vectors: np.ndarray, spans: np.ndarray, method: str = ENCODED):
        self.rows = rows  # (n_chunks, 3) int64: chunk id, first row, count; sorted by chunk id
        self.vectors = vectors  # (n_sentences, dims) float16
        self.spans = spans  # (n_sentences, 2) int32: start, end in the folded chunk text; -1 where unknown
        self.method = method  # ENCODED or POOLED: how the vectors were made

    @classmethod
    def empty(cls, dimensions: int, method: str = ENCODED) -> SentenceIndex:
        return cls(np.zeros((0, 3), dtype=np.int64), np.zeros((0, dimensions), dtype=np.float16),
                   np.zeros((0, 2), dtype=np.int32), method)

    @classmethod
    def load(cls, path: Path) -> SentenceIndex | None:
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != SENTENCE_FORMAT:
            return None
        return cls(np.load(path / "rows.npy"), np.load(path / "vectors.npy", mmap_mode="r"),
                   np.load(path / "spans.npy", mmap_mode="r"), meta.get("vectors", ENCODED))

    def _rows_of(self, cid: int) -> slice | None:
        at = int(np.searchsorted(self.rows[:, 0], cid))
        if at >= len(self.rows) or self.rows[at, 0] != cid:
            return None
        _, first, count = self.rows[at]
        return slice(int(first), int(first + count))

    def of_chunk(self, cid: int) -> np.ndarray | None:
        """The chunk's sentence vectors (float32), in split order; None when the chunk has none stored."""
        rows = self._rows_of(cid)
        return None if rows is None else np.asarray(self.vectors[rows], dtype=np.float32)

    def sentences_of(self, cid: int, text: str) -> list[str] | None:
        """The chunk's sentences cut from its stored spans (the splitter's output, without running it); None when
        the chunk has no spans stored."""
        rows = self._rows_of(cid)
        if rows is None:
            return None
        spans = np.asarray(self.spans[rows])
        if (spans < 0).any():
            return None
        flat = folded(text)
        return [flat[start:end] for start, end in spans.tolist()]

    def updated(self, keep: set[int], new_chunks: dict[int, Chunk], embedder: Embedder, *, show: bool = False,
                split: Mapping[int, Split] | None = None) -> SentenceIndex:
        """A new index: the stored sentences of the chunks in `keep`, plus those of `new_chunks`: their vectors from
        `split` (by chunk key, pooled at the chunk pass) where it has them, else encoded now."""
        parts, span_parts, rows, at = [], [], [], 0
        for cid, first, count in self.rows.tolist():
            if cid in keep:
                parts.append(np.asarray(self.vectors[first : first + count]))
                span_parts.append(np.asarray(self.spans[first : first + count]))
                rows.append((cid, at, count))
                at += count
        fresh, counts, spans = self._fresh(new_chunks, embedder, show, split or {})
        parts.append(fresh)
        span_parts.append(np.array(spans, dtype=np.int32).reshape(-1, 2))
        for cid, count in counts:
            rows.append((cid, at, count))
            at += count
        order = sorted(range(len(rows)), key=lambda i: rows[i][0])
        table = np.array([rows[i] for i in order], dtype=np.int64).reshape(-1, 3)
        return SentenceIndex(table, np.concatenate(parts), np.concatenate(span_parts), self.method)

    def _fresh(self, chunks: dict[int, Chunk], embedder: Embedder, show: bool,
               split: Mapping[int, Split]) -> tuple[np.ndarray, list[tuple[int, int]], list[tuple[int, int]]]:
        """The new chunks' sentence vectors (float16, in key order), (key, count) per chunk and the spans: pooled
        rows taken from `split`, the rest encoded alone, titled."""
        texts, counts, spans, pooled = [], [], [], []
        for cid, chunk in sorted(chunks.items()):
            sentences, found, vectors = split.get(cid) or (split_sentences(chunk.text), None, None)
            found = sentence_spans(chunk.text, sentences) if found is None else found
            vectors = np.full((len(sentences), self.vectors.shape[1]), np.nan) if vectors is None else vectors
            texts += [titled_sentence(chunk.title, s) for s in sentences]
            pooled.append(np.asarray(vectors, dtype=np.float32).reshape(len(sentences), self.vectors.shape[1]))
            counts.append((cid, len(sentences)))
            spans += found or [(-1, -1)] * len(sentences)
        fresh = np.concatenate(pooled) if pooled else np.zeros((0, self.vectors.shape[1]), np.float32)
        missing = np.flatnonzero(np.isnan(fresh).any(axis=1))
        if len(missing):
            # each distinct titled sentence once: the chunks' overlaps repeat whole sentences (issue 35)
            unique = list(dict.fromkeys(texts[i] for i in missing))
            encoded = embed_with_progress(embedder, unique, show=show, desc="sentences", unit="sentence")
            row_of = {text: row for row, text in enumerate(unique)}
            fresh[missing] = encoded[[row_of[texts[i]] for i in missing]]
        return fresh.astype(np.float16), counts, spans

    @classmethod
    def encoded(cls, chunks: dict[int, Chunk], embedder: Embedder, *, show: bool = False) -> SentenceIndex:
        """A new index of these chunks' sentences, keyed as `chunks` is (`show`: a progress bar while encoding)."""
        return cls.empty(embedder.dimensions).updated(set(), chunks, embedder, show=show)

    @classmethod
    def concatenated(cls, parts: Sequence[tuple[SentenceIndex, np.ndarray, np.ndarray]],
                     dimensions: int) -> SentenceIndex:
        """One index from several, nothing re-encoded: each part is (index, old keys, new keys), and only the rows
        of `old keys` are kept, renamed to the matching `new keys` (compaction and the format upgrade use it)."""
        tables, vectors, spans, at = [], [], [], 0
        for index, old, new in parts:
            old, new = np.asarray(old, dtype=np.int64), np.asarray(new, dtype=np.int64)
            order = np.argsort(old)
            old, new = old[order], new[order]
            pos = np.minimum(np.searchsorted(old, index.rows[:, 0]), max(len(old) - 1, 0))
            keep = (old[pos] == index.rows[:, 0]) if len(old) else np.zeros(len(index.rows), dtype=bool)
            rows = index.rows[keep]
            counts = rows[:, 2]
            sentence_rows = np.repeat(rows[:, 1] - np.cumsum(counts) + counts, counts) + np.arange(counts.sum())
            tables.append(np.stack([new[pos[keep]], at + np.cumsum(counts) - counts, counts], axis=1))
            vectors.append(np.asarray(index.vectors[sentence_rows]))
            spans.append(np.asarray(index.spans[sentence_rows]))
            at += int(counts.sum())
        methods = {index.method for index, _, _ in parts}  # compaction may join segments made both ways
        method = methods.pop() if len(methods) == 1 else "mixed"
        if not tables:
            return cls.empty(dimensions, method)
        table = np.concatenate(tables).astype(np.int64).reshape(-1, 3)
        return cls(table[np.argsort(table[:, 0], kind="stable")],
                   np.concatenate(vectors).astype(np.float16).reshape(-1, dimensions),
                   np.concatenate(spans).astype(np.int32).reshape(-1, 2), method)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        np.save(path / "rows.npy", self.rows)
        np.save(path / "vectors.npy", np.ascontiguousarray(self.vectors, dtype=np.float16))
        np.save(path / "spans.npy", np.ascontiguousarray(self.spans, dtype=np.int32))
        meta = {"format": SENTENCE_FORMAT, "vectors": self.method}
        (path / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
