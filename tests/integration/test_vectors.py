"""The query path encodes each text once and reuses what ingest stored: chunk vectors from faiss, sentence vectors
from the sentence index (issue 15)."""

import shutil

import numpy as np
import pytest

from kgsolver.connectors.chunk_store import Chunk
from kgsolver.connectors.llms.gateway import Budget
from kgsolver.connectors.text import split_sentences
from kgsolver.pipeline.kb.sentence_index import SentenceIndex, titled_sentence
from kgsolver.pipeline.retrieval import TextMemo, document_vectors, sentence_vectors
from kgsolver.pipeline.solver import Solver


class CountingEmbedder:
    """Wraps the real embedder and records every text it is asked to encode."""

    def __init__(self, inner):
        self.inner, self.name, self.dimensions = inner, inner.name, inner.dimensions
        self.tokenizer = inner.tokenizer
        self.texts: list[str] = []

    def encode(self, texts, *, batch_size=None):
        self.texts += list(texts)
        return self.inner.encode(texts)

    def count_tokens(self, text):
        return self.inner.count_tokens(text)


def test_memo_encodes_each_text_once(embedder):
    counting = CountingEmbedder(embedder)
    memo = TextMemo(counting, size=2)
    first = memo.encode(["a cat", "a dog", "a cat"])
    again = memo.encode(["a dog"])
    assert counting.texts == ["a cat", "a dog"]
    assert np.allclose(first[1], again[0]) and np.allclose(first[0], first[2])
    memo.encode(["a bird"])  # over the size: the least recently used ("a cat") goes
    memo.encode(["a cat"])
    assert counting.texts[-1] == "a cat" and len(counting.texts) == 4


def test_sentence_index_keeps_survivors_and_adds_new(embedder):
    chunks = {1: Chunk("c1", "d1", "Marie Curie", "She was born in Warsaw. She won two Nobel prizes.", 0, 10),
              2: Chunk("c2", "d2", "", "Paris is in France.", 0, 10)}
    index = SentenceIndex.empty(embedder.dimensions).updated({1, 2}, chunks, embedder)
    expected = embedder.encode([titled_sentence("Marie Curie", "She won two Nobel prizes.")])[0]
    assert index.of_chunk(1).shape == (2, embedder.dimensions) and index.of_chunk(3) is None
    assert float(index.of_chunk(1)[1] @ expected) > 0.999  # float16 on disk, the same vector
    counting = CountingEmbedder(embedder)
    later = index.updated({2}, {5: Chunk("c5", "d5", "", "One. Two.", 0, 4)}, counting)
    assert later.of_chunk(1) is None and np.allclose(later.of_chunk(2), index.of_chunk(2))
    assert counting.texts == ["One.", "Two."]  # only the new chunk's sentences were encoded


@pytest.mark.slow
def test_a_question_encodes_only_itself(demo_kb, embedder, config, tmp_path):
    kb = tmp_path / "kb"
    shutil.copytree(demo_kb, kb)
    counting = CountingEmbedder(embedder)
    solver = Solver(kb, config, embedder=counting)
    question = "Which Canadian rock band released a song called Counterparts?"
    result = solver.ask(question, budget=Budget(max_llm_calls=0))
    assert result.trace and counting.texts == [question], counting.texts[:5]
    # The stored vectors are the ones a fresh encoding would give.
    docs = solver.retriever().invoke(question)
    stored = document_vectors(solver.vectors, docs)
    fresh = embedder.encode([f"{d.metadata['title']}\n{d.page_content}" for d in docs])
    assert np.allclose(stored, fresh, atol=1e-4)
    sentences = split_sentences(docs[0].page_content)
    fresh = embedder.encode([titled_sentence(docs[0].metadata["title"], s) for s in sentences])
    assert np.allclose(sentence_vectors(solver.vectors, docs[0], sentences), fresh, atol=2e-3)
    assert set(solver.kb.sentences.chunk_ids().tolist()) == set(solver.kb.chunks)  # every segment stored its own


@pytest.mark.slow
def test_a_question_reuses_the_sentence_splits_ingest_stored(demo_kb, embedder, config, tmp_path, monkeypatch):
    """The filters cut stored chunks at the spans ingest kept; the splitter (spaCy, over a second to import on a cold
    question) is not run on the query path."""
    import kgsolver.connectors.text as text

    kb = tmp_path / "kb"
    shutil.copytree(demo_kb, kb)
    solver = Solver(kb, config, embedder=embedder)
    question = "Which Canadian rock band released a song called Counterparts?"
    docs = solver.retriever().invoke(question)
    expected = {d.metadata["cid"]: split_sentences(d.page_content) for d in docs}
    assert all(solver.vectors.sentences.sentences_of(int(cid), d.page_content) == expected[cid]
               for cid, d in zip(expected, docs, strict=True))

    def no_splitting():
        raise AssertionError("the query path ran the sentence splitter")

    monkeypatch.setattr(text, "_sentencizer", no_splitting)
    result = solver.ask(question, budget=Budget(max_llm_calls=0))
    assert {"filter:consistency", "filter:brevity", "filter:instruction_guard"} <= {s.tool for s in result.trace}


def test_a_pooled_knowledge_base_records_its_way_and_keeps_it(embedder, config, tmp_path):
    """Issue 35: sentence vectors pooled from the chunk pass, near the encoded ones; the manifest says so, and a later
    ingest with the default setting adds pooled ones too, with a note, so every sentence compares alike."""
    from kgsolver.pipeline.kb.ingest import ingest
    from kgsolver.pipeline.kb.knowledge_base import KnowledgeBase

    corpus = tmp_path / "c.jsonl"
    corpus.write_text('{"id": "a", "title": "Marie Curie", "text": "She was born in Warsaw. She won two Nobel '
                      'prizes."}\n')
    pooled = config.model_copy(deep=True)
    pooled.embedder.sentence_vectors, pooled.graph.extractor = "pooled", "none"
    ingest(corpus, tmp_path / "kb", pooled, embedder=embedder, show_progress=False)
    corpus.write_text('{"id": "b", "title": "Warsaw", "text": "Warsaw is the capital of Poland."}\n')
    plain = config.model_copy(deep=True)
    plain.graph.extractor = "none"
    report = ingest(corpus, tmp_path / "kb", plain, embedder=embedder, show_progress=False)
    assert any("made pooled" in note for note in report.notes)
    kb = KnowledgeBase.open(tmp_path / "kb")
    assert kb.manifest["embedder"]["sentence_vectors"] == "pooled"
    assert {s.sentences.method for s in kb.segment_set.segments} == {"pooled"}
    for cid in kb.sentences.chunk_ids().tolist():
        chunk = kb.chunks[cid]
        encoded = embedder.encode([titled_sentence(chunk.title, s) for s in split_sentences(chunk.text)])
        assert (np.sum(kb.sentences.of_chunk(cid) * encoded, axis=1) > 0.6).all()
