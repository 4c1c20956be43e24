"""Bytes a 5-document delete writes on a real KB with atomic questions (KILT HotpotQA mini corpus, the real embedder,
the spaCy extractor). Writes benchmarks/results/atomic_delete.json.

    .venv/bin/python benchmarks/atomic_delete.py --base 300 --delete 5

The atomic questions are written here from templates over each chunk's sentences (`agent.atomize_questions` per
chunk, embedded by the real embedder), not by the LLM: the bytes of the component are its vectors and question
text, and `kgsolver atomize` on 300 documents would take hours of the shared CPU. Before this change a delete wrote
the whole component again without the deleted chunks' questions: that figure is the saved size of exactly that
index, beside what the delete does write now (a tombstone, the graph delta, manifest and lease).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from kgsolver.connectors.embedders import load_embedder
from kgsolver.connectors.text import split_sentences
from kgsolver.evals.datasets import datasets_dir, read_jsonl
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb import ATOMIC_COMPONENT, write_lock
from kgsolver.pipeline.kb.admin import delete_documents
from kgsolver.pipeline.kb.atomic_index import AtomicIndex, stored_atomic
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

CORPUS = Path("kilt/hotpotqa-dev-kilt.mini.corpus.jsonl")  # under the shared datasets folder
OUT = Path(__file__).parent / "results" / "atomic_delete.json"


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_ino, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def _written(before: dict, after: dict) -> int:
    """Bytes of the files a commit created (a new inode: written, not carried over)."""
    return sum(size for p, (ino, size) in after.items() if before.get(p, (None,))[0] != ino)


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _add_questions(root: Path, config: KGSolverConfig, embedder, per_chunk: int) -> int:
    """Commit an atomic-question index of `per_chunk` templated questions per chunk, as `kgsolver atomize` does."""
    with write_lock(root), KnowledgeBase.open(root, config) as kb:
        cids, questions = [], []
        for cid, chunk in kb.chunks.items():
            sentences = (split_sentences(chunk.text) or [chunk.text])[:per_chunk]
            for i in range(per_chunk):
                words = sentences[i % len(sentences)].split()[:10]
                cids.append(cid)
                questions.append(f"What does {chunk.title} say about {' '.join(words).rstrip('.')}?")
        index = AtomicIndex(cids, questions, embedder.encode(questions))
        kb.stage_component(ATOMIC_COMPONENT, index.save)
        kb.commit()
    return len(questions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=int, default=300, help="documents of the knowledge base")
    parser.add_argument("--delete", type=int, default=5, help="documents deleted")
    args = parser.parse_args()
    config = KGSolverConfig()
    config.kb.auto_compact = False  # the delete's own commit, not a compaction the policy might add
    embedder = load_embedder(config.embedder.model_path, device=config.embedder.device)
    docs = list(read_jsonl(datasets_dir() / CORPUS))[: args.base]
    with tempfile.TemporaryDirectory() as tmp:
        corpus, root = Path(tmp) / "base.jsonl", Path(tmp) / "kb"
        corpus.write_text("".join(json.dumps(d) + "\n" for d in docs))
        ingest(corpus, root, config, embedder=embedder, show_progress=False)
        questions = _add_questions(root, config, embedder, config.agent.atomize_questions)
        with KnowledgeBase.open(root) as kb:
            kb_bytes, atomic_bytes = _tree_bytes(root), _tree_bytes(kb.component_path(ATOMIC_COMPONENT))
            gone = [d["id"] for d in docs[: args.delete]]
            removed = set(kb.chunk_ids_of(set(gone)).tolist())
            index = stored_atomic(kb)
            keep = ~np.isin(index.cids, list(removed))
            # what the delete wrote before: the component again, without the removed chunks' questions
            whole = Path(tmp) / "whole-atomic"
            index.restricted(keep).save(whole)
            rewritten = _tree_bytes(whole)
        before = _files(root)
        started = time.perf_counter()
        report = delete_documents(root, gone, config)
        seconds = time.perf_counter() - started
        written = _written(before, _files(root))
    result = {"command": " ".join(["benchmarks/atomic_delete.py", *sys.argv[1:]]), "cpus": os.cpu_count(),
              "corpus": CORPUS.name, "documents": args.base, "kb_bytes": kb_bytes, "atomic_questions": questions,
              "atomic_component_bytes": atomic_bytes, "deleted_documents": args.delete,
              "chunks_removed": report.chunks_removed, "questions_removed": report.atomic_questions_removed,
              "delete_seconds": round(seconds, 2), "bytes_written": written,
              "bytes_written_rewriting_atomic": written + rewritten}
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
