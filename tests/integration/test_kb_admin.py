"""Deleting and listing documents (issue 17) on a small real knowledge base: the real embedder, the spaCy graph, and
both graph stores (networkx in the KB folder; a real Bolt server, ArcadeDB, through the journal). Through the
library, the `kgsolver kb` CLI and the API routes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from typer.testing import CliRunner

from kgsolver.connectors import KnowledgeBaseError
from kgsolver.pipeline.kb import ATOMIC_COMPONENT, write_lock
from kgsolver.pipeline.kb.admin import UnknownDocumentError, delete_documents, list_documents
from kgsolver.pipeline.kb.atomic_index import AtomicIndex, read_atomic, stored_atomic
from kgsolver.pipeline.kb.atomize_job import PROGRESS, checkpoint, chunk_hash
from kgsolver.pipeline.kb.compact import compact_kb
from kgsolver.pipeline.kb.graph_build import import_into_kb
from kgsolver.pipeline.kb.graph_read import open_kb_graph
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.multihop import AgentResources
from kgsolver.pipeline.multihop.tools import AtomicSearchTool
from kgsolver.pipeline.serve.api import create_app
from kgsolver.pipeline.serve.cli import app
from kgsolver.pipeline.solver import Solver

# Bletchley Park and the war are only in `turing`; London, Charles Babbage and the edge "Charles Babbage lived in
# London" are in `turing` and `lovelace`; `curie` shares nothing.
DOCUMENTS = [
    {"id": "turing", "title": "Alan Turing",
     "text": "Alan Turing worked at Bletchley Park during the war. Charles Babbage lived in London."},
    {"id": "lovelace", "title": "Ada Lovelace",
     "text": "Ada Lovelace wrote notes on the engine of Charles Babbage. Charles Babbage lived in London."},
    {"id": "curie", "title": "Marie Curie", "text": "Marie Curie worked in Paris with Pierre Curie."},
]
ONLY_TURING, SHARED = "t:bletchley park", "t:london"
SHARED_EDGE = ("t:charles babbage", "lived in", "t:london")
API_KEY = "kb-admin-test-key"


def _ingest(root: Path, config, embedder) -> Path:
    root.parent.mkdir(parents=True, exist_ok=True)
    corpus = root.parent / f"{root.name}.jsonl"
    corpus.write_text("".join(json.dumps(d) + "\n" for d in DOCUMENTS), encoding="utf-8")
    ingest(corpus, root, config, embedder=embedder, show_progress=False)
    return root


def _add_atomic_questions(root: Path, config, embedder) -> dict[int, list[str]]:
    """A real atomic-question index (as `kgsolver atomize` commits one), two questions per chunk, written here
    instead of by the LLM."""
    with write_lock(root), KnowledgeBase.open(root, config) as kb:
        asked = {cid: [f"What does {c.title} say?", f"Who is in {c.title}?"] for cid, c in kb.chunks.items()}
        cids = [cid for cid, qs in asked.items() for _ in qs]
        questions = [q for qs in asked.values() for q in qs]
        kb.stage_component(ATOMIC_COMPONENT, AtomicIndex(cids, questions, embedder.encode(questions)).save)
        kb.commit()
    return asked


@pytest.fixture(params=["networkx", "bolt"])
def graph_config(request, config, monkeypatch):
    settings = config.model_copy(deep=True)
    if request.param == "bolt":
        server = request.getfixturevalue("bolt_server")
        monkeypatch.setenv("NEO4J_URI", server["uri"])
        monkeypatch.setenv("NEO4J_USER", server["user"])
        monkeypatch.setenv("NEO4J_PASSWORD", server["password"])
        if server["database"]:
            monkeypatch.setenv("NEO4J_DATABASE", server["database"])
        settings.graph.store = "neo4j"
    return settings


def _doc_ids_found(root: Path, config, embedder, query: str) -> set[str]:
    documents = Solver(root, config, embedder=embedder).retriever(k=10).invoke(query)
    return {d.metadata["doc_id"] for d in documents}


def test_delete_removes_chunks_vectors_sentences_questions_and_graph_provenance(tmp_path, graph_config, embedder):
    root = _ingest(tmp_path / "kb", graph_config, embedder)
    asked = _add_atomic_questions(root, graph_config, embedder)
    kb = KnowledgeBase.open(root)
    gone, kept = kb.chunk_ids_of({"turing"}).tolist(), kb.chunk_ids_of({"lovelace"}).tolist()
    store = open_kb_graph(kb, graph_config.graph)
    try:
        # what the delete must change is there before it
        assert set(store.chunks_of(ONLY_TURING)) == set(gone)
        assert set(store.chunks_of(SHARED)) == set(gone + kept)
        edge = [r for r in store.neighbors([SHARED]).relations if r.key == SHARED_EDGE]
        assert len(edge) == 1 and set(edge[0].chunks) == set(gone + kept)
        assert "turing" in _doc_ids_found(root, graph_config, embedder, "Bletchley Park")

        report = delete_documents(root, ["turing"], graph_config)

        kb = KnowledgeBase.open(root)
        assert report.documents == ["turing"] and report.chunks_removed == len(gone) and report.relations_removed > 0
        assert kb.document_ids == {"lovelace", "curie"} and not set(gone) & set(kb.chunks)
        assert [d.doc_id for d in list_documents(root)] == ["curie", "lovelace"]
        assert len(kb.dense) == len(kb.bm25) == len(kb.chunks) == 2
        found = _doc_ids_found(root, graph_config, embedder, "Bletchley Park")
        assert found == {"lovelace", "curie"}  # every chunk left, and none of the deleted one
        assert all(kb.sentences.of_chunk(cid) is None for cid in gone)
        assert all(kb.sentences.of_chunk(cid) is not None for cid in kept)
        atomic = read_atomic(kb)
        assert report.atomic_questions_removed == sum(len(asked[c]) for c in gone)
        assert set(atomic.cids.tolist()) == set(asked) - set(gone)
        hit = atomic.search(embedder.encode([asked[kept[0]][0]])[0], 1)[0]  # the rows stayed with their vectors
        assert (hit.cid, hit.question, round(hit.score, 4)) == (kept[0], asked[kept[0]][0], 1.0)

        store.close()
        store = open_kb_graph(kb, graph_config.graph)  # the committed graph (a networkx store is a file of the KB)
        assert store.get_entity(ONLY_TURING) is None and store.get_entity("t:alan turing") is None
        assert store.get_entity(SHARED) is not None and store.chunks_of(SHARED) == kept
        edge = [r for r in store.neighbors([SHARED]).relations if r.key == SHARED_EDGE]
        assert len(edge) == 1 and edge[0].chunks == kept  # the other document's provenance only
        assert store.entities_in_chunks(gone) == {}
        assert all(not set(r.chunks) & set(gone) for r in store.iter_relations())
        assert {r.subject for r in store.iter_relations()} >= {"t:ada lovelace", "t:marie curie"}
    finally:
        if graph_config.graph.store != "networkx":
            store.clear()
        store.close()


def _atomic_hits(root: Path, config, embedder, question: str) -> list[tuple[int, str]]:
    """(chunk id, question) of the agent's atomic search, as a fresh reader of the committed KB sees it."""
    tool = AtomicSearchTool(AgentResources(KnowledgeBase.open(root), embedder, config.graph, config.agent))
    return [(d.metadata["cid"], d.metadata["atomic_question"]) for d in tool.search(question, k=10)]


