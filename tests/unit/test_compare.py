"""Which-of-two comparisons decided in code (pipeline/answer/compare.py): the comparative read from the question, each
option's value parsed, the winner picked; and the answer step using it only where the values decide."""

import json

import pytest
from langchain_core.documents import Document
from langchain_core.messages import BaseMessage

from kgsolver.connectors.llms.gateway import LLMSession
from kgsolver.pipeline.answer.answer_form import AnswerForm, AnswerFormSettings, detect_form
from kgsolver.pipeline.answer.compare import (
    Comparison,
    agree,
    comparison_calls,
    detect_comparison,
    parse_value,
    sameness,
    winner,
)
from kgsolver.pipeline.answer.generate import generate_grounded
from tests.unit.fakes import chat_of, fake_session, purposes

PASSAGES = [Document("Robert Smith (born 4 May 1900) was a painter.", metadata={"title": "Robert Smith"}),
            Document("Jane Doe (born 1950) is a sculptor.", metadata={"title": "Jane Doe"})]


def compared(question: str) -> Comparison | None:
    return detect_comparison(question, detect_form(question))


@pytest.mark.parametrize(("question", "kind", "wins"), [
    ("Who was born earlier, Simone Bolelli or Caroline Wozniacki?", "date", "min"),
    ("Which film came out first, All the Marbles or What Ever Happened to Baby Jane?", "date", "min"),
    ("Which person went into space at a later date, Sigmund Jähn or Christer Fuglesang?", "date", "max"),
    ("Which film director is younger, Robert Z. Leonard or Sinclair Hill?", "date", "max"),
    ("Which mountain is taller, Gasherbrum II or Langtang Ri?", "number", "max"),
    ("Which genus contains more species, Crowea or Dracula?", "number", "max"),
    ("Which lake is smaller, Lake Tana or Lake Kivu?", "number", "min"),
    ("Which board game was published most recently, Pirate's Cove or Catan?", "date", "max"),  # date word wins
])
def test_the_comparative_says_what_is_compared_and_which_end_wins(question, kind, wins):
    comparison = compared(question)
    assert comparison is not None and (comparison.kind, comparison.wins) == (kind, wins)
    assert comparison.options == detect_form(question).options


def test_no_comparison_without_a_comparative_or_two_options():
    assert compared("Which is a comedy film, The Million Dollar Duck or Don Quixote?") is None
    assert compared("Is Muskegon County Airport or John Wayne Airport further west?") is None
    assert compared("Who was born first?") is None  # no two options
    # a lifespan or a duration is two dates apart, not one value a passage states
    assert compared("Which playwright lived a longer life, Edward Albee or J. M. Barrie?") is None
    assert compared("Which satellite was operational for longer, EXOSAT or Hipparcos?") is None
    assert detect_comparison("Who was born first, A or B?", AnswerForm("other")) is None


def test_a_comparative_inside_an_option_name_is_not_the_question_s():
    # "First" belongs to the band's name; the question compares nothing it can read
    assert compared("Which band is from Sweden, First Aid Kit or Muse?") is None


@pytest.mark.parametrize(("text", "expected"), [
    ("8 October 1985", (1985, 10, 8)), ("October 8, 1985", (1985, 10, 8)), ("born in March 1990 in Rome", (1990, 3, 1)),
    ("2012-05-03", (2012, 5, 3)), ("1985", (1985, 1, 1)), ("Sept. 2, 1945", (1945, 9, 2)),
])
def test_dates_parse_to_day_numbers(text, expected):
    from datetime import date
    assert parse_value(text, "date") == date(*expected).toordinal()


def test_dates_order_within_a_year_and_numbers_parse_with_their_scale():
    assert parse_value("8 October 1985", "date") > parse_value("1 March 1985", "date")
    assert parse_value("8,035 m", "number") == 8035
    assert parse_value("3.5 million", "number") == 3_500_000
    assert parse_value("seven members", "number") == 7
    assert parse_value("unknown", "date") is None and parse_value("unknown", "number") is None
    assert parse_value("around 45 AD", "date") is None  # not a year this reads


