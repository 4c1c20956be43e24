"""Segmented knowledge bases (issue 17): an ingest writes what it adds, a delete is a tombstone, compaction keeps the
ids, a format-1 knowledge base upgrades in place, and opening reads no chunk."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.connectors.chunk_store import ChunkStore
from kgsolver.evals.datasets import read_jsonl
from kgsolver.pipeline.kb import write_lock
from kgsolver.pipeline.kb.compact import compact_kb
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase


@pytest.fixture
def kb_copy(demo_kb, tmp_path) -> Path:
    target = tmp_path / "kb"
    shutil.copytree(demo_kb, target)
    return target


def _files(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under root: relative path -> (inode, size)."""
    return {str(p.relative_to(root)): (p.stat().st_ino, p.stat().st_size) for p in root.rglob("*") if p.is_file()}


def _new_docs(shared_datasets: Path, n: int, tmp_path: Path, stored: set[str]) -> Path:
    """n documents of the KILT mini corpus that the knowledge base does not hold yet."""
    docs = [d for d in read_jsonl(shared_datasets / "kilt" / "hotpotqa-dev-kilt.mini.corpus.jsonl")
            if d["id"] not in stored and d["text"].strip()][:n]
    path = tmp_path / "new.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def _top(kb: KnowledgeBase, vectors: np.ndarray, k: int = 10) -> list[list[int]]:
    return kb.dense.search(vectors, k)[1].tolist()


def test_adding_ten_documents_writes_only_what_they_add(kb_copy, tmp_path, shared_datasets, embedder, config):
    before = _files(kb_copy)
    stored = KnowledgeBase.open(kb_copy).document_ids
    ingest(_new_docs(shared_datasets, 10, tmp_path, stored), kb_copy, config, embedder=embedder, show_progress=False)
    after = _files(kb_copy)
    created = {p: size for p, (ino, size) in after.items() if before.get(p, (None,))[0] != ino}
    kb = KnowledgeBase.open(kb_copy)
    components = set(kb.manifest["files"].values())  # graph and the like: their own writers, reported apart
    core = {p: s for p, s in created.items() if p.split("/")[0] not in components}
    total = sum(size for _, size in after.values())
    print(f"10 documents into {kb.manifest['counts']['documents'] - 10}: core {sum(core.values())} bytes written of "
          f"{total} ({sum(core.values()) / total:.3f}); components {sum(created.values()) - sum(core.values())} bytes")
    assert sum(core.values()) < 0.1 * total
    assert len(kb.manifest["segments"]) == 2 and kb.manifest["counts"]["documents"] == 310
    new_segment = kb.manifest["segments"][-1]["name"]
    assert all(p.startswith(new_segment + "/") or not p.startswith("seg-") for p in core)  # old segments untouched


def test_delete_is_a_tombstone_invisible_to_search_and_chunks(kb_copy, config):
    kb = KnowledgeBase.open(kb_copy)
    _, ids = kb.bm25.search(["Neil Peart drummer"], 1)
    doc = kb.chunks[int(ids[0][0])].doc_id
    gone = kb.chunk_ids_of({doc})
    vectors = kb.dense.vectors(gone.tolist())
    assert set(gone.tolist()) <= set(_top(kb, vectors)[0])
    before = _files(kb_copy)
    with write_lock(kb_copy):
        kb = KnowledgeBase.open(kb_copy, config)
        assert kb.remove_documents({doc}) == len(gone)
        kb.commit()
    created = {p for p, (ino, _) in _files(kb_copy).items() if before.get(p, (None,))[0] != ino}
    assert {p.split("-")[0] for p in created} == {"tomb", ".lease", "manifest.json"}  # no segment rewritten
    kb = KnowledgeBase.open(kb_copy)
    assert doc not in kb.document_ids and kb.unknown_documents([doc]) == [doc]
    assert not any(int(c) in kb.chunks for c in gone) and kb.chunks.many(gone.tolist()) == {}
    assert all(kb.sentences.of_chunk(int(c)) is None for c in gone)
    assert len(kb.chunks) == len(kb.dense) == kb.manifest["counts"]["chunks"] == len(list(kb.chunks.values()))
    assert not set(gone.tolist()) & set(np.ravel(_top(kb, vectors)))
    assert not set(gone.tolist()) & set(np.ravel(kb.bm25.search(["Neil Peart drummer"], 10)[1]))
    assert all(c.doc_id != doc for c in kb.chunks.values())