def test_a_delete_hides_atomic_questions_without_rewriting_them_and_compaction_folds_them(tmp_path, config, embedder):
    root = _ingest(tmp_path / "kb", config, embedder)
    asked = _add_atomic_questions(root, config, embedder)
    kb = KnowledgeBase.open(root)
    gone, kept = kb.chunk_ids_of({"turing"}).tolist(), kb.chunk_ids_of({"lovelace", "curie"}).tolist()
    stored = kb.component_path(ATOMIC_COMPONENT)
    assert gone[0] in {cid for cid, _ in _atomic_hits(root, config, embedder, asked[gone[0]][0])}

    report = delete_documents(root, ["turing"], config)

    kb = KnowledgeBase.open(root)
    assert kb.component_path(ATOMIC_COMPONENT) == stored  # the component was not written again
    assert report.atomic_questions_removed == sum(len(asked[c]) for c in gone)
    assert set(stored_atomic(kb).cids.tolist()) == set(asked)  # the stored rows stay until a compaction
    for question in asked[gone[0]]:
        hits = _atomic_hits(root, config, embedder, question)
        assert hits and not {cid for cid, _ in hits} & set(gone)
    for cid in kept:  # every other chunk still answers its own questions first
        assert _atomic_hits(root, config, embedder, asked[cid][0])[0] == (cid, asked[cid][0])

    compact_kb(root, config)

    kb = KnowledgeBase.open(root)
    folded = stored_atomic(kb)
    assert kb.component_path(ATOMIC_COMPONENT) != stored and set(folded.cids.tolist()) == set(kept)
    assert set(folded.hashes) <= set(kept) and len(folded) == sum(len(asked[c]) for c in kept)
    for cid in kept:  # the rows kept their vectors through the fold
        assert _atomic_hits(root, config, embedder, asked[cid][0])[0] == (cid, asked[cid][0])


