"""Knowledge atomizing with the real 0.5B model on a handful of chunks: questions written, indexed as a committed KB
component, resumable from the progress log, incremental after a re-ingest."""

from __future__ import annotations

import json
import shutil

import pytest

from kgsolver.pipeline.kb import ATOMIC_COMPONENT
from kgsolver.pipeline.kb.atomic_index import AtomicIndex
from kgsolver.pipeline.kb.atomize_job import PROGRESS, atomize_kb, clean_questions, read_progress
from kgsolver.pipeline.kb.ingest import ingest
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.multihop import AgentResources
from kgsolver.pipeline.multihop.tools import AtomicSearchTool, search_tools


def test_clean_questions_dedups_and_normalises():
    out = clean_questions(["Who founded it", "who founded it?", "  Where is  FC Cartagena?", "x?"], 4)
    assert out == ["Who founded it?", "Where is FC Cartagena?"]


def test_read_progress_skips_a_torn_last_line(tmp_path):
    (tmp_path / PROGRESS).parent.mkdir()
    (tmp_path / PROGRESS).write_text(json.dumps({"cid": 1, "sha": "a", "questions": ["Q?"]}) + "\n{\"cid\": 2, \"sh")
    assert list(read_progress(tmp_path)) == [1]


@pytest.mark.llm
def test_atomize_resume_and_incremental(hotpot_kb, tmp_path, qwen05, embedder, config):
    kb_dir = tmp_path / "kb"
    shutil.copytree(hotpot_kb, kb_dir)
    first = atomize_kb(kb_dir, qwen05, embedder, config, questions=3, checkpoint_every=2, limit=3, show_progress=False)
    assert first.chunks_atomized + first.chunks_failed == 3 and first.checkpoints == 2
    assert first.chunks_atomized >= 2
    kb = KnowledgeBase.open(kb_dir)
    index = AtomicIndex.load(kb.component_path(ATOMIC_COMPONENT))
    assert len(index) == first.questions_indexed > 0 and set(index.hashes) <= set(kb.chunks)
    assert all(q.endswith("?") for q in index.questions)
    # a second run (as after a kill) continues with the chunks not yet done
    second = atomize_kb(kb_dir, qwen05, embedder, config, questions=3, checkpoint_every=5, limit=1, show_progress=False)
    assert second.chunks_done_before == first.chunks_atomized and second.chunks_atomized + second.chunks_failed == 1
    # the atomic index is searchable by the agent's tool, pointing back to chunks
    res = AgentResources(KnowledgeBase.open(kb_dir), embedder, config.graph, config.agent)
    tool = AtomicSearchTool(res)
    assert tool.available and any(t.name == "atomic_search" for t in search_tools(res))
    hits = tool.search(index.questions[0], k=3)
    assert hits and hits[0].metadata["atomic_question"] == index.questions[0]
    assert hits[0].metadata["cid"] == int(index.cids[0])
    # incremental: a changed document's chunk loses its questions at the next checkpoint
    changed_cid = int(index.cids[0])
    chunk = KnowledgeBase.open(kb_dir).chunks[changed_cid]
    corpus = tmp_path / "changed.jsonl"
    corpus.write_text(json.dumps({"id": chunk.doc_id, "title": chunk.title, "text": chunk.text + " Changed."}) + "\n")
    ingest(corpus, kb_dir, config, embedder=embedder, show_progress=False)
    atomize_kb(kb_dir, qwen05, embedder, config, questions=3, limit=0, show_progress=False)
    after = AtomicIndex.load(KnowledgeBase.open(kb_dir).component_path(ATOMIC_COMPONENT))
    assert changed_cid not in set(after.cids.tolist())
