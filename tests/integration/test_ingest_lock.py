"""An ingest that changes nothing needs no write lock: with another process holding the lock (a second eval of the
same suite, a delete), an ingest of the unchanged corpus succeeds and writes nothing; one that changes a document
still fails with the lock's clear error and leaves the knowledge base as it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

DOCUMENTS = [
    {"id": "turing", "title": "Alan Turing", "text": "Alan Turing worked at Bletchley Park during the war."},
    {"id": "curie", "title": "Marie Curie", "text": "Marie Curie worked in Paris with Pierre Curie."},
]
HOLD = """
import sys, time
from pathlib import Path
from kgsolver.pipeline.kb import write_lock
with write_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(600)
"""


def _corpus(path: Path, documents: list[dict]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    return path


def _state(root: Path) -> tuple[bytes, list[tuple[str, int]]]:
    return (root / "manifest.json").read_bytes(), sorted((p.name, p.stat().st_ino) for p in root.iterdir())


def test_an_unchanged_ingest_runs_beside_a_writer_and_a_changing_one_is_refused(tmp_path, config, embedder):
    root = tmp_path / "kb"
    corpus = _corpus(tmp_path / "corpus.jsonl", DOCUMENTS)
    ingest(corpus, root, config, embedder=embedder, show_progress=False)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        before = _state(root)

        report = ingest(corpus, root, config, embedder=embedder, show_progress=False)

        assert (report.documents_read, report.documents_unchanged, report.documents_added) == (2, 2, 0)
        assert report.chunks_added == report.chunks_removed == 0 and _state(root) == before  # nothing written
        changed = _corpus(tmp_path / "changed.jsonl", [dict(DOCUMENTS[1], text="Marie Curie won two Nobel prizes.")])
        with pytest.raises(KnowledgeBaseError, match="another process is writing this knowledge base"):
            ingest(changed, root, config, embedder=embedder, show_progress=False)
        added = _corpus(tmp_path / "added.jsonl", DOCUMENTS + [{"id": "new", "title": "New", "text": "A new text."}])
        with pytest.raises(KnowledgeBaseError, match=str(root)):
            ingest(added, root, config, embedder=embedder, show_progress=False)
        assert _state(root) == before
    finally:
        holder.kill()
        holder.wait()
    report = ingest(_corpus(tmp_path / "changed.jsonl", [dict(DOCUMENTS[1], text="Marie Curie won two Nobel prizes.")]),
                    root, config, embedder=embedder, show_progress=False)
    assert report.documents_replaced == 1 and KnowledgeBase.open(root).document_ids == {"turing", "curie"}


def test_an_unchanged_ingest_still_checks_the_embedder(tmp_path, config, embedder):
    """The lock-free path opens the knowledge base as a reader, with the same compatibility checks."""
    root = tmp_path / "kb"
    corpus = _corpus(tmp_path / "corpus.jsonl", DOCUMENTS)
    ingest(corpus, root, config, embedder=embedder, show_progress=False)
    other = config.model_copy(deep=True)
    other.chunking.chunk_tokens = config.chunking.chunk_tokens + 1
    with pytest.raises(KnowledgeBaseError, match="was chunked with"):
        ingest(corpus, root, other, embedder=embedder, show_progress=False)