def test_a_replaced_document_loses_its_old_atomic_questions(tmp_path, config, embedder):
    root = _ingest(tmp_path / "kb", config, embedder)
    asked = _add_atomic_questions(root, config, embedder)
    old = KnowledgeBase.open(root).chunk_ids_of({"curie"}).tolist()
    stored = KnowledgeBase.open(root).component_path(ATOMIC_COMPONENT)
    corpus = tmp_path / "replace.jsonl"
    corpus.write_text(json.dumps({"id": "curie", "title": "Marie Curie", "text": "Marie Curie won two Nobel prizes."})
                      + "\n", encoding="utf-8")
    ingest(corpus, root, config, embedder=embedder, show_progress=False)
    kb = KnowledgeBase.open(root)
    assert kb.component_path(ATOMIC_COMPONENT) == stored and not set(old) & set(kb.chunk_ids_of({"curie"}).tolist())
    assert not {cid for cid, _ in _atomic_hits(root, config, embedder, asked[old[0]][0])} & set(old)
    assert set(read_atomic(kb).cids.tolist()) == set(asked) - set(old)


def test_a_delete_killed_before_its_commit_leaves_the_atomic_questions_searchable(tmp_path, config, embedder):
    from kgsolver.pipeline.kb import HOLD_BEFORE_COMMIT_ENV

    root = _ingest(tmp_path / "kb", config, embedder)
    asked = _add_atomic_questions(root, config, embedder)
    manifest = (root / "manifest.json").read_bytes()
    marker = tmp_path / "held"
    proc = subprocess.Popen([sys.executable, "-m", "kgsolver.pipeline", "kb", "delete", "turing", "--kb", str(root)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env={**os.environ, HOLD_BEFORE_COMMIT_ENV: str(marker)})
    deadline = time.monotonic() + 300
    while not marker.exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the delete never reached its commit"
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (root / "manifest.json").read_bytes() == manifest
    gone = KnowledgeBase.open(root).chunk_ids_of({"turing"}).tolist()
    assert gone and _atomic_hits(root, config, embedder, asked[gone[0]][0])[0] == (gone[0], asked[gone[0]][0])
    assert delete_documents(root, ["turing"], config).atomic_questions_removed == len(asked[gone[0]])


def test_a_delete_with_extraction_switched_off_still_removes_the_provenance(tmp_path, graph_config, embedder):
    """Provenance removal does not depend on the extractor of the moment: a KB built with spaCy and then
    configured `graph.extractor=none` (the Bolt store kept its graph: before the fix it was skipped)."""
    root = _ingest(tmp_path / "kb", graph_config, embedder)
    off = graph_config.model_copy(deep=True)
    off.graph.extractor = "none"
    delete_documents(root, ["turing"], off)
    store = open_kb_graph(KnowledgeBase.open(root), off.graph)
    try:
        assert store.get_entity(ONLY_TURING) is None and store.get_entity(SHARED) is not None
    finally:
        if off.graph.store != "networkx":
            store.clear()
        store.close()


def test_unknown_id_is_an_error_naming_it_and_changes_nothing(tmp_path, config, embedder):
    root = _ingest(tmp_path / "kb", config, embedder)
    manifest = (root / "manifest.json").read_bytes()
    files = sorted(p.name for p in root.iterdir())
    with pytest.raises(UnknownDocumentError, match="'no-such-doc'") as raised:
        delete_documents(root, ["turing", "no-such-doc"], config)  # a known id beside it is not deleted either
    assert raised.value.unknown == ["no-such-doc"] and "nothing was deleted" in str(raised.value)
    assert (root / "manifest.json").read_bytes() == manifest and sorted(p.name for p in root.iterdir()) == files
    assert KnowledgeBase.open(root).document_ids == {"turing", "lovelace", "curie"}
    with pytest.raises(ValueError, match="no document ids"):
        delete_documents(root, [], config)


def test_every_document_deleted_then_one_ingested_again(tmp_path, config, embedder):
    root = _ingest(tmp_path / "kb", config, embedder)
    delete_documents(root, ["turing", "lovelace", "curie"], config)
    assert list_documents(root) == [] and _doc_ids_found(root, config, embedder, "Bletchley Park") == set()
    assert open_kb_graph(KnowledgeBase.open(root), config.graph).stats()["entities"] == 0
    report = ingest(root.parent / "kb.jsonl", root, config, embedder=embedder, show_progress=False)
    assert report.documents_added == 3 and report.documents_unchanged == 0  # a deleted id is new again
    assert "turing" in _doc_ids_found(root, config, embedder, "Bletchley Park")
    assert [d.doc_id for d in list_documents(root)] == ["curie", "lovelace", "turing"]


def _three_segments(root: Path, config, embedder, monkeypatch):
    """A KB of one segment per document, and a caller's configuration that never compacts, in a process whose
    environment would merge every segment at the next commit."""
    for doc in DOCUMENTS:  # one segment per ingest
        corpus = root.parent / f"{doc['id']}.jsonl"
        corpus.write_text(json.dumps(doc) + "\n", encoding="utf-8")
        ingest(corpus, root, config, embedder=embedder, show_progress=False)
    assert len(KnowledgeBase.open(root).manifest["segments"]) == 3
    caller = config.model_copy(deep=True)
    caller.kb.auto_compact = False
    monkeypatch.setenv("KGSOLVER_KB__MAX_SEGMENTS", "1")
    return caller


def test_a_delete_commits_by_the_callers_settings_not_the_environments(tmp_path, config, embedder, monkeypatch):
    """The API passes its own configuration to a delete: the commit's compaction must follow it, not whatever the
    environment of the process says (issue 34)."""
    root = tmp_path / "kb"
    caller = _three_segments(root, config, embedder, monkeypatch)
    delete_documents(root, ["curie"], caller)
    assert len(KnowledgeBase.open(root).manifest["segments"]) == 3
    assert [d.doc_id for d in list_documents(root)] == ["lovelace", "turing"]


def test_atomize_checkpoints_and_graph_imports_commit_by_the_callers_settings(tmp_path, config, embedder,
                                                                              monkeypatch):
    """Every writer commits by the configuration it is given (issue 34): the atomize job's checkpoint and
    `kgsolver graph import` as a delete does; and a knowledge base opened without one refuses to commit, before it
    writes anything, instead of reading settings from the environment."""
    root = tmp_path / "kb"
    caller = _three_segments(root, config, embedder, monkeypatch)
    with KnowledgeBase.open(root) as kb:  # one chunk atomized, as the job's progress log records it
        cid, chunk = next(iter(kb.chunks.items()))
    (root / PROGRESS).parent.mkdir()
    (root / PROGRESS).write_text(json.dumps({"cid": cid, "sha": chunk_hash(chunk.title, chunk.text),
                                             "questions": ["Who is this about?"]}) + "\n", encoding="utf-8")
    assert checkpoint(root, embedder, caller) == 1
    triples = tmp_path / "kg.tsv"
    triples.write_text("head_id\thead_name\trelation\ttail_id\ttail_name\n"
                       "X:1\tAda Lovelace\tcorresponded with\tX:2\tCharles Babbage\n", encoding="utf-8")
    assert import_into_kb(root, triples, None, caller)["triples"] == 1
    manifest = KnowledgeBase.open(root).manifest
    assert len(manifest["segments"]) == 3 and manifest["generation"] == 5
    with write_lock(root), KnowledgeBase.open(root) as reader:
        reader.remove_documents({"curie"})
        with pytest.raises(KnowledgeBaseError, match="without a configuration"):
            reader.commit()
    assert KnowledgeBase.open(root).manifest == manifest


def test_cli_list_and_delete(tmp_path, config, embedder):
    root = _ingest(tmp_path / "kb", config, embedder)
    runner = CliRunner()
    listed = runner.invoke(app, ["kb", "list", "--kb", str(root), "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout) == [{"doc_id": "curie", "title": "Marie Curie", "chunks": 1},
                                         {"doc_id": "lovelace", "title": "Ada Lovelace", "chunks": 1},
                                         {"doc_id": "turing", "title": "Alan Turing", "chunks": 1}]
    table = runner.invoke(app, ["kb", "list", "--kb", str(root)])
    assert table.exit_code == 0 and "Ada Lovelace" in table.stdout and "3 documents" in table.stdout
    deleted = runner.invoke(app, ["kb", "delete", "turing", "curie", "--kb", str(root)])
    assert deleted.exit_code == 0, deleted.output
    assert KnowledgeBase.open(root).document_ids == {"lovelace"}
    generation = KnowledgeBase.open(root).manifest["generation"]
    # the installed entry point: a clear one-line error and exit status 2, nothing changed
    failed = subprocess.run([sys.executable, "-m", "kgsolver.pipeline", "kb", "delete", "turing", "--kb", str(root)],
                            capture_output=True, text=True, timeout=120)
    assert failed.returncode == 2 and "no document with id 'turing'" in failed.stderr
    assert KnowledgeBase.open(root).manifest["generation"] == generation


def test_api_routes_want_the_key_and_the_solver_sees_the_delete(tmp_path, config, embedder, qwen05):
    root = tmp_path / "root"
    _ingest(root / "science", config, embedder)
    keyed = config.model_copy(deep=True)
    keyed.api.key = SecretStr(API_KEY)
    client = TestClient(create_app(root, keyed, embedder=embedder, gateway=qwen05))
    assert client.get("/kb/science/documents").status_code == 401
    assert client.delete("/kb/science/documents/turing").status_code == 401
    client.headers["X-API-Key"] = API_KEY
    solver = client.app.state.kbs.solver("science")  # the API's one Solver of this knowledge base
    assert "turing" in {d.metadata["doc_id"] for d in solver.retriever(k=10).invoke("Bletchley Park")}

    listed = client.get("/kb/science/documents", params={"offset": 1, "limit": 1}).json()
    assert listed == {"kb": "science", "total": 3, "offset": 1,
                      "documents": [{"id": "lovelace", "title": "Ada Lovelace", "chunks": 1}]}
    missing = client.delete("/kb/science/documents/no-such-doc")
    assert missing.status_code == 404 and "'no-such-doc'" in missing.json()["detail"]
    assert str(tmp_path) not in missing.text
    deleted = client.delete("/kb/science/documents/turing")
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    assert body["deleted"] == ["turing"] and body["chunks_removed"] == 1 and body["documents_total"] == 2

    assert [d["id"] for d in client.get("/kb/science/documents").json()["documents"]] == ["curie", "lovelace"]
    assert client.app.state.kbs.solver("science") is solver
    assert "turing" not in {d.metadata["doc_id"] for d in solver.retriever(k=10).invoke("Bletchley Park")}
    assert client.get("/kb/nowhere/documents").status_code == 404
    assert client.delete("/kb/science/documents/turing").status_code == 404  # gone already


def test_a_document_id_with_a_slash_is_deleted_through_the_api(tmp_path, config, embedder, qwen05):
    root = tmp_path / "root"
    corpus = tmp_path / "paths.jsonl"
    corpus.write_text(json.dumps({"id": "notes/2024/a.md", "title": "Notes", "text": "Quendar lies east."}) + "\n"
                      + json.dumps({"id": "b", "title": "B", "text": "Lirrow lies west."}) + "\n", encoding="utf-8")
    ingest(corpus, root / "files", config, embedder=embedder, show_progress=False)
    client = TestClient(create_app(root, config, embedder=embedder, gateway=qwen05))
    assert client.delete("/kb/files/documents/notes%2F2024%2Fa.md").status_code == 200
    assert client.delete("/kb/files/documents/notes/2024/a.md").status_code == 404  # gone: both spellings reach it
    assert np.array_equal(KnowledgeBase.open(root / "files").chunk_ids_of({"notes/2024/a.md"}), np.array([]))


def test_a_delete_in_one_bolt_namespace_leaves_another_namespaces_relations(bolt_server):
    """Knowledge bases sharing one Bolt database share the relationship type: a removal deletes only its own
    knowledge base's relations (before the label scope it deleted every provenance-less text relation there)."""
    from neo4j import GraphDatabase

    from kgsolver.connectors.graph_stores import Entity, GraphBatch, Mention, Relation
    from kgsolver.connectors.graph_stores.neo4j_store import Neo4jStore

    driver = GraphDatabase.driver(bolt_server["uri"], auth=(bolt_server["user"], bolt_server["password"]))
    tag = uuid.uuid4().hex[:8]
    ours, theirs = (Neo4jStore(driver, database=bolt_server["database"], label=f"E{n}_{tag}", chunk_label=f"C{n}_{tag}")
                    for n in (1, 2))
    try:
        ours.upsert(GraphBatch([Entity("a", "A"), Entity("b", "B")], [Relation("a", "near", "b", 1.0, [1])],
                               [Mention(1, "a")]))
        # a text relation without chunk provenance (written by hand, or by another tool) in the other namespace
        theirs.upsert(GraphBatch([Entity("x", "X"), Entity("y", "Y")], [Relation("x", "near", "y", 1.0, [])]))
        assert ours.remove_chunks([1]) == 1
        assert ours.stats()["relations"] == 0 and theirs.stats()["relations"] == 1
    finally:
        ours.clear()
        theirs.clear()
        driver.close()
