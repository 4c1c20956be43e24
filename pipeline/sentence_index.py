"""Sentence vectors of every chunk, computed once at ingest, so that the query path scores sentences without encoding.

The consistency and brevity filters compare sentences by embedding, each sentence with its passage title in front
("Marie Curie: She was born in Warsaw."). Encoding the retrieved passages' sentences at every question was most of a
question's non-LLM time (issue 15). The knowledge base keeps them as a component: `vectors.npy` (float16, rows in
the order `split_sentences` yields each chunk's sentences) and `rows.npy` (chunk id, first row, sentence count),
memory-mapped at open, so opening costs no time and no memory that grows with the corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from kgsolver.connectors.embedders import Embedder
from kgsolver.pipeline.chunking import Chunk
from kgsolver.connectors.text import split_sentences

SENTENCE_COMPONENT = "sentences"
# Bumped when split_sentences or the titled form changes: a store of another version is ignored, never misread.
SENTENCE_FORMAT = 2


def titled_sentence(title: str, sentence: str) -> str:
    """The text a sentence is embedded as: the title keeps its subject ("She was born ..." names nobody)."""
    return f"{title}: {sentence}" if title else sentence


def chunk_sentences(chunk: Chunk) -> list[str]:
    return split_sentences(chunk.text)


class SentenceIndex:
    def __init__(self, rows: np.ndarray, vectors: np.ndarray):
        self.rows = rows  # (n_chunks, 3) int64: chunk id, first row, count; sorted by chunk id
        self.vectors = vectors  # (n_sentences, dims) float16

    @classmethod
    def empty(cls, dimensions: int) -> "SentenceIndex":
        return cls(np.zeros((0, 3), dtype=np.int64), np.zeros((0, dimensions), dtype=np.float16))

    @classmethod
    def load(cls, path: Path) -> "SentenceIndex | None":
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
        if meta.get("format") != SENTENCE_FORMAT:
            return None
        return cls(np.load(path / "rows.npy"), np.load(path / "vectors.npy", mmap_mode="r"))

    def of_chunk(self, cid: int) -> np.ndarray | None:
        """The chunk's sentence vectors (float32), in split order; None when the chunk has none stored."""
        at = int(np.searchsorted(self.rows[:, 0], cid))
        if at >= len(self.rows) or self.rows[at, 0] != cid:
            return None
        _, first, count = self.rows[at]
        return np.asarray(self.vectors[first : first + count], dtype=np.float32)

    def updated(self, keep: set[int], new_chunks: dict[int, Chunk], embedder: Embedder) -> "SentenceIndex":
        """A new index: the stored sentences of the chunks in `keep`, plus those of `new_chunks`, encoded now."""
        parts, rows, at = [], [], 0
        for cid, first, count in self.rows.tolist():
            if cid in keep:
                parts.append(np.asarray(self.vectors[first : first + count]))
                rows.append((cid, at, count))
                at += count
        texts, counts = [], []
        for cid, chunk in sorted(new_chunks.items()):
            sentences = chunk_sentences(chunk)
            texts += [titled_sentence(chunk.title, s) for s in sentences]
            counts.append((cid, len(sentences)))
        fresh = embedder.encode(texts).astype(np.float16) if texts else np.zeros((0, self.vectors.shape[1]), np.float16)
        parts.append(fresh)
        for cid, count in counts:
            rows.append((cid, at, count))
            at += count
        order = sorted(range(len(rows)), key=lambda i: rows[i][0])
        table = np.array([rows[i] for i in order], dtype=np.int64).reshape(-1, 3)
        return SentenceIndex(table, np.concatenate(parts) if parts else fresh)

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        np.save(path / "rows.npy", self.rows)
        np.save(path / "vectors.npy", np.ascontiguousarray(self.vectors, dtype=np.float16))
        (path / "meta.json").write_text(json.dumps({"format": SENTENCE_FORMAT}), encoding="utf-8")
