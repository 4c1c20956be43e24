"""Metrics against hand-computed cases, including KILT's edge cases."""

from __future__ import annotations

import pytest

from kgsolver.evals.metrics import (
    exact_match,
    f1_score,
    hotpot_f1,
    kilt_scores,
    normalize_answer,
    r_precision,
    recall_at_k,
    title_recall_at_k,
)


def test_normalisation_drops_case_punctuation_articles():
    assert normalize_answer("  The  Eiffel-Tower, an icon! ") == "eiffeltower icon"
    assert exact_match("the Rush", "Rush") == 1.0
    assert exact_match("Rush band", "Rush") == 0.0


def test_f1_hand_computed():
    # pred tokens: [barack, obama, jr]; gold: [barack, obama] -> P=2/3, R=1, F1=0.8
    assert f1_score("Barack Obama Jr.", "Barack Obama") == pytest.approx(0.8)
    # repeated tokens are counted with multiplicity: pred [new, new, york], gold [new, york] -> P=2/3, R=1
    assert f1_score("new new york", "New York") == pytest.approx(0.8)
    assert f1_score("Paris", "London") == 0.0


def test_empty_answers_score_zero():
    assert exact_match("", "Rush") == 0.0
    assert f1_score("", "Rush") == 0.0
    assert f1_score("the", "Rush") == 0.0  # normalises to nothing
    scores = kilt_scores("", ["A"], ["Rush"], [{"A"}])
    assert scores["em"] == scores["f1"] == scores["kilt_em"] == 0.0 and scores["r_precision"] == 1.0


def test_yes_no_answers():
    assert exact_match("Yes.", "yes") == 1.0
    # SQuAD/KILT F1 gives token overlap; HotpotQA's own F1 gives yes/no credit only on an exact match
    assert f1_score("yes it is", "yes") == pytest.approx(0.5)
    assert hotpot_f1("yes it is", "yes") == 0.0
    assert hotpot_f1("no", "no") == 1.0
    assert hotpot_f1("no", "yes") == 0.0


def test_r_precision_best_of_several_gold_sets():
    ranked = ["B", "C", "A", "B", "D"]  # duplicate pages count once: B, C, A, D
    # set {A, B}: R=2, top 2 = [B, C] -> 1/2; set {C}: R=1, top 1 = [B] -> 0; set {B, C, D}: top 3 = B,C,A -> 2/3
    assert r_precision(ranked, [{"A", "B"}, {"C"}]) == pytest.approx(0.5)
    assert r_precision(ranked, [{"A", "B"}, {"C"}, {"B", "C", "D"}]) == pytest.approx(2 / 3)
    assert r_precision(ranked, [{"B", "C"}]) == 1.0
    assert r_precision(ranked, []) == 0.0
    assert r_precision([], [{"A"}]) == 0.0


def test_recall_at_k_needs_a_whole_gold_set():
    ranked = ["B", "C", "B", "A"]
    assert recall_at_k(ranked, [{"A", "B"}], 2) == 0.0
    assert recall_at_k(ranked, [{"A", "B"}], 3) == 1.0  # pages B, C, A (duplicate B counted once)
    assert recall_at_k(ranked, [{"A", "B"}, {"C"}], 2) == 1.0
    assert recall_at_k(ranked, [set()], 5) == 0.0


def test_kilt_em_only_with_perfect_r_precision():
    good = kilt_scores("Rush", ["Nobody's Hero", "Neil Peart"], ["Rush", "Rush (band)"],
                       [{"Nobody's Hero", "Neil Peart"}], ks=(1, 2))
    assert good == {"em": 1.0, "f1": 1.0, "r_precision": 1.0, "kilt_em": 1.0, "kilt_f1": 1.0,
                    "recall@1": 0.0, "recall@2": 1.0}
    half = kilt_scores("Rush band", ["Nobody's Hero", "Toronto"], ["Rush"], [{"Nobody's Hero", "Neil Peart"}])
    assert half["em"] == 0.0 and half["f1"] == pytest.approx(2 / 3) and half["r_precision"] == 0.5
    assert half["kilt_em"] == 0.0 and half["kilt_f1"] == 0.0
    # a second gold provenance set that is fully retrieved gives KILT credit
    alt = kilt_scores("Rush", ["Toronto"], ["Rush"], [{"Nobody's Hero", "Neil Peart"}, {"Toronto"}])
    assert alt["kilt_em"] == 1.0


def test_supporting_title_recall_partial_credit():
    assert title_recall_at_k(["A", "X", "B"], {"A", "B"}, 2) == 0.5
    assert title_recall_at_k(["A", "X", "B"], {"A", "B"}, 3) == 1.0
    assert title_recall_at_k(["A"], set(), 3) == 0.0
