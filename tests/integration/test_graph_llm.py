"""The LLM extractor over the real local Qwen2.5-Coder-0.5B through the gateway (JSON-constrained)."""

from __future__ import annotations

import pytest

from kgsolver.connectors.graph_stores import normalize_name
from kgsolver.graphs.extract_llm import LLMExtractor

PASSAGES = [
    (11, "Neil Peart", "Neil Peart was a Canadian musician. Neil Peart was the drummer of the rock band Rush."),
    (12, "Metformin", "Metformin is a medication used to treat type 2 diabetes."),
]


@pytest.mark.llm
def test_llm_extractor_grounded_triples_and_resume(qwen05, tmp_path):
    checkpoint = tmp_path / "extract.jsonl"
    session = qwen05.session()
    batch = LLMExtractor(session, batch_chunks=2, checkpoint=checkpoint).extract(PASSAGES)
    assert session.usage.llm_calls >= 1
    assert batch.relations, "the model found no grounded triple"
    texts = {cid: normalize_name(text) for cid, _, text in PASSAGES}
    names = {e.id: e.name for e in batch.entities}
    for rel in batch.relations:
        assert len(rel.chunks) == 1 and rel.chunks[0] in texts
        assert normalize_name(names[rel.subject]) in texts[rel.chunks[0]]
        assert normalize_name(names[rel.object]) in texts[rel.chunks[0]]
    resumed_session = qwen05.session()
    again = LLMExtractor(resumed_session, batch_chunks=2, checkpoint=checkpoint).extract(PASSAGES)
    assert resumed_session.usage.llm_calls == 0  # everything came from the checkpoint
    assert [r.key for r in again.relations] == [r.key for r in batch.relations]


@pytest.mark.llm
def test_llm_extractor_allowed_relation_types_filter(qwen05):
    extractor = LLMExtractor(qwen05.session(), relation_types=["treats"], max_tokens=384)
    batch = extractor.extract(PASSAGES[1:])
    assert extractor.failed == [] and all(r.predicate == "treats" for r in batch.relations)
