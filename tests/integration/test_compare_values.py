"""Which-of-two comparisons decided from the values the real Qwen 0.5B reads for each option
(pipeline/answer/compare.py, `answer_form.compare_values`): the direction the question names picks the option, the
values are read in two calls of their own, and a question whose values the passages do not give falls back to the
ordinary answer."""

import pytest
from langchain_core.documents import Document

from kgsolver.pipeline.answer.answer_form import AnswerFormSettings
from kgsolver.pipeline.answer.generate import generate_grounded

# Invented films, so the model's own knowledge cannot answer; a distractor passage between them.
PASSAGES = [
    Document("The Glass Orchard is a drama film directed by Ilse Varga. It was released on 12 March 1974 and was shot "
             "in Szeged.", metadata={"title": "The Glass Orchard"}),
    Document("Kelby is a fishing town on the Baltic coast with a stone railway viaduct.", metadata={"title": "Kelby"}),
    Document("Northern Lanterns is a comedy film by Teodor Malec, first shown in cinemas in 1958.",
             metadata={"title": "Northern Lanterns"}),
]


def ask(gateway, question: str, compare_values: bool = True, same_values: bool = False):
    session = gateway.session()
    settings = AnswerFormSettings(compare_values=compare_values, same_values=same_values)
    answer = generate_grounded(session, question, PASSAGES, settings)
    return answer, session.usage.llm_calls


@pytest.mark.llm
def test_the_values_read_for_each_option_decide_both_directions(qwen05):
    first, calls = ask(qwen05, "Which film came out first, The Glass Orchard or Northern Lanterns?")
    assert (first.answer, calls) == ("Northern Lanterns", 2)  # two value calls, no free-form answer
    later, _ = ask(qwen05, "Which film was released later, The Glass Orchard or Northern Lanterns?")
    assert later.answer == "The Glass Orchard"
    assert {PASSAGES[i].metadata["title"] for i in first.cited} == {"The Glass Orchard", "Northern Lanterns"}


@pytest.mark.llm
def test_a_comparison_the_values_cannot_decide_gets_the_ordinary_answer(qwen05):
    # no passage gives a height: no grounded value, so the ordinary answer (one more call) is all there is
    _, calls = ask(qwen05, "Which film director is taller, Ilse Varga or Teodor Malec?")
    assert calls == 3
    _, plain_calls = ask(qwen05, "Which film came out first, The Glass Orchard or Northern Lanterns?",
                         compare_values=False)
    assert plain_calls == 1


@pytest.mark.llm
def test_the_values_read_for_each_side_answer_a_same_attribute_question(qwen05):
    # two directors: "no", from the two values read, not the model's own yes or no (the leading "The" is not taken
    # into the name, as for the options of a which-of-two question without a comma)
    answer, calls = ask(qwen05, "Were The Glass Orchard and Northern Lanterns directed by the same director?",
                        same_values=True)
    assert (answer.answer, calls) == ("no", 2), answer.reason
    assert answer.reason.startswith(
        "compared the director (Glass Orchard: Ilse Varga, Northern Lanterns: Teodor Malec)")
