"""Knowledge base persistence: incremental, replace-not-duplicate, atomic under crashes and SIGKILL."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.pipeline.kb import knowledge_base as kb_module
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase


@pytest.fixture
def kb_copy(demo_kb, tmp_path):
    target = tmp_path / "kb"
    shutil.copytree(demo_kb, target)
    return target


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_manifest_records_embedder_counts_and_versions(demo_kb):
    manifest = json.loads((demo_kb / "manifest.json").read_text())
    assert manifest["embedder"] == {"name": "sentence-transformers/all-MiniLM-L6-v2", "dimensions": 384,
                                    "sentence_vectors": "encoded"}  # how its sentence vectors were made (issue 35)
    assert manifest["counts"]["documents"] == 300
    assert manifest["counts"]["chunks"] >= 300
    assert {"faiss-cpu", "bm25s", "sentence-transformers", "torch"} <= manifest["versions"].keys()
    kb = KnowledgeBase.open(demo_kb)
    assert len(kb.dense) == len(kb.bm25) == len(kb.chunks) == manifest["counts"]["chunks"]


def test_incremental_add_replace_and_unchanged(kb_copy, tmp_path, embedder, config):
    before = KnowledgeBase.open(kb_copy)
    n_chunks = len(before.chunks)
    extra = _write(tmp_path / "new.jsonl",
                   [{"id": "new-1", "title": "Zyxwv", "text": "Zyxwv is a fictional moon of Qorth."}])
    report = ingest(extra, kb_copy, config, embedder=embedder, show_progress=False)
    assert (report.documents_added, report.chunks_added) == (1, 1)
    kb = KnowledgeBase.open(kb_copy)
    assert len(kb.chunks) == n_chunks + 1
    # Same id, new text: replaced, never duplicated.
    _write(extra, [{"id": "new-1", "title": "Zyxwv", "text": "Zyxwv is a fictional asteroid near Plimb."}])
    report = ingest(extra, kb_copy, config, embedder=embedder, show_progress=False)
    assert (report.documents_replaced, report.chunks_removed, report.chunks_added) == (1, 1, 1)
    kb = KnowledgeBase.open(kb_copy)
    texts = [c.text for c in kb.chunks.values() if c.doc_id == "new-1"]
    assert texts == ["Zyxwv is a fictional asteroid near Plimb."]
    assert len(kb.dense) == len(kb.bm25) == n_chunks + 1
    # Unchanged: nothing re-embedded.
    report = ingest(extra, kb_copy, config, embedder=embedder, show_progress=False)
    assert (report.documents_unchanged, report.chunks_added) == (1, 0)


def test_crash_before_manifest_swap_keeps_previous_kb(kb_copy, tmp_path, embedder, config, monkeypatch):
    manifest_before = (kb_copy / "manifest.json").read_text()
    extra = _write(tmp_path / "x.jsonl", [{"id": "crash", "title": "C", "text": "Written then lost."}])

    def crash(*_args, **_kwargs):
        raise OSError("simulated power loss")

    monkeypatch.setattr(kb_module, "write_json_atomic", crash)
    with pytest.raises(OSError, match="simulated"):
        ingest(extra, kb_copy, config, embedder=embedder, show_progress=False)
    monkeypatch.undo()
    assert (kb_copy / "manifest.json").read_text() == manifest_before
    kb = KnowledgeBase.open(kb_copy)
    assert "crash" not in kb.document_ids
    named = set(kb.manifest["files"].values()) | {s["name"] for s in kb.manifest["segments"]}
    orphans = [p.name for p in kb_copy.iterdir() if p.name not in named]
    assert any(name.startswith("seg-") for name in orphans)  # the half-done generation is still on disk...
    kb.collect_garbage()
    leftover = {p.name for p in kb_copy.iterdir()} - named
    current_lease = f".lease-{kb.manifest['generation']:06d}.json"
    assert leftover <= {"manifest.json", ".lock", current_lease}  # ...until the next write collects it


def test_sigkill_mid_ingest_leaves_previous_kb_usable(kb_copy, shared_datasets):
    manifest_before = json.loads((kb_copy / "manifest.json").read_text())
    corpus = shared_datasets / "kilt" / "hotpotqa-dev-kilt.mini.corpus.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "kgsolver.pipeline", "ingest", str(corpus), "--kb", str(kb_copy)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    seen = b""
    deadline = time.monotonic() + 120
    while b"passage/s" not in seen and time.monotonic() < deadline:  # embedding is under way
        chunk = proc.stderr.read1(256)
        if not chunk:
            break
        seen += chunk
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert b"passage/s" in seen, seen[-500:]
    assert json.loads((kb_copy / "manifest.json").read_text()) == manifest_before
    kb = KnowledgeBase.open(kb_copy)
    assert len(kb.chunks) == manifest_before["counts"]["chunks"]
    scores, ids = kb.bm25.search(["Neil Peart drummer"], 3)
    assert kb.chunks[int(ids[0][0])].title == "Neil Peart"


def test_incompatible_or_missing_kb_errors(tmp_path, embedder, config, demo_corpus):
    with pytest.raises(KnowledgeBaseError, match="not a knowledge base"):
        KnowledgeBase.open(tmp_path)
    other = config.model_copy(deep=True)
    other.chunking.chunk_tokens = 100
    kb_dir = tmp_path / "kb"
    ingest(_write(tmp_path / "a.jsonl", [{"id": "a", "text": "alpha"}]), kb_dir, config, embedder=embedder,
           show_progress=False)
    with pytest.raises(KnowledgeBaseError, match="was chunked with"):
        ingest(demo_corpus, kb_dir, other, embedder=embedder, show_progress=False)