def test_winner_picks_the_end_the_comparison_names_and_refuses_ties_and_gaps():
    earlier = Comparison(("A", "B"), "date", "min")
    later = Comparison(("A", "B"), "date", "max")
    assert winner(earlier, [1.0, 2.0]) == "A" and winner(later, [1.0, 2.0]) == "B"
    assert winner(earlier, [2.0, 2.0]) is None and winner(earlier, [None, 2.0]) is None


def value_session(values: dict[str, str], grounded: dict) -> LLMSession:
    """Replies to each value prompt with the value given for the option it names; else the grounded reply."""

    def rule(messages: list[BaseMessage]) -> str:
        option = next((o for o in values if f"for {o}," in str(messages[-1].content)), None)
        return json.dumps({"value": values[option]} if option is not None else grounded)

    return fake_session(rule)


def test_the_values_decide_a_compared_question_against_the_model_s_own_pick():
    question = "Who was born first, Robert Smith or Jane Doe?"
    session = value_session({"Robert Smith": "4 May 1900", "Jane Doe": "1950"}, {"answer": "Jane Doe", "passages": [2]})
    answer = generate_grounded(session, question, PASSAGES, AnswerFormSettings(compare_values=True))
    assert answer.answer == "Robert Smith" and purposes(session) == ["comparison value"] * 2
    assert answer.support == [0, 1] and answer.tokens == 30
    assert answer.reason == "compared dates (Robert Smith: 4 May 1900, Jane Doe: 1950); the earlier wins"
    later = generate_grounded(value_session({"Robert Smith": "4 May 1900", "Jane Doe": "1950"}, {}),
                              question.replace("first", "later"), PASSAGES, AnswerFormSettings(compare_values=True))
    assert later.answer == "Jane Doe"


def test_undecided_values_fall_back_to_the_ordinary_answer():
    question = "Who was born first, Robert Smith or Jane Doe?"
    session = value_session({"Robert Smith": "unknown", "Jane Doe": "1950"}, {"answer": "Jane Doe", "passages": [2]})
    answer = generate_grounded(session, question, PASSAGES, AnswerFormSettings(compare_values=True))
    assert answer.answer == "Jane Doe" and purposes(session) == ["comparison value"] * 2 + ["grounded answer"]


def test_off_it_leaves_the_answer_to_the_model_and_on_it_is_counted_in_the_answer_budget():
    question = "Who was born first, Robert Smith or Jane Doe?"
    session = value_session({}, {"answer": "Jane Doe", "passages": [2]})
    off = AnswerFormSettings(compare_values=False)
    assert generate_grounded(session, question, PASSAGES, off).answer == "Jane Doe"
    assert purposes(session) == ["grounded answer"]
    assert comparison_calls(question, off) == 0 and comparison_calls(question, None) == 0
    assert comparison_calls(question, AnswerFormSettings()) == 2  # on by default
    assert comparison_calls("What was Robert Smith's job?", AnswerFormSettings()) == 0


def test_a_value_the_passages_do_not_write_does_not_decide():
    # the 0.5B's "2" for "how many albums" was the passage's number, not a fact
    question = "Which band released more albums, Robert Smith or Jane Doe?"
    session = value_session({"Robert Smith": "2", "Jane Doe": "1950"}, {"answer": "Jane Doe", "passages": [2]})
    answer = generate_grounded(session, question, PASSAGES, AnswerFormSettings(compare_values=True))
    assert purposes(session) == ["comparison value"] * 2 + ["grounded answer"] and answer.answer == "Jane Doe"


def test_each_option_s_value_is_read_from_the_passages_that_name_it():
    question = "Who was born first, Robert Smith or Jane Doe?"
    session = value_session({"Robert Smith": "4 May 1900", "Jane Doe": "1950"}, {})
    generate_grounded(session, question, PASSAGES, AnswerFormSettings(compare_values=True))
    prompts = [str(call.messages[-1].content) for call in chat_of(session).calls]
    assert "born 4 May 1900" in prompts[0] and "Jane Doe (born" not in prompts[0]
    assert "Jane Doe (born 1950)" in prompts[1] and "Robert Smith (born" not in prompts[1]


