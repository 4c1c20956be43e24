"""The pure decision rules: the preference policies' decide_* (which candidate answer wins) and the KG walk's hop
scoring (hop_policy.combine). No model: candidates are built by hand."""

from __future__ import annotations

import numpy as np
import pytest
from langchain_core.documents import Document

from kgsolver.pipeline.answer.preference import Candidates, GroundedCandidate, ParametricAnswer
from kgsolver.pipeline.answer.preference.context_only import decide_context_only
from kgsolver.pipeline.answer.preference.hierarchical import decide_hierarchical
from kgsolver.pipeline.answer.preference.tagged import decide_tagged
from kgsolver.pipeline.config import PreferenceSettings
from kgsolver.pipeline.multihop.hop_policy import combine

SETTINGS = PreferenceSettings()  # parametric_min_confidence 50, verify_tag "[LLM: verify]"
PASSAGE = Document("Marie Curie was born in Warsaw.", metadata={"doc_id": "curie"})


def cands(user=None, context=None, parametric=None, confidence=90, relevant=True) -> Candidates:
    return Candidates(user=GroundedCandidate(user, [PASSAGE], "user") if user else None,
                      context=GroundedCandidate(context, [PASSAGE]) if context is not None else None,
                      parametric=ParametricAnswer(parametric, confidence, 10) if parametric else None,
                      context_relevant=relevant)


def test_user_facts_outrank_context_and_parametric_and_the_conflict_is_reported():
    out = decide_hierarchical(cands(user="Lisbon", context="Warsaw", parametric="Warsaw"), SETTINGS)
    assert out.answer == "Lisbon" and out.preference.source_used == "user" and out.preference.conflict


def test_context_outranks_parametric_and_agreement_is_no_conflict():
    out = decide_hierarchical(cands(context="Warsaw", parametric="Paris"), SETTINGS)
    assert (out.answer, out.preference.source_used, out.preference.conflict) == ("Warsaw", "context", True)
    assert out.cited == [PASSAGE]
    agree = decide_hierarchical(cands(context="Warsaw", parametric="warsaw"), SETTINGS)
    assert agree.answer == "Warsaw" and not agree.preference.conflict


def test_parametric_fallback_depends_on_relevance_and_confidence():
    # nothing relevant retrieved: the closed-book answer is used, whatever its self-rating
    out = decide_hierarchical(cands(context=None, parametric="Warsaw", confidence=10, relevant=False), SETTINGS)
    assert out.answer == "Warsaw" and out.preference.source_used == "parametric"
    # relevant passages that do not answer: only a confident closed-book answer is used
    unsure = decide_hierarchical(cands(context=None, parametric="Warsaw", confidence=49), SETTINGS)
    assert unsure.answer is None and unsure.preference.source_used == "none"
    sure = decide_hierarchical(cands(context=None, parametric="Warsaw", confidence=50), SETTINGS)
    assert sure.answer == "Warsaw"


def test_context_only_never_answers_from_the_model():
    out = decide_context_only(cands(context=None, parametric="Warsaw", relevant=False), SETTINGS)
    assert out.answer is None and out.preference.policy == "context_only"
    assert decide_context_only(cands(context="Warsaw"), SETTINGS).answer == "Warsaw"


def test_tagged_marks_a_parametric_answer_even_when_unsure():
    out = decide_tagged(cands(context=None, parametric="Warsaw", confidence=0), SETTINGS)
    assert out.answer == "Warsaw [LLM: verify]" and out.preference.source_used == "parametric"


def test_hop_combine_weighs_the_llm_pick_against_the_embedding():
    emb = np.array([0.2, 0.9, 0.5])
    assert combine(emb, None, "combine", 0.5).argmax() == 1  # no pick: the embedding decides
    assert combine(emb, 2, "combine", 0.6).argmax() == 2  # a heavy LLM weight wins
    assert combine(emb, 0, "combine", 0.3).argmax() == 1  # a light one does not beat the best match
    assert combine(emb, 0, "llm", 0.0).argmax() == 0  # llm: the pick first, whatever the weight
    assert combine(emb, 7, "llm", 0.5).argmax() == 1  # an invalid pick falls back to the embedding
    assert combine(emb, 0, "embedding", 1.0).argmax() == 1  # embedding: the pick is ignored
    assert np.allclose(combine(np.array([0.4, 0.4]), None, "combine", 0.5), [0.5, 0.5])  # flat scores stay equal
    with pytest.raises(ValueError, match="combine"):
        combine(emb, 0, "vote", 0.5)
