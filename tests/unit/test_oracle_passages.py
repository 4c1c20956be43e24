"""Gold-passage selection of the oracle condition (hotpotqa, kilt-hotpotqa) on hand-made records."""

from __future__ import annotations

import pytest

from kgsolver.evals.suites.common import oracle_documents
from kgsolver.evals.suites.hotpotqa import gold_passages
from kgsolver.evals.suites.kilt_hotpotqa import gold_pages

RECORD = {
    "_id": "q1",
    "context": [["Distractor", ["Not this. ", "Nor this."]],
                ["Neil Peart", ["Neil Peart was the drummer ", "of Rush."]],
                ["Counterparts", ["Counterparts is an album ", "by Rush. "]]],
    # hop order: the album first, the drummer second; a title named twice is given once
    "supporting_facts": [["Counterparts", 0], ["Neil Peart", 0], ["Counterparts", 1]],
}


def test_hotpotqa_gold_passages_are_the_supporting_paragraphs_in_hop_order():
    assert gold_passages(RECORD) == [{"title": "Counterparts", "text": "Counterparts is an album by Rush."},
                                     {"title": "Neil Peart", "text": "Neil Peart was the drummer of Rush."}]


def test_hotpotqa_supporting_title_missing_from_the_context_is_named():
    broken = {**RECORD, "supporting_facts": [["Geddy Lee", 0]]}
    with pytest.raises(ValueError, match="q1.*Geddy Lee"):
        gold_passages(broken)


def test_kilt_gold_pages_follow_the_first_provenance_in_order():
    corpus = {"Nobody's Hero": "A song by Rush.", "Neil Peart": "The drummer.", "Other": "x"}
    record = {"id": "k1", "output": [{"answer": "Rush"},  # an answer without provenance is skipped
                                     {"answer": "Rush", "provenance": [{"title": "Neil Peart"},
                                                                       {"title": "Nobody's Hero"},
                                                                       {"title": "Neil Peart"}]},
                                     {"answer": "Rush", "provenance": [{"title": "Other"}]}]}
    assert gold_pages(record, corpus) == ([{"title": "Neil Peart", "text": "The drummer."},
                                           {"title": "Nobody's Hero", "text": "A song by Rush."}], [])
    # a gold page the corpus lacks is named, and the pages it has are still given
    partial = {"id": "k1", "output": [{"provenance": [{"title": "Missing"}, {"title": "Other"}]}]}
    assert gold_pages(partial, corpus) == ([{"title": "Other", "text": "x"}], ["Missing"])


def test_oracle_documents_are_distinct_pages_the_answer_step_can_cite():
    docs = oracle_documents(gold_passages(RECORD))
    assert [d.metadata["title"] for d in docs] == ["Counterparts", "Neil Peart"]
    assert len({d.metadata["chunk_id"] for d in docs}) == 2 and docs[1].page_content.startswith("Neil Peart was")