def test_replace_tombstones_the_old_chunks_and_adds_new_ones(kb_copy, tmp_path, embedder, config):
    kb = KnowledgeBase.open(kb_copy)
    doc = kb.list_documents()[0]
    old = kb.chunk_ids_of({doc.doc_id}).tolist()
    path = tmp_path / "r.jsonl"
    path.write_text(json.dumps({"id": doc.doc_id, "title": doc.title, "text": "Qwertyuiop is now its only text."}))
    report = ingest(path, kb_copy, config, embedder=embedder, show_progress=False)
    assert (report.documents_replaced, report.chunks_removed) == (1, len(old))
    kb = KnowledgeBase.open(kb_copy)
    new = kb.chunk_ids_of({doc.doc_id}).tolist()
    assert len(new) == 1 and new[0] > max(old) and not any(c in kb.chunks for c in old)
    assert kb.bm25.search(["Qwertyuiop"], 1)[1][0][0] == new[0]
    assert [c.text for c in kb.chunks.many(new).values()] == ["Qwertyuiop is now its only text."]


def test_compaction_keeps_ids_and_results_and_drops_deleted_rows(kb_copy, tmp_path, shared_datasets, embedder,
                                                                 config):
    new = _new_docs(shared_datasets, 6, tmp_path, KnowledgeBase.open(kb_copy).document_ids)
    ingest(new, kb_copy, config, embedder=embedder, show_progress=False)
    with write_lock(kb_copy):
        kb = KnowledgeBase.open(kb_copy, config)
        dropped = kb.list_documents()[3].doc_id
        kb.remove_documents({dropped})
        kb.commit()
    kb = KnowledgeBase.open(kb_copy)
    assert len(kb.manifest["segments"]) == 2 and kb.manifest["tombstones"]
    texts = {cid: (c.doc_id, c.text) for cid, c in kb.chunks.items()}
    probe = kb.dense.vectors(list(texts)[::40])
    results = _top(kb, probe)
    sentences = {cid: kb.sentences.of_chunk(cid) for cid in list(texts)[::25]}
    stored = kb.segment_set.stored
    del kb
    report = compact_kb(kb_copy, config)
    assert (report.segments_before, report.segments_after) == (2, 1) and report.rows_dropped == stored - len(texts)
    kb = KnowledgeBase.open(kb_copy)
    assert kb.manifest["tombstones"] == [] and len(kb.manifest["segments"]) == 1
    assert {cid: (c.doc_id, c.text) for cid, c in kb.chunks.items()} == texts  # same ids, same chunks
    assert _top(kb, probe) == results
    for cid, vectors in sentences.items():
        assert np.array_equal(kb.sentences.of_chunk(cid), vectors)
    segment = kb.manifest["segments"][0]["name"]
    assert len(ChunkStore(kb_copy / segment / "chunks.sqlite")) == len(texts)  # the deleted rows are gone from disk
    assert not [p for p in kb_copy.iterdir() if p.name.startswith(("seg-", "tomb-")) and p.name != segment]
    assert dropped not in kb.document_ids


def test_opening_reads_no_chunk_and_a_question_reads_only_its_hits(demo_kb):
    kb = KnowledgeBase.open(demo_kb)
    assert len(kb.chunks) == kb.manifest["counts"]["chunks"] and kb.chunks.rows_read == 0
    _, ids = kb.bm25.search(["Neil Peart drummer"], 5)
    assert kb.chunks.rows_read == 0
    hits = kb.chunks.many(ids[0].tolist())
    assert len(hits) == 5 and kb.chunks.rows_read == 5
    assert kb.chunks[int(ids[0][0])].title == "Neil Peart" and kb.chunks.rows_read == 5  # the second read is cached


def _write_format_1(source: Path, target: Path) -> dict:
    """The files a format-1 knowledge base held, written from a format-2 one: chunks.jsonl, one faiss index over
    global ids, a BM25 folder, the sentence component keyed by global id, and the other components as they are."""
    from kgsolver.connectors.keyword_index import BM25Index
    from kgsolver.connectors.vector_index import FaissIndex
    from kgsolver.pipeline.kb.sentence_index import SentenceIndex

    kb = KnowledgeBase.open(source)
    target.mkdir()
    ids = np.array(list(kb.chunks), dtype=np.int64)
    chunks = kb.chunks.many(ids.tolist())
    with (target / "chunks-000001-aaaaaaaa.jsonl").open("w") as handle:
        for cid, chunk in chunks.items():
            handle.write(json.dumps({"cid": cid, **chunk.to_record()}) + "\n")
    dense = FaissIndex(kb.dimensions)
    dense.add(ids, kb.dense.vectors(ids.tolist()))
    dense.save(target / "dense-000001-aaaaaaaa.faiss")
    BM25Index.build(ids, [c.indexed_text() for c in chunks.values()]).save(target / "bm25-000001-aaaaaaaa")
    segment = kb.segment_set.segments[0]
    old = segment.sentences
    SentenceIndex(np.column_stack([segment.ids.to_global(old.rows[:, 0]), old.rows[:, 1:]]), old.vectors,
                  old.spans).save(target / "sentences-000001-aaaaaaaa")
    files = {"chunks": "chunks-000001-aaaaaaaa.jsonl", "dense": "dense-000001-aaaaaaaa.faiss",
             "bm25": "bm25-000001-aaaaaaaa", "sentences": "sentences-000001-aaaaaaaa"}
    for name, rel in kb.manifest["files"].items():
        (shutil.copytree if (source / rel).is_dir() else shutil.copy)(source / rel, target / rel)
        files[name] = rel
    manifest = {k: v for k, v in kb.manifest.items() if k not in ("segments", "tombstones")}
    manifest.update(format_version=1, generation=1, files=files)
    (target / "manifest.json").write_text(json.dumps(manifest))
    return manifest


