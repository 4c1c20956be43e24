"""The reader prompt's options (pipeline/answer/generate.py): worked examples as earlier chat turns, and the explicit
comparison of which-of-two and yes/no questions (facts first, the answer constrained to the options)."""


import pytest
from langchain_core.documents import Document
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from pydantic import ValidationError

from kgsolver.pipeline.answer.answer_form import AnswerForm, AnswerFormSettings
from kgsolver.pipeline.answer.generate import (
    EXAMPLES,
    GroundedReply,
    build_messages,
    comparison_options,
    comparison_reply,
    generate_grounded,
    hop_order,
)
from tests.unit.fakes import always, chat_of, fake_session

PASSAGES = [Document("Robert Smith (born 1900) was a painter.", metadata={"title": "Robert Smith"}),
            Document("Jane Doe (born 1950) is a sculptor.", metadata={"title": "Jane Doe"})]
CHOICE = "Who was born first, Bob Smith or Jane Doe?"


def test_few_shot_puts_the_worked_examples_before_the_question():
    plain = build_messages(CHOICE, PASSAGES)
    shot = build_messages(CHOICE, PASSAGES, few_shot=True)
    assert [type(m) for m in plain] == [SystemMessage, HumanMessage]
    assert [type(m) for m in shot] == [SystemMessage] + [HumanMessage, AIMessage] * len(EXAMPLES) + [HumanMessage]
    assert shot[-1].content == plain[-1].content and shot[0].content == plain[0].content
    # strict=False: the last question turn has no answer after it
    for (_, question, _reply), turn, answer in zip(EXAMPLES, shot[1::2], shot[2::2], strict=False):
        assert question in turn.content and "<passage n=1" in turn.content
        GroundedReply.model_validate_json(answer.content)  # the examples reply in the format asked for


def test_comparison_options_are_the_two_named_or_yes_no():
    assert comparison_options(AnswerForm("choice", ("Bob Smith", "Jane Doe"))) == ("Bob Smith", "Jane Doe")
    assert comparison_options(AnswerForm("yes_no")) == ("yes", "no")
    assert comparison_options(AnswerForm("person")) == () and comparison_options(None) == ()


def test_comparison_reply_writes_facts_first_and_allows_only_the_options():
    schema = comparison_reply(("Bob Smith", "Jane Doe"), facts_chars=50)
    assert list(schema.model_json_schema()["properties"])[:2] == ["facts", "answer"]
    assert schema.model_validate({"facts": "1900; 1950", "answer": "Jane Doe"}).answer == "Jane Doe"
    with pytest.raises(ValidationError):
        schema.model_validate({"facts": "x", "answer": "Robert Smith"})
    with pytest.raises(ValidationError):
        schema.model_validate({"facts": "x" * 51, "answer": "Jane Doe"})


def test_compared_answer_is_one_option_resting_on_the_cited_passages():
    # "Bob Smith" is written nowhere in the passages: as a free span it is ungrounded, as one of the two options the
    # question names it is a judgement over the passages the model cited.
    session = fake_session(always({"facts": "Robert Smith 1900, Jane Doe 1950", "answer": "Bob Smith",
                                   "passages": [1, 2]}))
    # (compare_values off: the values would decide this question before the model's own pick;
    # tests/unit/test_compare.py)
    answer = generate_grounded(session, CHOICE, PASSAGES, AnswerFormSettings(compare=True, compare_values=False))
    assert (answer.answer, answer.cited) == ("Bob Smith", [0, 1])
    call = chat_of(session).calls[0]
    assert call.schema is not None and call.schema["properties"]["answer"]["enum"] == ["Bob Smith", "Jane Doe"]
    assert '"Bob Smith" or "Jane Doe"' in call.messages[-1].content and (call.max_tokens or 0) > 96
    free = generate_grounded(fake_session(always({"answer": "Bob Smith", "passages": [1]})), CHOICE, PASSAGES,
                             AnswerFormSettings(compare_values=False))
    assert free.answer is None  # the setting off: the old grounding rule


def test_compare_leaves_other_questions_as_they_were():
    session = fake_session(always({"answer": "painter", "passages": [1]}))
    answer = generate_grounded(session, "What was Robert Smith's job?", PASSAGES, AnswerFormSettings(compare=True))
    call = chat_of(session).calls[0]
    assert answer.answer == "painter" and call.schema == GroundedReply.model_json_schema()
    assert call.max_tokens == 96


def _titled(*titles: str) -> list[Document]:
    return [Document(f"About {t}.", metadata={"title": t}) for t in titles]


def test_hop_order_puts_the_passages_the_question_names_first():
    documents = _titled("Chicago (play)", "Ginger Rogers", "Roxie Hart (film)", "George Montgomery")
    ordered = hop_order("Roxie Hart starred the entertainer who had what nickname?", documents)
    assert [d.metadata["title"] for d in ordered] == ["Roxie Hart (film)", "Chicago (play)", "Ginger Rogers",
                                                     "George Montgomery"]
    ordered = hop_order("Which opened first, the Aldmoor Viaduct or Corvin Bridge?",
                        _titled("Bridges of Varo", "Corvin Bridge", "Aldmoor Viaduct, Kelby", "Kelby"))
    assert [d.metadata["title"] for d in ordered] == ["Corvin Bridge", "Aldmoor Viaduct, Kelby", "Bridges of Varo",
                                                     "Kelby"]


def test_hop_order_needs_the_whole_name_with_its_capitals():
    documents = _titled("Time (magazine)", "It (novel)", "Rushmore", "Rush (band)")
    question = "What time did it take the band Rush to record Counterparts?"
    assert [d.metadata["title"] for d in hop_order(question, documents)] == ["Rush (band)", "Time (magazine)",
                                                                             "It (novel)", "Rushmore"]
    assert hop_order("", documents) == documents and hop_order("Rush", []) == []
