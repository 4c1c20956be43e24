"""An atomize checkpoint taken before any chunk has its questions (an empty progress log) commits an empty atomic
index, which loads and searches to nothing; before the fix the empty index failed to build (numpy cannot infer the
width of a zero-row reshape) and the checkpoint crashed."""

from __future__ import annotations

import numpy as np

from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.corpus_documents import SourceDocument
from kgsolver.pipeline.config import KGSolverConfig
from kgsolver.pipeline.kb.atomic_index import AtomicIndex, read_atomic
from kgsolver.pipeline.kb.atomize_job import PROGRESS, checkpoint
from kgsolver.pipeline.kb.engine import Processed
from kgsolver.pipeline.kb.ingest import ingest_documents
from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase
from tests.unit.fakes import HashingEmbedder


def one_chunk_engine(changed, embedder, config, show_progress, kb) -> Processed:
    chunks = [Chunk(f"{d.id}#0", d.id, d.title, d.text, 0, len(d.text)) for d in changed]
    return Processed(chunks, embedder.encode([c.indexed_text() for c in chunks]))


def test_an_index_of_no_questions_keeps_its_width_and_round_trips(tmp_path):
    index = AtomicIndex([], [], np.zeros((0, 8), dtype=np.float32))
    assert len(index) == 0 and index.vectors.shape == (0, 8)
    index.save(tmp_path / "atomic")
    loaded = AtomicIndex.load(tmp_path / "atomic")
    assert len(loaded) == 0 and loaded.vectors.shape == (0, 8)
    assert loaded.search(np.ones(8, dtype=np.float32), 5) == []
    assert loaded.restricted(np.zeros(0, dtype=bool)) is loaded


def test_a_checkpoint_with_an_empty_progress_log_commits_an_empty_index(tmp_path):
    config = KGSolverConfig(graph={"extractor": "none"})
    embedder = HashingEmbedder()
    documents = [SourceDocument(id="a", title="A", text="Alpha is a town."),
                 SourceDocument(id="b", title="B", text="Beta is a river.")]
    ingest_documents(documents, tmp_path, config, embedder=embedder, show_progress=False, engine=one_chunk_engine)
    (tmp_path / PROGRESS).parent.mkdir(exist_ok=True)
    (tmp_path / PROGRESS).write_text("", encoding="utf-8")
    assert checkpoint(tmp_path, embedder, config) == 0
    index = read_atomic(KnowledgeBase.open(tmp_path))
    assert index is not None and len(index) == 0
    assert index.search(embedder.encode(["Alpha"])[0], 3) == []
