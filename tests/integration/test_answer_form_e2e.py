"""The demo's sample questions (the four `make demo` asks) come out in the form their question asks for, with the real
Qwen 0.5B and the answer-form step on: a short span, never a sentence; a year for "in what year"; for "commonly
referred to as ?" the alias, not the full name. Whether they are right is the eval suites' business. Naive mode: the
answer step (pipeline/answer/step.py) is the same for every mode, and naive asks the fewest LLM calls."""

import re

import pytest

from kgsolver.pipeline.answer.answer_form import detect_form
from kgsolver.pipeline.solver import Solver

DEMO_SAMPLES = 4  # `kgsolver demo --questions` default
SHAPES = {"year": r"\d{4}", "yes_no": r"yes|no", "alias": r"\S+(?: \S+){0,2}"}


@pytest.mark.llm
def test_demo_sample_answers_come_out_in_the_asked_form(demo_kb, demo_questions, config, embedder, qwen05):
    settings = config.model_copy(deep=True)
    settings.answer_form.enabled = True
    solver = Solver(demo_kb, settings, embedder=embedder, gateway=qwen05)
    answered = {}
    for sample in demo_questions[:DEMO_SAMPLES]:
        result = solver.ask(sample["question"], mode="naive")
        if not result.abstained:
            answered[sample["question"]] = result.answer
    assert len(answered) >= DEMO_SAMPLES - 1, answered  # an abstention is allowed; a pipeline that never answers is not
    for question, answer in answered.items():
        kind = detect_form(question).kind
        assert len(answer.split()) <= 5 and not re.search(r"[.!?;:]$|^(?:the answer|it|he|she) ", answer, re.I), \
            (kind, answer)
        if kind in SHAPES:
            assert re.fullmatch(SHAPES[kind], answer, re.I), (kind, answer)
