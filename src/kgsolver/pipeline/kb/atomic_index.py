"""The atomic-question index (PIKE-RAG): the questions each chunk answers, embedded, each pointing back to its chunk.

Stored as a knowledge-base component (a folder: `questions.jsonl` + `vectors.npy`), so it is committed atomically with
the manifest; searching returns the best-matching question per chunk.

Rows are keyed by global chunk id, like the segments' vectors: a delete or a replacement tombstones chunks and writes
nothing here. `read_atomic` leaves out the questions of chunks that are no longer live (tombstoned, or dropped by a
compaction), and a compaction of every segment writes the component again without them (`fold_atomic`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from kgsolver.pipeline.kb import ATOMIC_COMPONENT

if TYPE_CHECKING:
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase


@dataclass
class AtomicHit:
    cid: int
    question: str
    score: float


class AtomicIndex:
    def __init__(self, cids: list[int], questions: list[str], vectors: np.ndarray,
                 hashes: dict[int, str] | None = None):
        self.cids = np.asarray(cids, dtype=np.int64)
        self.questions = list(questions)
        array = np.ascontiguousarray(vectors, dtype=np.float32)
        # A matrix keeps its width: reshape(0, -1) cannot infer one, and an index of no questions (a checkpoint
        # before any chunk was atomized) is (0, dims).
        self.vectors = array.reshape(len(questions), array.shape[1] if array.ndim == 2 else -1)
        self.hashes = dict(hashes or {})  # chunk id -> text hash the questions were written for

    def __len__(self) -> int:
        return len(self.questions)

    def restricted(self, keep: np.ndarray) -> AtomicIndex:
        """The rows where the boolean mask `keep` is set (this index itself when it keeps every row)."""
        if bool(np.all(keep)):
            return self
        kept = set(self.cids[keep].tolist())
        questions = [q for q, k in zip(self.questions, keep.tolist(), strict=True) if k]
        return AtomicIndex(self.cids[keep].tolist(), questions,
                           self.vectors[keep], {cid: sha for cid, sha in self.hashes.items() if cid in kept})

    def vector_map(self) -> dict[tuple[int, str], np.ndarray]:
        return {(int(c), q): v for c, q, v in zip(self.cids, self.questions, self.vectors, strict=True)}

    def search(self, query_vector: np.ndarray, k: int) -> list[AtomicHit]:
        """Top k chunks by their best-matching atomic question."""
        if not len(self):
            return []
        scores = self.vectors @ np.asarray(query_vector, dtype=np.float32)
        best: dict[int, AtomicHit] = {}
        for i in np.argsort(-scores):
            cid = int(self.cids[i])
            if cid not in best:
                best[cid] = AtomicHit(cid, self.questions[i], float(scores[i]))
                if len(best) == k:
                    break
        return list(best.values())

    def save(self, path: Path) -> None:
        path.mkdir(parents=True, exist_ok=True)
        with (path / "questions.jsonl").open("w", encoding="utf-8") as handle:
            for cid, question in zip(self.cids.tolist(), self.questions, strict=True):
                handle.write(json.dumps({"cid": cid, "q": question}, ensure_ascii=False) + "\n")
        np.save(path / "vectors.npy", self.vectors)
        (path / "hashes.json").write_text(json.dumps({str(k): v for k, v in self.hashes.items()}), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> AtomicIndex:
        lines = (path / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line]
        hashes = {int(k): v for k, v in json.loads((path / "hashes.json").read_text(encoding="utf-8")).items()}
        # memory-mapped: a delete only counts rows, and a search reads the vectors once per knowledge-base generation
        vectors = np.load(path / "vectors.npy", mmap_mode="r")
        return cls([r["cid"] for r in rows], [r["q"] for r in rows], vectors, hashes)


def stored_atomic(kb: KnowledgeBase) -> AtomicIndex | None:
    """The component as stored: questions of chunks deleted since the last compaction included."""
    path = kb.component_path(ATOMIC_COMPONENT)
    return AtomicIndex.load(path) if path is not None else None


def read_atomic(kb: KnowledgeBase) -> AtomicIndex | None:
    """The knowledge base's atomic questions of its live chunks (None when it was never atomized)."""
    index = stored_atomic(kb)
    return index.restricted(kb.segment_set.live(index.cids)) if index is not None else None


def fold_atomic(kb: KnowledgeBase) -> bool:
    """Stage the component without the questions of chunks no longer live (compaction folds what deletes left);
    True when something was staged."""
    index = stored_atomic(kb)
    if index is None:
        return False
    live = index.restricted(kb.segment_set.live(index.cids))
    if live is index:
        return False
    kb.stage_component(ATOMIC_COMPONENT, live.save)
    return True
