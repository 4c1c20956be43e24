"""Scored multiple choice with the real 0.5B: letter log-probabilities through the gateway (counted, cached), the
same choice the JSON-constrained letter makes, and the content-free prior the correction divides by."""

from __future__ import annotations

import math

import pytest

from kgsolver.evals.run_config import EvalConfig
from kgsolver.evals.suites.choice_bias import averaged, best, mixed, normalised, rotated, unrotated
from kgsolver.evals.suites.common import REPLY_PREFIX, ScoredChoice, choice_messages, choose
from kgsolver.pipeline.solver import Solver

OPTIONS = {"A": "a shark", "B": "a trout", "C": "a whale", "D": "an eel"}


def one_pass(config):
    """The configuration (as an eval's, with the choice settings) with each prompt scored once, options as listed
    (the default rotates them)."""
    config = EvalConfig.of(config)
    return config.model_copy(update={"choice": config.choice.model_copy(update={"permutations": 1})})


@pytest.mark.llm
def test_letter_scores_are_counted_cached_and_agree_with_the_generated_letter(tmp_path, config, embedder, qwen05):
    messages = choice_messages("Which of these is a mammal?", OPTIONS, None)
    first = qwen05.session()
    scores = first.score_next([messages], list(OPTIONS), purpose="test", prefix=REPLY_PREFIX)[0]
    assert set(scores) == set(OPTIONS) and all(v < 0 for v in scores.values())
    assert 0.5 < sum(math.exp(v) for v in scores.values()) <= 1.0  # the letters take most of the next-token mass
    assert first.usage.llm_calls == 1 and first.usage.prompt_tokens > 50 and first.usage.completion_tokens == 0
    again = qwen05.session()
    assert again.score_next([messages], list(OPTIONS), purpose="test", prefix=REPLY_PREFIX) == [scores]
    assert again.usage.cache_hits == 1

    solver = Solver(tmp_path / "no-kb", one_pass(config), embedder=embedder, gateway=qwen05)
    generated = choose(solver, "Which of these is a mammal?", OPTIONS, None, purpose="test")["prediction"]
    raw = ScoredChoice("none")(solver, "Which of these is a mammal?", OPTIONS, None, purpose="test")
    assert raw["prediction"] == raw["prediction_raw"] == generated == max(scores, key=scores.get)


@pytest.mark.llm
def test_content_free_choice_divides_by_the_models_letter_prior(tmp_path, config, embedder, qwen05):
    solver = Solver(tmp_path / "no-kb", one_pass(config), embedder=embedder, gateway=qwen05)
    chooser = ScoredChoice("content_free")
    out = chooser(solver, "Which of these is a mammal?", OPTIONS, None, purpose="test")
    prior = out["prior"]
    assert set(prior) == set(OPTIONS) and sum(prior.values()) == pytest.approx(1.0)
    assert max(prior.values()) > 0.3  # the 0.5B is not indifferent to letters with nothing to read
    adjusted = {k: out["letter_logprobs"][k] - math.log(prior[k]) for k in OPTIONS}
    assert out["prediction"] == max(adjusted, key=adjusted.get) and out["usage"]["llm_calls"] == 1
    calls = qwen05.total.llm_calls
    chooser(solver, "Which of these is a fish?", OPTIONS, None, purpose="test")
    assert qwen05.total.llm_calls == calls + 1  # the prior is scored once per prompt shape, then kept


