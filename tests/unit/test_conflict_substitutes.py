"""Same-kind substitutes for the conflict suite: definition nouns, voted labels, spans of years (spaCy, no LLM)."""

from __future__ import annotations

import random

import pytest

from kgsolver.evals.scripts.conflict_substitutes import Substitutes, answer_kind, build_kind_index, definition_noun


@pytest.fixture(scope="module")
def nlp():
    from kgsolver.graphs.extract_spacy import load_spacy

    return load_spacy()


def test_definition_noun_is_the_head_of_the_defining_phrase(nlp):
    speedway = nlp("The Indianapolis Motor Speedway is an automobile racing circuit in Indiana.")
    assert definition_noun(speedway) == "circuit"
    assert definition_noun(nlp("Animorphs is a science fantasy series of young adult books.")) == "series"
    assert definition_noun(nlp("In 2008, Wale signed with Interscope Records.")) is None
    assert definition_noun(nlp("Wale is also an American rapper.")) == "rapper"
    assert definition_noun(nlp("The museum is in the city of Nagasaki.")) is None


def test_an_answer_naming_a_page_takes_another_page_of_the_same_definition(nlp):
    pages = {"Wale (rapper)": "Wale is an American rapper from Washington.",
             "Rick Ross": "Rick Ross is an American rapper and record executive.",
             "Carmine Gallone": "Carmine Gallone was an Italian film director.",
             "Meek Mill": "Meek Mill is an American rapper from Philadelphia."}
    index = build_kind_index({"Wale": "The album featured Wale as a guest."}, ["Wale was featured."], pages, nlp)
    assert index.kinds["Wale"] == "def:rapper"
    subs = Substitutes(index)
    picks = {subs.pick("Wale", "The album featured Wale and Meek Mill.", random.Random(s)) for s in range(10)}
    assert picks == {"Rick Ross"}  # a rapper, not the director; not Meek Mill, whom the passages name


def test_a_span_of_years_is_replaced_by_another_span_in_the_answer_wording(nlp):
    assert answer_kind("from 1986 to 2013") == "years" and answer_kind("1865") == "date"
    index = build_kind_index({"from 1986 to 2013": "He managed the club from 1986 to 2013."},
                             ["He managed the club from 1986 to 2013.", "She reigned 1978–2012 in the north."],
                             {}, nlp)
    assert index.kinds["from 1986 to 2013"] == "years"
    pick = Substitutes(index).pick("from 1986 to 2013", "He managed the club from 1986 to 2013.", random.Random(0))
    assert pick == "from 1978 to 2012"


def test_a_common_noun_answer_takes_a_noun_phrase_not_a_superlative(nlp):
    index = build_kind_index({"goalkeeper": "He played as a goalkeeper."},
                             ["The team signed a defender and the largest stadium was built."], {}, nlp)
    assert index.kinds["goalkeeper"] == "other"
    assert "defender" in index.pool["other"] and not any("largest" in x for x in index.pool["other"])


def test_the_noun_a_question_asks_for_outranks_a_broad_entity_label(nlp):
    from kgsolver.evals.scripts.conflict_substitutes import asked_noun

    assert asked_noun(nlp("In what city did the tenor star in a film?")) == "city"
    assert asked_noun(nlp("Which Australian city contains the school?")) == "city"
    assert asked_noun(nlp("In which year was the King born?")) is None
    pages = {"Italy": "Italy is a country in Europe.", "Dover": "Dover is a town and major ferry port in Kent.",
             "Turin": "Turin is a city in northern Italy.", "Lyon": "Lyon is a city in France."}
    question = "In what city did the tenor star in a film?"
    index = build_kind_index({"Rome": "He starred in a film shot in Rome."}, ["The film was shot in Rome, Italy."],
                             pages, nlp, questions=[question])
    subs = Substitutes(index)
    pick, kind = subs.pick_with_kind("Rome", "The film was shot in Rome, Italy. " + question, random.Random(0),
                                     question)
    assert kind == "def:city" and pick in {"Turin", "Lyon"}  # a city, never the country its label (GPE) allows
    # a question whose noun defines no page keeps the answer's own kind
    assert subs.kind("Rome", "Which tribe lived there?") == subs.kind("Rome")
