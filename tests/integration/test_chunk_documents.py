"""Hits become LangChain Documents through one batched read (`retrievers.base.chunk_documents`): the retrievers and
the agent's search tools read their hits' chunks with one SQLite statement per segment store, not one per hit, and
the Documents are the hits in order, with the chunk's fields and the tool's own metadata."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from kgsolver.pipeline.multihop import AgentResources
from kgsolver.pipeline.multihop.tools import NeighbourhoodTool, PageRankTool, bm25_search, dense_search
from kgsolver.pipeline.retrieval import BM25Retriever, DenseRetriever, HybridRetriever, chunk_documents

QUESTION = "Who was the drummer and lyricist of the Canadian rock band Rush?"


@contextmanager
def _statements(kb: KnowledgeBase) -> Iterator[list[str]]:
    """The chunk reads by row the knowledge base's stores run meanwhile (SQLite's own trace of the real stores; a
    tool's other lookups, such as a document's chunk ids, are left out)."""
    seen: list[str] = []
    stores = [s.store for s in kb.segment_set.segments]
    for store in stores:
        store._db.set_trace_callback(lambda sql: seen.append(sql) if "WHERE row IN" in sql else None)
    try:
        yield seen
    finally:
        for store in stores:
            store._db.set_trace_callback(None)


def _matches_chunks(kb: KnowledgeBase, docs, hits, retriever: str) -> None:
    """Each Document is its hit's chunk, in the hits' order, with the hit's score."""
    assert [d.metadata["cid"] for d in docs] == [cid for cid, _ in hits]
    for doc, (cid, score) in zip(docs, hits, strict=True):
        chunk = kb.chunks[cid]
        assert doc.page_content == chunk.text and doc.id == chunk.chunk_id
        assert (doc.metadata["chunk_id"], doc.metadata["doc_id"], doc.metadata["title"]) == \
            (chunk.chunk_id, chunk.doc_id, chunk.title)
        assert (doc.metadata["start"], doc.metadata["end"]) == (chunk.start, chunk.end)
        assert doc.metadata["score"] == pytest.approx(score) and doc.metadata["retriever"] == retriever


@pytest.mark.parametrize("name", ["dense", "bm25", "hybrid"])
def test_a_retriever_reads_its_hits_in_one_statement_per_store(demo_kb, embedder, name):
    kb = KnowledgeBase.open(demo_kb)  # fresh: nothing cached
    dense, bm25 = DenseRetriever(kb=kb, embedder=embedder, k=8), BM25Retriever(kb=kb, k=8)
    retriever = {"dense": dense, "bm25": bm25, "hybrid": HybridRetriever(kb=kb, k=8, retrievers=[dense, bm25])}[name]
    hits = retriever.scored_ids([QUESTION], 8)[0]
    with _statements(kb) as seen:
        docs = retriever.invoke(QUESTION)
    assert len(docs) == 8 and len(seen) <= len(kb.segment_set.segments) < len(docs)
    _matches_chunks(kb, docs, hits, name)


@pytest.mark.parametrize("make", [dense_search, bm25_search, PageRankTool, NeighbourhoodTool])
def test_the_agent_tools_read_their_hits_in_one_statement_per_store(hotpot_kb, embedder, config, make):
    question = "Which magazine was started first?"
    seeds = dense_search(AgentResources(KnowledgeBase.open(hotpot_kb), embedder, config.graph, config.agent)).search(
        question, k=3)
    resources = AgentResources(KnowledgeBase.open(hotpot_kb), embedder, config.graph, config.agent)  # nothing cached
    tool, kb = make(resources), resources.kb
    with _statements(kb) as seen:
        docs = tool.search(question, seeds=seeds, k=6)
    assert len(docs) > 1 and len(seen) <= len(kb.segment_set.segments) < len(docs)
    _matches_chunks(kb, docs, [(d.metadata["cid"], d.metadata["score"]) for d in docs], tool.name)
    if tool.name == "neighbourhood":
        assert all(d.metadata["via"] for d in docs)


def test_extras_go_to_their_own_hit_and_an_unknown_id_is_an_error(demo_kb):
    kb = KnowledgeBase.open(demo_kb)
    cids = list(kb.chunks)[:3]
    hits = [(cids[2], 0.9), (cids[0], 0.5), (cids[1], 0.1)]
    docs = chunk_documents(kb, hits, "tool", [{"via": "c"}, {"via": "a"}, {"via": "b"}])
    assert [d.metadata["via"] for d in docs] == ["c", "a", "b"]
    _matches_chunks(kb, docs, hits, "tool")
    with pytest.raises(KeyError, match=str(10**9)):
        chunk_documents(kb, [(cids[0], 1.0), (10**9, 0.5)], "tool")
