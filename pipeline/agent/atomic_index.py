"""The atomic-question index (PIKE-RAG): the questions each chunk answers, embedded, each pointing back to its chunk.

Stored as a knowledge-base component (a folder: `questions.jsonl` + `vectors.npy`), so it is committed atomically with
the manifest; searching returns the best-matching question per chunk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ATOMIC_COMPONENT = "atomic"


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
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(questions), -1)
        self.hashes = dict(hashes or {})  # chunk id -> text hash the questions were written for

    def __len__(self) -> int:
        return len(self.questions)

    def vector_map(self) -> dict[tuple[int, str], np.ndarray]:
        return {(int(c), q): v for c, q, v in zip(self.cids, self.questions, self.vectors)}

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
            for cid, question in zip(self.cids.tolist(), self.questions):
                handle.write(json.dumps({"cid": cid, "q": question}, ensure_ascii=False) + "\n")
        np.save(path / "vectors.npy", self.vectors)
        (path / "hashes.json").write_text(json.dumps({str(k): v for k, v in self.hashes.items()}), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> "AtomicIndex":
        lines = (path / "questions.jsonl").read_text(encoding="utf-8").splitlines()
        rows = [json.loads(line) for line in lines if line]
        hashes = {int(k): v for k, v in json.loads((path / "hashes.json").read_text(encoding="utf-8")).items()}
        return cls([r["cid"] for r in rows], [r["q"] for r in rows], np.load(path / "vectors.npy"), hashes)
