"""Letter-bias corrections (evals/suites/choice_bias.py) on given option scores: no model involved."""

from __future__ import annotations

import math

import pytest

from kgsolver.evals.suites.choice_bias import (
    averaged,
    best,
    calibrated,
    choose_option,
    letter_distribution,
    marginal_prior,
    mixed,
    normalised,
    rotated,
    rotations,
    unrotated,
)

LOG = math.log


def test_normalised_renormalises_over_the_options_only():
    probs = normalised({"A": LOG(0.3), "B": LOG(0.1), "C": LOG(0.1)})  # 0.5 of the mass went to other tokens
    assert probs == pytest.approx({"A": 0.6, "B": 0.2, "C": 0.2})


def test_raw_choice_is_the_highest_score_and_a_tie_goes_to_the_first_listed():
    assert best({"A": -2.0, "B": -0.5, "C": -1.0}) == "B"
    assert best({"D": -1.0, "A": -1.0}) == "D"
    assert choose_option({"A": -2.0, "B": -0.5}, None) == "B"


def test_content_free_prior_turns_a_letter_the_model_always_favours_into_the_option_that_rose():
    # The model puts 0.7 on A for an empty question; here A is 0.55 and C 0.25: A fell, C rose from 0.1.
    prior = {"A": 0.7, "B": 0.1, "C": 0.1, "D": 0.1}
    scores = {"A": LOG(0.55), "B": LOG(0.1), "C": LOG(0.25), "D": LOG(0.1)}
    assert best(scores) == "A"
    assert choose_option(scores, prior) == "C"
    assert calibrated(scores, prior)["C"] == pytest.approx(LOG(0.25 / 0.1))


def test_a_uniform_prior_changes_nothing():
    scores = {"A": -1.2, "B": -0.4, "C": -3.0, "D": -2.2}
    assert choose_option(scores, {k: 0.25 for k in scores}) == best(scores) == "B"


def test_a_prior_without_mass_on_an_option_is_refused():
    with pytest.raises(ValueError, match="no mass"):
        calibrated({"A": -1.0, "B": -1.0}, {"A": 1.0, "B": 0.0})


def test_marginal_prior_is_the_mean_letter_distribution_of_the_calibration_part():
    rows = [{"yes": LOG(0.8), "no": LOG(0.2)}, {"yes": LOG(0.6), "no": LOG(0.4)}]
    assert marginal_prior(rows) == pytest.approx({"yes": 0.7, "no": 0.3})
    # with it, a 0.6 'yes' (below the usual 0.7) becomes 'no'
    assert choose_option({"yes": LOG(0.6), "no": LOG(0.4)}, marginal_prior(rows)) == "no"
    with pytest.raises(ValueError):
        marginal_prior([])


def test_letter_distribution_lists_every_letter_and_no_answers():
    assert letter_distribution(["A", "A", "C", ""], "ABCD") == {"A": 2, "B": 0, "C": 1, "D": 0, "": 1}


def test_mixed_weights_the_closed_book_distribution_against_the_passage_conditioned_one():
    # Passages lean a little to B; the model's own knowledge leans hard to A.
    context = {"A": LOG(0.3), "B": LOG(0.4), "C": LOG(0.2), "D": LOG(0.1)}
    parametric = {"A": LOG(0.7), "B": LOG(0.1), "C": LOG(0.1), "D": LOG(0.1)}
    assert best(mixed(context, parametric, 0.0)) == best(context) == "B"
    assert best(mixed(context, parametric, 1.0)) == best(parametric) == "A"
    assert best(mixed(context, parametric, 0.7)) == "A"
    # A - B = (1 - w) log(0.3/0.4) + w log(0.7/0.1): B keeps it only below w = 0.129
    assert best(mixed(context, parametric, 0.1)) == "B"
    assert best(mixed(context, parametric, 0.15)) == "A"
    assert mixed(context, parametric, 0.5)["A"] == pytest.approx(0.5 * LOG(0.3) + 0.5 * LOG(0.7))


def test_mixed_renormalises_each_distribution_over_the_options_first():
    context = {"A": LOG(0.2), "B": LOG(0.2)}  # 0.6 of the mass went to other tokens
    parametric = {"A": LOG(0.9), "B": LOG(0.1)}
    assert mixed(context, parametric, 0.5)["A"] == pytest.approx(0.5 * LOG(0.5) + 0.5 * LOG(0.9))


def test_mixed_refuses_a_weight_outside_0_1_and_different_options():
    with pytest.raises(ValueError, match="outside"):
        mixed({"A": -1.0}, {"A": -1.0}, 1.5)
    with pytest.raises(ValueError, match="different options"):
        mixed({"A": -1.0, "B": -2.0}, {"A": -1.0, "C": -2.0}, 0.5)


OPTIONS = {"A": "shark", "B": "trout", "C": "whale", "D": "eel"}


def test_rotations_are_evenly_spaced_and_bounded_by_the_options():
    assert rotations(4, 1) == [0] and rotations(4, 2) == [0, 2] and rotations(4, 4) == [0, 1, 2, 3]
    assert rotations(3, 3) == [0, 1, 2] and rotations(3, 4) == [0, 1, 2]  # more than the options: every rotation
    with pytest.raises(ValueError, match="choose 1 or more"):
        rotations(4, 0)


def test_rotated_moves_the_texts_over_the_letters():
    assert rotated(OPTIONS, 0) == OPTIONS
    assert rotated(OPTIONS, 1) == {"A": "trout", "B": "whale", "C": "eel", "D": "shark"}


def score_by(weights: dict[str, float], options: dict[str, str]) -> dict[str, float]:
    """A fake model's letter scores: each letter's weight from its text, or from the letter itself."""
    return {letter: LOG(weights.get(text, weights.get(letter, 0.0))) for letter, text in options.items()}


def test_unrotated_gives_each_option_its_own_score_back_whatever_letter_it_had():
    by_text = {"shark": 0.1, "trout": 0.1, "whale": 0.7, "eel": 0.1}  # a model that reads only the texts
    for shift in range(4):
        back = unrotated(score_by(by_text, rotated(OPTIONS, shift)), list(OPTIONS), shift)
        assert back == pytest.approx({k: LOG(by_text[t]) for k, t in OPTIONS.items()})


def test_averaging_over_every_rotation_cancels_a_pure_letter_preference():
    by_letter = {"A": 0.55, "B": 0.15, "C": 0.15, "D": 0.15}  # a model that answers A, whatever the options
    per = [unrotated(score_by(by_letter, rotated(OPTIONS, s)), list(OPTIONS), s) for s in rotations(4, 4)]
    assert best(per[0]) == "A"
    assert len(set(round(v, 9) for v in averaged(per).values())) == 1
    # A weak content signal under a strong letter preference: one pass picks A, the average picks the content.
    mixed_model = {"A": 0.45, "B": 0.15, "C": 0.15, "D": 0.15}
    scores = []
    for s in rotations(4, 4):
        shown = rotated(OPTIONS, s)
        weights = {letter: mixed_model[letter] * (1.5 if text == "whale" else 1.0) for letter, text in shown.items()}
        scores.append(unrotated({k: LOG(v) for k, v in weights.items()}, list(OPTIONS), s))
    assert best(scores[0]) == "A" and best(averaged(scores)) == "C"


def test_the_default_rotations_of_two_prompts_fit_the_default_call_budget():
    from kgsolver.evals.run_config import EvalConfig

    config = EvalConfig()
    assert config.choice.permutations > 1  # chosen on the choice parts (docs/RESULTS.md)
    assert config.budget.max_llm_calls >= 2  # rag+closed-book: two prompts, one scored call each for all rotations