@pytest.mark.llm
def test_rag_plus_closed_book_mixes_the_two_letter_distributions(tmp_path, config, embedder, qwen05):
    def solver_weighing(weight: float) -> Solver:
        once = one_pass(config)
        weighed = once.model_copy(update={"choice": once.choice.model_copy(update={"parametric_weight": weight})})
        return Solver(tmp_path / "no-kb", weighed, embedder=embedder, gateway=qwen05)

    solver = solver_weighing(0.7)
    question, misleading = "Which of these is a mammal?", ["Sharks are mammals: every shark is a mammal."]
    chooser = ScoredChoice("none")
    closed = chooser(solver, question, OPTIONS, None, purpose="test")
    alone = chooser(solver, question, OPTIONS, misleading, purpose="test")
    assert "parametric_logprobs" not in alone and alone["usage"]["llm_calls"] == 1

    both = chooser(solver, question, OPTIONS, misleading, purpose="test", with_closed_book=True)
    # The two prompts are the other conditions' own: both scores come from the response cache, none is recomputed.
    assert both["usage"]["llm_calls"] == both["usage"]["cache_hits"] == 2
    assert both["letter_logprobs"] == alone["letter_logprobs"]
    assert both["parametric_logprobs"] == closed["letter_logprobs"]
    expected = mixed(alone["letter_logprobs"], closed["letter_logprobs"], 0.7)
    assert both["prediction"] == max(expected, key=expected.get)
    ends = [chooser(solver_weighing(w), question, OPTIONS, misleading, purpose="test", with_closed_book=True)
            ["prediction"] for w in (0.0, 1.0)]
    assert ends == [alone["prediction"], closed["prediction"]]
    assert alone["prediction"] != closed["prediction"]  # the passage moved the choice, so the weight has work to do


@pytest.mark.llm
def test_rotated_options_are_scored_in_one_call_that_evaluates_their_shared_head_once(tmp_path, config, embedder,
                                                                                      qwen05):
    question, letters = "Which of these is a mammal?", list(OPTIONS)
    once = Solver(tmp_path / "no-kb", one_pass(config), embedder=embedder, gateway=qwen05)
    plain = ScoredChoice("none")(once, question, OPTIONS, None, purpose="test")
    lifted = EvalConfig.of(config)
    rotating = lifted.model_copy(update={"choice": lifted.choice.model_copy(update={"permutations": 4})})
    solver = Solver(tmp_path / "no-kb", rotating, embedder=embedder, gateway=qwen05)
    out = ScoredChoice("none")(solver, question, OPTIONS, None, purpose="test")
    per = out["rotation_logprobs"]
    assert out["usage"]["llm_calls"] == 1 and len(per) == 4
    # The head (system prompt, question) is evaluated once, the four option blocks each: well under four prompts.
    assert out["usage"]["prompt_tokens"] < 3 * plain["usage"]["prompt_tokens"]
    assert out["letter_logprobs"] == pytest.approx(averaged(per)) and out["prediction"] == best(averaged(per))
    # Split at the head, a prompt's scores are its scores alone up to rounding (the same computation batched apart).
    alone = normalised(unrotated(plain["letter_logprobs"], letters, 0))
    assert normalised(per[0]) == pytest.approx(alone, abs=0.05)
    assert best(per[0]) == best(alone) and per[1] != per[0]  # another rotation is another prompt

    # The scores are the group's own: the same after the context held another prompt, and a subset scores as the
    # whole group scored it (the head is cut at a line, the same for any two rotations).
    model = qwen05.backend.model
    prompts = [choice_messages(question, rotated(OPTIONS, shift), None) for shift in range(4)]
    first, _ = model.next_token_logprobs(prompts, letters, REPLY_PREFIX)
    assert [unrotated(scores, letters, shift) for shift, scores in enumerate(first)] == per
    model.next_token_logprobs([choice_messages("Which of these is a fish?", OPTIONS, None)], letters, REPLY_PREFIX)
    assert model.next_token_logprobs(prompts, letters, REPLY_PREFIX)[0] == first
    assert model.next_token_logprobs([prompts[0], prompts[2]], letters, REPLY_PREFIX)[0] == [first[0], first[2]]

    with pytest.raises(ValueError, match="rotating the options is a letter-bias correction"):
        ScoredChoice("content_free")(solver, question, OPTIONS, None, purpose="test")
    tight = rotating.model_copy(update={"budget": rotating.budget.model_copy(update={"max_llm_calls": 1})})
    with pytest.raises(ValueError, match=r"2 scored call\(s\) a question \(the passage and the closed-book"):
        ScoredChoice("none")(Solver(tmp_path / "no-kb", tight, embedder=embedder, gateway=qwen05), question, OPTIONS,
                             ["Whales are mammals."], purpose="test", with_closed_book=True)