COUNTRIES = [Document("The Commodore 16 is a home computer made by Commodore in the United States.",
                      metadata={"title": "Commodore 16"}),
             Document("The Prológica CP-400 is a home computer made by Prológica in Brazil.",
                      metadata={"title": "Prológica CP-400"})]
SAME_COUNTRY = "Were the Commodore 16 and Prológica CP-400 from the same country?"
SAME_ON = AnswerFormSettings(same_values=True)


@pytest.mark.parametrize(("question", "options", "attribute"), [
    (SAME_COUNTRY, ("Commodore 16", "Prológica CP-400"), "country"),
    ("Are Aladdin and Song of the South produced by the same company?", ("Aladdin", "Song of the South"), "company"),
    ("Are the flowering plants Ecballium and Elatostema in the same family?", ("Ecballium", "Elatostema"), "family"),
    ("Are both Microcachrys and Protea endemic to the same continent ?", ("Microcachrys", "Protea"), "continent"),
    ("Are Ferocactus and Silene the same type of plant?", ("Ferocactus", "Silene"), "type of plant"),
])
def test_a_yes_no_question_about_the_same_attribute_names_both_sides_and_the_attribute(question, options, attribute):
    comparison = detect_comparison(question, detect_form(question), same=True)
    assert comparison == Comparison(options, "name", "same", attribute)
    assert detect_comparison(question, detect_form(question)) is None  # only when asked for


def test_other_yes_no_questions_are_not_sameness_questions():
    for question in ("Are Joe Walsh and Chester Bennington both guitarists?",  # no shared attribute named
                     "Is the same river in France?",  # no two names
                     "Who was born first, Robert Smith or Jane Doe? The same day?"):  # not a yes/no question
        found = detect_comparison(question, detect_form(question), same=True)
        assert found is None or found.kind != "name", question


def test_two_values_agree_when_most_of_the_shorter_one_s_words_are_the_other_s():
    assert agree("Walt Disney Pictures", "Walt Disney Productions") and agree("Australia", "Tasmania, Australia")
    assert agree("American", "american") and not agree("United States", "United Kingdom")
    assert not agree("Cucurbitaceae", "Urticaceae") and not agree("", "")
    assert sameness(["Brazil", "Brazil"]) == "yes" and sameness(["Brazil", "Chile"]) == "no"
    assert sameness([None, "Brazil"]) is None


def test_the_values_read_answer_a_sameness_question_against_the_model_s_yes():
    session = value_session({"Commodore 16": "United States", "Prológica CP-400": "Brazil"},
                           {"answer": "yes", "passages": [1, 2]})
    answer = generate_grounded(session, SAME_COUNTRY, COUNTRIES, SAME_ON)
    assert answer.answer == "no" and purposes(session) == ["comparison value"] * 2 and answer.support == [0, 1]
    assert answer.reason == ("compared the country (Commodore 16: United States, Prológica CP-400: Brazil); "
                             "not the same")
    both = [COUNTRIES[0], Document("The Prológica CP-400 was made in the United States.",
                                   metadata={"title": "Prológica CP-400"})]
    same = value_session({"Commodore 16": "United States", "Prológica CP-400": "the United States"}, {})
    assert generate_grounded(same, SAME_COUNTRY, both, SAME_ON).answer == "yes"
    assert comparison_calls(SAME_COUNTRY, SAME_ON) == 2 and comparison_calls(SAME_COUNTRY, AnswerFormSettings()) == 2
    assert comparison_calls(SAME_COUNTRY, AnswerFormSettings(same_values=False)) == 0


def test_a_name_the_passages_do_not_write_leaves_the_ordinary_answer():
    session = value_session({"Commodore 16": "United States", "Prológica CP-400": "Argentina"},
                           {"answer": "yes", "passages": [1, 2]})
    answer = generate_grounded(session, SAME_COUNTRY, COUNTRIES, SAME_ON)
    assert answer.answer == "yes" and purposes(session) == ["comparison value"] * 2 + ["grounded answer"]