def test_a_format_1_kb_is_refused_with_the_upgrade_command_then_upgraded_in_place(demo_kb, tmp_path, config):
    from kgsolver.pipeline.kb.upgrade import upgrade, upgrade_if_format_1

    old = _write_format_1(demo_kb, tmp_path / "old")
    with pytest.raises(KnowledgeBaseError, match=r"kgsolver kb upgrade --kb .*old"):
        KnowledgeBase.open(tmp_path / "old")
    assert upgrade_if_format_1(tmp_path / "old", config)  # what an eval suite does to its cached KB before its ingest
    kb, reference = KnowledgeBase.open(tmp_path / "old"), KnowledgeBase.open(demo_kb)
    assert kb.manifest["format_version"] == 2 and kb.manifest["counts"] == old["counts"]
    assert {k: v for k, v in kb.manifest["files"].items()} == {k: v for k, v in reference.manifest["files"].items()}
    assert not [p for p in (tmp_path / "old").iterdir() if p.name.startswith(("chunks-", "dense-", "bm25-"))]
    probe = reference.dense.vectors(list(reference.chunks)[::30])
    assert _top(kb, probe) == _top(reference, probe)
    queries = ["Neil Peart drummer", "Marie Curie radium", "river delta"]
    assert kb.bm25.search(queries, 5)[1].tolist() == reference.bm25.search(queries, 5)[1].tolist()
    cid = list(reference.chunks)[7]
    assert kb.chunks[cid] == reference.chunks[cid]
    assert np.array_equal(kb.sentences.of_chunk(cid), reference.sentences.of_chunk(cid))
    with pytest.raises(KnowledgeBaseError, match="already format 2"):
        upgrade(tmp_path / "old", config)
    assert not upgrade_if_format_1(tmp_path / "old", config)


def test_the_upgraded_segment_is_indexed_as_the_caller_configures(demo_kb, tmp_path, config):
    """The upgrade writes its segment with the caller's `vector_index` (issue 34: settings are passed in, never
    defaulted): an HNSW index from the first vector, where the default would build a Flat one for the demo's 300."""
    from kgsolver.connectors.index_spec import IndexSpec
    from kgsolver.pipeline.kb.upgrade import upgrade

    _write_format_1(demo_kb, tmp_path / "old")
    hnsw = config.model_copy(update={"vector_index": IndexSpec(flat_below=1, kind="hnsw", encoding="flat")})
    upgrade(tmp_path / "old", hnsw)
    kb = KnowledgeBase.open(tmp_path / "old")
    assert [segment.dense.kind for segment in kb.segment_set.segments] == ["hnsw"]
    probe = kb.dense.vectors(list(kb.chunks)[::30])
    assert _top(kb, probe, 1) == [[cid] for cid in list(kb.chunks)[::30]]  # each stored vector finds its own chunk


def test_ingest_follows_the_configuration_it_is_given(kb_copy, tmp_path, shared_datasets, embedder, config):
    """The compaction trigger reads the config object passed to ingest (not only the defaults and environment): with
    max_segments=1 the second segment is merged at once; the demo KB has one segment to start with."""
    stored = KnowledgeBase.open(kb_copy).document_ids
    strict = config.model_copy(update={"kb": config.kb.model_copy(update={"max_segments": 1})})
    ingest(_new_docs(shared_datasets, 3, tmp_path, stored), kb_copy, strict, embedder=embedder, show_progress=False)
    kb = KnowledgeBase.open(kb_copy)
    assert len(kb.manifest["segments"]) == 1 and kb.manifest["counts"]["documents"] == len(stored) + 3
